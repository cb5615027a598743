// The HTTPS client against a tiny Beast TLS server living in this file, on loopback, with a
// throwaway CA from tests/fakeapi/make_certs.sh. Client and server share one io_context that runs
// on a thread of the test.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "net/https_client.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace genq;
using namespace genq::net;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

const std::string& cert_dir() {
    static const std::string dir = [] {
        std::string d = (fs::temp_directory_path() / "genq-net-certs").string();
        auto script = fs::path(GENQ_TESTS_DIR) / "fakeapi" / "make_certs.sh";
        std::string cmd = "bash '" + script.string() + "' '" + d + "'";
        REQUIRE(std::system(cmd.c_str()) == 0);
        return d;
    }();
    return dir;
}

std::string video_bytes() {
    std::string v(300 * 1024, '\0');
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<char>(i * 7 % 251);
    return v;
}

// The stand-in provider. Routes (after the "/api" prefix the client adds):
//   /v1/json       200 application/json       /v1/video   200 video/mp4 (300 KiB)
//   /v1/missing    404 application/json       /v1/slow    never answers
//   /v1/truncated  promises 1000 bytes, sends 10 and closes
struct FakeTls {
    FakeTls(asio::io_context& io, const std::string& address)
        : ctx(ssl::context::tls_server), acceptor(io, {asio::ip::make_address(address), 0}) {
        ctx.use_certificate_chain_file(cert_dir() + "/server.pem");
        ctx.use_private_key_file(cert_dir() + "/server.key", ssl::context::pem);
        asio::co_spawn(io, accept_loop(this), asio::detached);
    }
    int port() const { return acceptor.local_endpoint().port(); }

    static asio::awaitable<void> accept_loop(FakeTls* self) {
        for (;;) {
            auto [ec, sock] = co_await self->acceptor.async_accept(kNoThrow);
            if (ec) co_return;
            asio::co_spawn(self->acceptor.get_executor(), session(self, std::move(sock)),
                           asio::detached);
        }
    }

    static asio::awaitable<void> session(FakeTls* self, tcp::socket sock) {
        beast::ssl_stream<beast::tcp_stream> s(std::move(sock), self->ctx);
        beast::get_lowest_layer(s).expires_after(std::chrono::seconds(5));
        auto [hec] = co_await s.async_handshake(ssl::stream_base::server, kNoThrow);
        if (hec) co_return;  // the client refused our certificate
        ++self->handshakes;
        beast::flat_buffer buf;
        for (;;) {
            http::request<http::string_body> req;
            beast::get_lowest_layer(s).expires_after(std::chrono::seconds(5));
            auto [rec, n] = co_await http::async_read(s, buf, req, kNoThrow);
            if (rec) co_return;
            ++self->requests;
            self->last_target = std::string(req.target());
            self->last_host = std::string(req[http::field::host]);
            bool go_on = co_await answer(self, s, req);
            if (!go_on || self->close_after_response) {
                beast::get_lowest_layer(s).close();
                co_return;
            }
        }
    }

    static asio::awaitable<bool> answer(FakeTls* self, beast::ssl_stream<beast::tcp_stream>& s,
                                        const http::request<http::string_body>& req) {
        std::string target(req.target());
        if (target == "/api/v1/slow") {
            asio::steady_timer t(s.get_executor(), std::chrono::seconds(2));
            co_await t.async_wait(kNoThrow);
            co_return false;
        }
        if (target == "/api/v1/truncated") {
            std::string raw = "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\n"
                              "Content-Length: 1000\r\n\r\n0123456789";
            co_await asio::async_write(s, asio::buffer(raw), kNoThrow);
            co_return false;
        }
        http::response<http::string_body> res{http::status::ok, req.version()};
        if (target == "/api/v1/video") {
            res.set(http::field::content_type, "video/mp4");
            res.body() = video_bytes();
        } else if (target == "/api/v1/json") {
            res.set(http::field::content_type, "application/json; charset=utf-8");
            res.body() = R"({"id":"abc","big":")" + std::string(self->json_padding, 'p') + "\"}";
        } else {
            res.result(http::status::not_found);
            res.set(http::field::content_type, "application/json");
            res.body() = R"({"name":"not_found"})";
        }
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        auto [ec, n] = co_await http::async_write(s, res, kNoThrow);
        co_return !ec;
    }

    ssl::context ctx;
    tcp::acceptor acceptor;
    std::atomic<int> handshakes{0};
    std::atomic<int> requests{0};
    std::string last_target;
    std::string last_host;
    bool close_after_response = false;
    std::size_t json_padding = 0;
};

