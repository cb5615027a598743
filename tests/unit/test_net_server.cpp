// The control server over a real Unix socket (and TCP on 127.0.0.1), driven by UnixHttpClient
// and raw sockets from the test thread while the server's io_context runs on its own thread.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdlib>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "net/http_server.hpp"
#include "net/unix_client.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace genq;
using namespace genq::net;
using json = nlohmann::json;

namespace {

std::string make_temp_dir() {
    return genq::test::TempDir::make("genq-net");
}

ServerResponse json_response(int status, json body) {
    ServerResponse r;
    r.status = status;
    r.body = body.dump();
    return r;
}

// Routes used by the tests; `dir` holds the files served by /file.
Handler test_handler(const std::string& dir) {
    return sync_handler([dir](const ServerRequest& req) -> ServerResponse {
        if (req.path == "/hello") {
            return json_response(200, {{"path", req.path},
                                       {"name", req.query_param("name")},
                                       {"query", req.query},
                                       {"agent", std::string(req.header("User-Agent"))}});
        }
        if (req.path == "/echo" && req.method == "POST") {
            return json_response(200, {{"body", req.body}, {"tcp", req.via_tcp}});
        }
        if (req.path == "/whoami") {
            return json_response(200, {{"uid", req.peer_uid ? static_cast<long>(*req.peer_uid)
                                                            : -1L}});
        }
        if (req.path == "/file" || req.path == "/missing-file") {
            ServerResponse r;
            r.content_type = "video/mp4";
            r.file_path = dir + (req.path == "/file" ? "/data.bin" : "/nope.bin");
            return r;
        }
        if (req.path == "/events") {
            ServerResponse r;
            r.event_stream = true;
            return r;
        }
        if (req.path == "/throw") {
            throw std::runtime_error("boom");
        }
        return json_response(404, {{"error", "no route"}, {"code", "not_found"}});
    });
}

// A server on its own io thread. Calls into the server go through on_io().
struct ServerFixture {
    explicit ServerFixture(ServerOptions options = {}) : dir(make_temp_dir()) {
        sock = dir + "/run/sub/genq.sock";  // parents are created by listen_unix
        std::ofstream(dir + "/data.bin", std::ios::binary) << "0123456789abcdefghij";
        server = ControlServer::create(io, options, test_handler(dir));
        auto status = server->listen_unix(sock, 0660, "");
        REQUIRE_MESSAGE(status.ok(), (status.ok() ? "" : status.error().message));
        thread = std::thread([this] { io.run(); });
    }
    ~ServerFixture() {
        on_io([this] { server->stop(); });
        thread.join();  // returns only if stop() really ended every connection and acceptor
        server.reset();
        fs::remove_all(dir);
    }
    template <class F>
    auto on_io(F f) -> decltype(f()) {
        std::packaged_task<decltype(f())()> task(std::move(f));
        auto fut = task.get_future();
        boost::asio::post(io, [&task] { task(); });
        return fut.get();
    }