asio::awaitable<std::optional<Result<HttpResponse>>> send_opt(HttpsClient& c, HttpRequest req,
                                                              std::string file,
                                                              std::function<bool()> before) {
    // co_spawn needs a default-constructible result; Result<T> is not.
    auto r = co_await c.send(std::move(req), std::move(file), std::move(before));
    co_return r;
}

struct ClientFixture {
    explicit ClientFixture(const std::string& address = "127.0.0.1")
        : work(asio::make_work_guard(io)), server(io, address), dir(make_dir()) {
        thread = std::thread([this] { io.run(); });
    }
    ~ClientFixture() {
        asio::post(io, [this] {
            server.acceptor.close();
            if (client) client->cancel_all();
        });
        work.reset();
        thread.join();
        fs::remove_all(dir);
    }
    static std::string make_dir() {
        return genq::test::TempDir::make("genq-net-client");
    }
    ClientOptions options(const std::string& host = "localhost") const {
        ClientOptions o;
        o.base_url = "https://" + host + ":" + std::to_string(server.port()) + "/api/";
        o.ca_file = cert_dir() + "/ca.pem";
        o.timeout = 5;
        return o;
    }
    void make_client(ClientOptions o) {
        auto c = HttpsClient::create(io, std::move(o));
        REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
        client = std::move(c.value());
    }
    Result<HttpResponse> send(const std::string& target, std::string file = {},
                              std::function<bool()> before = {}) {
        HttpRequest req;
        req.target = target;
        auto fut = asio::co_spawn(io, send_opt(*client, req, std::move(file), std::move(before)),
                                  asio::use_future);
        return *fut.get();
    }

    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work;
    FakeTls server;
    std::string dir;
    std::unique_ptr<HttpsClient> client;
    std::thread thread;
};

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

ClientStats stats_of(ClientFixture& f) {
    auto fut = asio::post(f.io, asio::use_future([&] { return f.client->stats(); }));
    return fut.get();
}

}  // namespace

TEST_SUITE("net.client") {

TEST_CASE("keep-alive: two requests, one handshake; JSON stays in memory") {
    ClientFixture f;
    f.make_client(f.options());
    std::string file = f.dir + "/out.bin";
    auto a = f.send("/v1/json", file);
    REQUIRE_MESSAGE(a.ok(), (a.ok() ? "" : a.error().message));
    CHECK(a->status == 200);
    CHECK(a->body.starts_with(R"({"id":"abc")"));
    CHECK(a->body_file.empty());
    CHECK_FALSE(fs::exists(file));
    CHECK(f.server.last_target == "/api/v1/json");
    CHECK(f.server.last_host == "localhost:" + std::to_string(f.server.port()));
    auto b = f.send("/v1/missing", file);  // a 404 is not streamed either
    REQUIRE(b.ok());
    CHECK(b->status == 404);
    CHECK(b->body == R"({"name":"not_found"})");
    auto s = stats_of(f);
    CHECK(s.handshakes == 1);
    CHECK(s.requests == 2);
    CHECK(s.reused == 1);
    CHECK(f.server.handshakes == 1);
}

TEST_CASE("a 2xx non-JSON body is streamed to the file") {
    ClientFixture f;
    f.make_client(f.options());
    std::string file = f.dir + "/video.mp4";
    auto r = f.send("/v1/video", file);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    CHECK(r->status == 200);
    CHECK(r->body.empty());
    CHECK(r->body_file == file);
    CHECK(r->body_bytes == video_bytes().size());
    CHECK(slurp(file) == video_bytes());
    CHECK(r->header("content-type") == "video/mp4");
    CHECK(stats_of(f).bytes_in == video_bytes().size());
    auto again = f.send("/v1/json");  // the connection is still usable after streaming
    REQUIRE(again.ok());
    CHECK(stats_of(f).reused == 1);
}

TEST_CASE("bodies over max_memory_body fail with body_too_large") {
    ClientFixture f;
    f.server.json_padding = 5000;
    auto o = f.options();
    o.max_memory_body = 1000;
    f.make_client(o);
    auto r = f.send("/v1/json");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "body_too_large");
}

TEST_CASE("verification fails without the CA and with a wrong host name") {
    ClientFixture f;
    auto o = f.options();
    o.ca_file.clear();
    f.make_client(o);
    auto r = f.send("/v1/json");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "tls_failed");
    CHECK(r.error().message.find("unable to get local issuer") != std::string::npos);
    CHECK(f.server.requests == 0);

    ClientFixture g("127.0.0.2");  // the certificate names localhost, 127.0.0.1 and ::1 only
    g.make_client(g.options("127.0.0.2"));
    auto w = g.send("/v1/json");
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().code == "tls_failed");
    CHECK(w.error().message.find("IP address mismatch") != std::string::npos);
    CHECK(g.server.requests == 0);

    ClientFixture h;  // the IP literal that is in the certificate verifies
    h.make_client(h.options("127.0.0.1"));
    auto ok = h.send("/v1/json");
    REQUIRE_MESSAGE(ok.ok(), (ok.ok() ? "" : ok.error().message));
}

TEST_CASE("a server that never answers times out") {
    ClientFixture f;
    auto o = f.options();
    o.timeout = 0.3;
    f.make_client(o);
    auto start = std::chrono::steady_clock::now();
    auto r = f.send("/v1/slow");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "timeout");
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
}

TEST_CASE("a body cut short is reported as truncated, in memory and to a file") {
    ClientFixture f;
    f.make_client(f.options());
    auto r = f.send("/v1/truncated", f.dir + "/t.mp4");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "truncated");
    auto m = f.send("/v1/truncated");
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().code == "truncated");
}

TEST_CASE("a kept-alive connection closed by the server is retried transparently") {
    ClientFixture f;
    f.server.close_after_response = true;  // closes without announcing it
    f.make_client(f.options());
    REQUIRE(f.send("/v1/json").ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    int calls = 0;
    auto r = f.send("/v1/json", {}, [&] {
        ++calls;
        return true;
    });
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    CHECK(r->status == 200);
    CHECK(calls == 2);
    CHECK(stats_of(f).handshakes == 2);
    CHECK(f.server.requests == 2);
}

TEST_CASE("before_send returning false ends with rate_limited_local") {
    ClientFixture f;
    f.make_client(f.options());
    auto r = f.send("/v1/json", {}, [] { return false; });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "rate_limited_local");
    CHECK(f.server.requests == 0);
    auto ok = f.send("/v1/json", {}, [] { return true; });  // the connection was kept
    REQUIRE(ok.ok());
    CHECK(stats_of(f).handshakes == 1);
}

TEST_CASE("cancel_all ends requests under way with canceled") {
    ClientFixture f;
    f.make_client(f.options());
    HttpRequest req;
    req.target = "/v1/slow";
    auto fut = asio::co_spawn(f.io, send_opt(*f.client, req, {}, {}), asio::use_future);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    asio::post(f.io, [&] { f.client->cancel_all(); });
    auto r = *fut.get();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "canceled");
}

TEST_CASE("create rejects bad base URLs and unreadable CA files") {
    asio::io_context io;
    ClientOptions o;
    o.base_url = "http://localhost:1";
    auto a = HttpsClient::create(io, o);
    REQUIRE_FALSE(a.ok());
    CHECK(a.error().code == "tls_config");
    o.base_url = "https://localhost:1";
    o.ca_file = "/nonexistent/ca.pem";
    auto b = HttpsClient::create(io, o);
    REQUIRE_FALSE(b.ok());
    CHECK(b.error().code == "tls_config");
    o.ca_file.clear();
    CHECK(HttpsClient::create(io, o).ok());
}

TEST_CASE("connection refused is connect_failed") {
    asio::io_context io;
    int port = 0;
    {
        tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
        port = a.local_endpoint().port();
    }
    ClientOptions o;
    o.base_url = "https://127.0.0.1:" + std::to_string(port);
    auto c = HttpsClient::create(io, o);
    REQUIRE(c.ok());
    auto fut = asio::co_spawn(io, send_opt(*c.value(), HttpRequest{}, {}, {}), asio::use_future);
    io.run();
    auto r = *fut.get();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "connect_failed");
}

}  // TEST_SUITE