    boost::asio::io_context io;
    std::string dir;
    std::string sock;
    std::unique_ptr<ControlServer> server;
    std::thread thread;
};

HttpRequest get(std::string target, Headers headers = {}) {
    HttpRequest r;
    r.target = std::move(target);
    r.headers = std::move(headers);
    return r;
}

// Sends raw bytes over a fresh connection and returns everything read until EOF or the timeout.
std::string raw_exchange(int fd, const std::string& bytes, double timeout = 3) {
    auto usec = static_cast<long>(timeout * 1e6);
    timeval tv{static_cast<time_t>(usec / 1000000), static_cast<suseconds_t>(usec % 1000000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (!bytes.empty()) {
        REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(bytes.size()));
    }
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

int connect_unix(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
}

int connect_tcp(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
}

std::string range_body(UnixHttpClient& c, const std::string& range, int expected_status) {
    auto r = c.request(get("/file", {{"range", range}}));
    REQUIRE(r.ok());
    CHECK(r->status == expected_status);
    return r->body;
}

}  // namespace

TEST_SUITE("net.server") {

TEST_CASE("routes, query decoding and keep-alive over the Unix socket") {
    ServerFixture f;
    UnixHttpClient client(f.sock, 5);
    auto r = client.request(get("/hel%6co?name=a%20b+c&x=1"));
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK(r->header("Content-Type") == "application/json");
    auto body = json::parse(r->body);
    CHECK(body["path"] == "/hello");
    CHECK(body["name"] == "a b c");
    CHECK(body["query"] == "name=a%20b+c&x=1");
    CHECK(std::string(body["agent"]).starts_with("genq/"));

    HttpRequest post;
    post.method = "POST";
    post.target = "/echo";
    post.body = "payload";
    auto e = client.request(post);
    REQUIRE(e.ok());
    CHECK(json::parse(e->body)["body"] == "payload");
    CHECK(json::parse(e->body)["tcp"] == false);
    CHECK(f.on_io([&] { return f.server->connections(); }) == 1);  // one kept-alive connection
}

TEST_CASE("unknown route gets the handler's 404 and a throwing handler a 500") {
    ServerFixture f;
    UnixHttpClient client(f.sock, 5);
    auto r = client.request(get("/nothing/here"));
    REQUIRE(r.ok());
    CHECK(r->status == 404);
    CHECK(json::parse(r->body)["code"] == "not_found");

    auto t = client.request(get("/throw"));
    REQUIRE(t.ok());
    CHECK(t->status == 500);
    CHECK(json::parse(t->body)["code"] == "internal");
    auto again = client.request(get("/hello"));  // connection and server are still up
    REQUIRE(again.ok());
    CHECK(again->status == 200);
}

TEST_CASE("request body over the limit gets 413") {
    ServerOptions o;
    o.max_body_bytes = 1000;
    ServerFixture f(o);
    UnixHttpClient client(f.sock, 5);
    HttpRequest post;
    post.method = "POST";
    post.target = "/echo";
    post.body = std::string(5000, 'x');
    auto r = client.request(post);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    CHECK(r->status == 413);
    auto body = json::parse(r->body);
    CHECK(body["code"] == "payload_too_large");
    CHECK(body["error"] == "request body too large (limit 1000 bytes)");

    // Chunked: the limit trips in the middle of the body.
    std::string chunked = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "800\r\n" + std::string(0x800, 'y') + "\r\n0\r\n\r\n";
    auto raw = raw_exchange(connect_unix(f.sock), chunked);
    CHECK(raw.starts_with("HTTP/1.1 413"));

    post.body = "small";  // a new connection still works
    auto ok = client.request(post);
    REQUIRE(ok.ok());
    CHECK(ok->status == 200);
}

TEST_CASE("malformed request gets 400 and the connection is closed") {
    ServerFixture f;
    auto raw = raw_exchange(connect_unix(f.sock), "NOT HTTP AT ALL\r\n\r\n");
    CHECK(raw.starts_with("HTTP/1.1 400"));
    CHECK(raw.find("bad_request") != std::string::npos);
    auto nul = raw_exchange(connect_unix(f.sock), "GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(nul.starts_with("HTTP/1.1 400"));
}

TEST_CASE("an adopted listening socket (socket activation) is served") {
    std::string dir = make_temp_dir();
    std::string path = dir + "/activated.sock";
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 16) == 0);
    boost::asio::io_context io;
    auto server = ControlServer::create(io, {}, test_handler(dir));
    REQUIRE(server->adopt_unix(fd).ok());
    std::thread t([&] { io.run(); });
    UnixHttpClient client(path, 5);
    auto r = client.request(get("/whoami"));
    boost::asio::post(io, [&] { server->stop(); });
    t.join();
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    fs::remove_all(dir);
}

TEST_CASE("a request header that does not arrive in time closes the connection") {
    ServerOptions o;
    o.header_timeout = 0.3;
    ServerFixture f(o);
    auto start = std::chrono::steady_clock::now();
    auto raw = raw_exchange(connect_unix(f.sock), "GET /hello HTTP/1.1\r\nHost: x\r\n", 5);
    auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(raw.empty());
    CHECK(elapsed >= std::chrono::milliseconds(250));
    CHECK(elapsed < std::chrono::seconds(3));
}

TEST_CASE("idle keep-alive connections are closed and the client reconnects") {
    ServerOptions o;
    o.idle_timeout = 0.2;
    ServerFixture f(o);
    UnixHttpClient client(f.sock, 5);
    REQUIRE(client.request(get("/hello")).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(f.on_io([&] { return f.server->connections(); }) == 0);
    auto r = client.request(get("/hello"));  // the kept connection is dead: one reconnect
    REQUIRE(r.ok());
    CHECK(r->status == 200);
}

TEST_CASE("files are served with single ranges, 206 and 416") {
    ServerFixture f;
    UnixHttpClient client(f.sock, 5);
    auto full = client.request(get("/file"));
    REQUIRE(full.ok());
    CHECK(full->status == 200);
    CHECK(full->body == "0123456789abcdefghij");
    CHECK(full->header("accept-ranges") == "bytes");
    CHECK(full->header("content-type") == "video/mp4");
    CHECK(full->header("content-length") == "20");

    auto part = client.request(get("/file", {{"range", "bytes=2-5"}}));
    REQUIRE(part.ok());
    CHECK(part->status == 206);
    CHECK(part->body == "2345");
    CHECK(part->header("content-range") == "bytes 2-5/20");
    CHECK(range_body(client, "bytes=15-", 206) == "fghij");
    CHECK(range_body(client, "bytes=-3", 206) == "hij");
    CHECK(range_body(client, "bytes=18-100", 206) == "ij");
    CHECK(range_body(client, "bytes=0-1,4-5", 200) == "0123456789abcdefghij");
    CHECK(range_body(client, "bytes=9-2", 200) == "0123456789abcdefghij");

    auto bad = client.request(get("/file", {{"range", "bytes=20-"}}));
    REQUIRE(bad.ok());
    CHECK(bad->status == 416);
    CHECK(bad->header("content-range") == "bytes */20");

    auto missing = client.request(get("/missing-file"));
    REQUIRE(missing.ok());
    CHECK(missing->status == 404);
    CHECK(json::parse(missing->body)["code"] == "not_found");
}

TEST_CASE("published events reach stream_events subscribers") {
    ServerOptions o;
    o.sse_ping_interval = 0.05;  // pings interleave with events and must be skipped
    ServerFixture f(o);
    std::vector<std::pair<std::string, std::string>> got;
    std::atomic<bool> done{false};
    std::thread reader([&] {
        UnixHttpClient client(f.sock, 5);
        auto st = client.stream_events("/events", [&](const std::string& e, const std::string& d) {
            got.emplace_back(e, d);
            return got.size() < 2;
        });
        CHECK(st.ok());
        done = true;
    });
    // The subscriber may not be connected yet: publish until it has seen the events.
    for (int i = 0; i < 200 && !done; ++i) {
        f.on_io([&] {
            f.server->publish("job", "{\"id\":1}\nsecond line");
            return 0;
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    reader.join();
    REQUIRE(got.size() == 2);
    CHECK(got[0].first == "job");
    CHECK(got[0].second == "{\"id\":1}\nsecond line");
}

TEST_CASE("a slow event subscriber is dropped instead of queueing without bound") {
    ServerOptions o;
    o.sse_queue_limit = 3;
    ServerFixture f(o);
    int fd = connect_unix(f.sock);
    std::string req = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
    REQUIRE(::send(fd, req.data(), req.size(), MSG_NOSIGNAL) > 0);
    for (int i = 0; i < 100 && f.on_io([&] { return f.server->connections(); }) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // Publishing a burst in one go (no chance for the writer to run) overflows the queue.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    f.on_io([&] {
        for (int i = 0; i < 10; ++i) f.server->publish("e", "x");
        return 0;
    });
    auto raw = raw_exchange(fd, "", 3);  // the server closed the stream
    CHECK(raw.starts_with("HTTP/1.1 200"));
    CHECK(raw.find("text/event-stream") != std::string::npos);
}

TEST_CASE("the peer's uid is taken from SO_PEERCRED") {
    ServerFixture f;
    UnixHttpClient client(f.sock, 5);
    auto r = client.request(get("/whoami"));
    REQUIRE(r.ok());
    CHECK(json::parse(r->body)["uid"] == static_cast<long>(::getuid()));
}

TEST_CASE("a stale socket file is replaced, a live one is refused") {
    std::string dir = make_temp_dir();
    std::string path = dir + "/genq.sock";
    {  // a socket file nobody listens on any more
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        ::close(fd);
    }
    boost::asio::io_context io;
    auto first = ControlServer::create(io, {}, test_handler(dir));
    auto s1 = first->listen_unix(path, 0600, "");
    REQUIRE_MESSAGE(s1.ok(), (s1.ok() ? "" : s1.error().message));
    CHECK((fs::status(path).permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write));

    auto second = ControlServer::create(io, {}, test_handler(dir));
    auto s2 = second->listen_unix(path, 0600, "");
    REQUIRE_FALSE(s2.ok());
    CHECK(s2.error().code == "socket_in_use");
    CHECK(s2.error().message == "another genqd is serving on " + path);

    auto third = ControlServer::create(io, {}, test_handler(dir));
    auto s3 = third->listen_unix(dir + "/other.sock", 0600, "no-such-group-genq");
    REQUIRE_FALSE(s3.ok());
    CHECK(s3.error().code == "socket_group");

    first->stop();
    io.run();
    fs::remove_all(dir);
}

TEST_CASE("TCP listener requires the bearer token when one is configured") {
    ServerOptions o;
    o.tcp_token = "s3cret";
    ServerFixture f(o);
    auto st = f.on_io([&] { return f.server->listen_tcp("127.0.0.1:0"); });
    REQUIRE(st.ok());
    int port = f.on_io([&] { return f.server->tcp_port(); });
    REQUIRE(port > 0);

    std::string body = "{}";
    auto post = [&](const std::string& auth) {
        return "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + auth +
               "Content-Length: 2\r\n\r\n" + body;
    };
    auto none = raw_exchange(connect_tcp(port), post(""));
    CHECK(none.starts_with("HTTP/1.1 401"));
    CHECK(none.find("missing or wrong bearer token") != std::string::npos);
    auto wrong = raw_exchange(connect_tcp(port), post("Authorization: Bearer s3creT\r\n"));
    CHECK(wrong.starts_with("HTTP/1.1 401"));
    auto right = raw_exchange(connect_tcp(port), post("Authorization: Bearer s3cret\r\n"));
    CHECK(right.starts_with("HTTP/1.1 200"));
    CHECK(right.find("\"tcp\":true") != std::string::npos);

    // The Unix socket needs no token.
    UnixHttpClient client(f.sock, 5);
    auto r = client.request(get("/hello"));
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK_FALSE(f.on_io([&] { return f.server->listen_tcp("localhost:80"); }).ok());
}

TEST_CASE("connections beyond max_connections are refused with 503") {
    ServerOptions o;
    o.max_connections = 1;
    ServerFixture f(o);
    UnixHttpClient first(f.sock, 5);
    REQUIRE(first.request(get("/hello")).ok());  // holds the only slot (kept alive)
    auto raw = raw_exchange(connect_unix(f.sock), "");
    CHECK(raw.starts_with("HTTP/1.1 503"));
}

TEST_CASE("an unreachable socket is reported as such") {
    UnixHttpClient client("/nonexistent/dir/genq.sock", 1);
    auto r = client.request(get("/hello"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "unreachable");
}

}  // TEST_SUITE
