// The control server: one coroutine per connection on the daemon's single io_context thread, so
// no locking anywhere. The same session code serves Unix and TCP connections (templated on the
// protocol); only peer credentials and bearer-token checks differ.
#include "net/http_server.hpp"

#include "core/listen_address.hpp"
#include "core/unavailable.hpp"
#include "net/http_text.hpp"
#include "net/unix_socket_file.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <deque>
#include <nlohmann/json.hpp>
#include <set>
#include <spdlog/spdlog.h>

namespace genq::net {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using UnixProto = asio::local::stream_protocol;
using TcpProto = asio::ip::tcp;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

using namespace detail;

std::chrono::steady_clock::duration seconds(double s) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(s));
}

ServerResponse json_error(int status, const std::string& message, const std::string& code) {
    ServerResponse r;
    r.status = status;
    r.body = error_body(code, message);
    return r;
}

// A file body that serves [offset, offset + length): beast::http::file_body in 1.81 always sends
// the whole file.
struct RangeFileBody {
    struct value_type {
        beast::file file;
        std::uint64_t offset = 0;
        std::uint64_t length = 0;
    };
    static std::uint64_t size(const value_type& v) { return v.length; }

    class writer {
    public:
        using const_buffers_type = asio::const_buffer;
        template <bool isRequest, class Fields>
        writer(http::header<isRequest, Fields>&, value_type& body)
            : body_(body), remain_(body.length) {}
        void init(error_code& ec) { body_.file.seek(body_.offset, ec); }
        boost::optional<std::pair<const_buffers_type, bool>> get(error_code& ec) {
            auto amount = static_cast<std::size_t>(std::min<std::uint64_t>(remain_, buf_.size()));
            if (amount == 0) {
                ec = {};
                return boost::none;
            }
            auto n = body_.file.read(buf_.data(), amount, ec);
            if (ec) return boost::none;
            if (n == 0) {  // the file shrank under us: end the connection, never pad
                ec = asio::error::eof;
                return boost::none;
            }
            remain_ -= n;
            return {{asio::const_buffer(buf_.data(), n), remain_ > 0}};
        }

    private:
        value_type& body_;
        std::uint64_t remain_;
        std::array<char, 64 * 1024> buf_{};
    };
};

// ---- Sessions ------------------------------------------------------------------------------

struct SessionBase {
    explicit SessionBase(const asio::any_io_executor& ex) : wake(ex) {}
    virtual ~SessionBase() = default;
    virtual void close() = 0;

    bool subscriber = false;          // an event stream is open on this connection
    bool closed = false;
    std::deque<std::string> events;   // SSE frames waiting to be written
    asio::steady_timer wake;          // canceled by publish to wake the writer
};

template <class Proto>
struct Session final : SessionBase {
    explicit Session(typename Proto::socket sock)
        : SessionBase(sock.get_executor()), stream(std::move(sock)) {}
    void close() override {
        closed = true;
        wake.cancel();
        stream.close();
    }
    beast::basic_stream<Proto> stream;
};

struct State {
    State(asio::io_context& io, ServerOptions o, Handler h)
        : io(io), opt(std::move(o)), handler(std::move(h)) {}
    asio::io_context& io;
    ServerOptions opt;
    Handler handler;
    std::vector<std::shared_ptr<UnixProto::acceptor>> unix_acceptors;
    std::vector<std::shared_ptr<TcpProto::acceptor>> tcp_acceptors;
    std::vector<std::string> owned_paths;  // socket files we created, removed at stop()
    std::set<std::shared_ptr<SessionBase>> sessions;
    bool stopped = false;
    // SSE ids are "<epoch>-<n>": n counts this process's events, the epoch (its start) tells a
    // reconnecting client's Last-Event-ID from before a restart, which nothing can replay.
    std::string event_epoch = std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count());
    std::uint64_t event_seq = 0;
    std::deque<std::pair<std::uint64_t, std::string>> recent_events;  // for Last-Event-ID
    static constexpr std::size_t kRecentEvents = 4096;
};

using Request = http::request<http::string_body>;

template <class Proto>
ServerRequest make_request(const Request& msg, Session<Proto>& s) {
    ServerRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    std::string_view target = msg.target();
    auto q = target.find('?');
    req.path = percent_decode(target.substr(0, q), false);
    if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
    for (const auto& f : msg) {
        req.headers.emplace_back(lower(f.name_string()), std::string(f.value()));
    }
    req.body = msg.body();
    if constexpr (std::is_same_v<Proto, UnixProto>) {
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(s.stream.socket().native_handle(), SOL_SOCKET, SO_PEERCRED, &cred,
                         &len) == 0) {
            req.peer_uid = cred.uid;
        }
    } else {
        req.via_tcp = true;
    }
    return req;
}

// The handler's answer; a handler that throws gets a 500 (and a log line), never a dead loop.
asio::awaitable<ServerResponse> call_handler(State& st, const ServerRequest& req) {
    if (st.stopped) co_return json_error(503, "server is shutting down", "unavailable");
    std::string failure;
    try {
        ServerResponse res = co_await st.handler(req);
        co_return res;
    } catch (const Unavailable&) {
        failure = "unavailable";
    } catch (const std::exception& e) {
        failure = e.what();
    } catch (...) {
        failure = "a non-exception";
    }
    if (failure == "unavailable")
        co_return json_error(503, "the shared store cannot be reached; try again shortly",
                             "unavailable");
    spdlog::warn("control: handler for {} {} threw: {}", req.method, req.path, failure);
    co_return json_error(500, "internal error", "internal");
}

asio::awaitable<ServerResponse> run_sync(
    std::shared_ptr<const std::function<ServerResponse(const ServerRequest&)>> f,
    const ServerRequest& req) {
    co_return (*f)(req);
}

// Closes without losing the answer: unread request bytes at close() would make the kernel send
// a reset that can discard the response we just wrote, so the rest is read and dropped first.
template <class Proto>
asio::awaitable<void> linger_close(Session<Proto>& s) {
    error_code ec;
    s.stream.socket().shutdown(Proto::socket::shutdown_send, ec);
    s.stream.expires_after(std::chrono::seconds(2));
    std::array<char, 16 * 1024> sink{};
    std::size_t total = 0;
    while (!ec && total < 64 * 1024 * 1024) {
        auto [rec, n] = co_await s.stream.async_read_some(asio::buffer(sink), kNoThrow);
        ec = rec;
        total += n;
    }
    s.close();
}

template <class Proto, class Body>
asio::awaitable<bool> write_message(State& st, Session<Proto>& s,
                                    http::response<Body>& msg) {
    // Large files go out in pieces so the deadline limits stalls, not the total transfer time.
    http::response_serializer<Body> sr(msg);
    while (!sr.is_done()) {
        s.stream.expires_after(seconds(st.opt.body_timeout));
        auto [ec, n] = co_await http::async_write_some(s.stream, sr, kNoThrow);
        if (ec) {
            spdlog::debug("control: write failed: {}", ec.message());
            co_return false;
        }
    }
    co_return true;
}

// The header of an answer to HEAD: what GET would send, with the length of the body that GET
// would carry, and no body (a client reading one would take it for the next response).
template <class Proto, class Body>
asio::awaitable<bool> write_head_only(State& st, Session<Proto>& s, http::response<Body>& full,
                                      std::uint64_t length) {
    http::response<http::empty_body> msg{full.result(), full.version()};
    for (const auto& f : full) msg.insert(f.name_string(), f.value());
    msg.content_length(length);
    bool ok = co_await write_message(st, s, msg);
    co_return ok;
}

template <class Proto>
asio::awaitable<bool> write_plain(State& st, Session<Proto>& s, const ServerResponse& res,
                                  unsigned version, bool keep_alive, bool head = false) {
    http::response<http::string_body> msg{static_cast<http::status>(res.status), version};
    if (!res.content_type.empty()) msg.set(http::field::content_type, res.content_type);
    for (const auto& [name, value] : res.headers) msg.insert(name, value);
    msg.body() = res.body;
    msg.keep_alive(keep_alive);
    msg.prepare_payload();
    if (head) {
        bool sent = co_await write_head_only(st, s, msg, res.body.size());
        co_return sent;
    }
    bool ok = co_await write_message(st, s, msg);
    co_return ok;
}

template <class Proto>
asio::awaitable<bool> write_file(State& st, Session<Proto>& s, const ServerRequest& req,
                                 const ServerResponse& res, unsigned version, bool keep_alive) {
    RangeFileBody::value_type body;
    error_code ec;
    body.file.open(res.file_path.c_str(), beast::file_mode::scan, ec);
    std::uint64_t size = ec ? 0 : body.file.size(ec);
    if (ec) {
        bool ok = co_await write_plain(st, s, json_error(404, "file not found", "not_found"),
                                       version, keep_alive, req.method == "HEAD");
        co_return ok;
    }
    ByteRange range = parse_range(req.header("range"), size);
    if (range.kind == ByteRange::unsatisfiable) {
        auto err = json_error(416, "range not satisfiable", "range_not_satisfiable");
        err.headers.emplace_back("content-range", "bytes */" + std::to_string(size));
        bool ok = co_await write_plain(st, s, err, version, keep_alive, req.method == "HEAD");
        co_return ok;
    }
    http::response<RangeFileBody> msg{static_cast<http::status>(res.status), version};
    if (range.kind == ByteRange::partial) {
        msg.result(http::status::partial_content);
        msg.set(http::field::content_range, "bytes " + std::to_string(range.first) + "-" +
                                                std::to_string(range.last) + "/" +
                                                std::to_string(size));
        body.offset = range.first;
        body.length = range.last - range.first + 1;
    } else {
        body.length = size;
    }
    if (!res.content_type.empty()) msg.set(http::field::content_type, res.content_type);
    for (const auto& [name, value] : res.headers) msg.insert(name, value);
    msg.set(http::field::accept_ranges, "bytes");
    std::uint64_t length = body.length;
    msg.body() = std::move(body);
    msg.keep_alive(keep_alive);
    msg.prepare_payload();
    if (req.method == "HEAD") {
        bool sent = co_await write_head_only(st, s, msg, length);
        co_return sent;
    }
    bool ok = co_await write_message(st, s, msg);
    co_return ok;
}

template <class Proto>
asio::awaitable<bool> write_raw(State& st, Session<Proto>& s, std::string bytes) {
    s.stream.expires_after(seconds(st.opt.body_timeout));
    auto [ec, n] = co_await asio::async_write(s.stream, asio::buffer(bytes), kNoThrow);
    co_return !ec;
}

// A client reconnecting with Last-Event-ID gets the events it missed (those still remembered)
// after the hello, before the live ones.
void replay_since(State& st, SessionBase& s, const std::string& last_event_id) {
    auto dash = last_event_id.find('-');
    if (dash == std::string::npos || last_event_id.substr(0, dash) != st.event_epoch) return;
    std::uint64_t seen = 0;
    auto tail = std::string_view(last_event_id).substr(dash + 1);
    auto [p, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), seen);
    if (ec != std::errc() || p != tail.data() + tail.size()) return;
    for (const auto& [seq, frame] : st.recent_events)
        if (seq > seen) s.events.push_back(frame);
}

template <class Proto>
asio::awaitable<void> run_event_stream(State& st, Session<Proto>& s, const ServerResponse& res,
                                       unsigned version, std::string last_event_id) {
    http::response<http::empty_body> msg{static_cast<http::status>(res.status), version};
    msg.set(http::field::content_type, "text/event-stream");
    msg.set(http::field::cache_control, "no-cache");
    msg.set(http::field::connection, "keep-alive");
    for (const auto& [name, value] : res.headers) msg.insert(name, value);
    // Subscribed before the header goes out: an event published after the client saw the
    // header is never missed. A body given by the handler (the "hello" event) goes first, so a
    // client that re-reads state when it sees it cannot miss a transition in between.
    s.subscriber = true;
    if (!res.body.empty()) s.events.push_front(res.body);
    replay_since(st, s, last_event_id);
    http::response_serializer<http::empty_body> sr(msg);
    s.stream.expires_after(seconds(st.opt.body_timeout));
    auto [ec, n] = co_await http::async_write_header(s.stream, sr, kNoThrow);
    bool ok = !ec;
    while (ok && !s.closed && !st.stopped) {
        if (!s.events.empty()) {
            std::string batch;
            for (auto& e : s.events) batch += e;
            s.events.clear();
            ok = co_await write_raw(st, s, std::move(batch));
            continue;
        }
        s.wake.expires_after(seconds(st.opt.sse_ping_interval));
        auto [wec] = co_await s.wake.async_wait(kNoThrow);
        if (!wec) {
            std::string ping = ": ping\n\n";  // keeps proxies and idle timers from closing us
            ok = co_await write_raw(st, s, std::move(ping));
        }
    }
}

// Answers a request that could not be read (413, 431, 400) or just lets the connection go.
template <class Proto>
asio::awaitable<void> answer_read_error(State& st, Session<Proto>& s, const error_code& ec) {
    ServerResponse res;
    if (ec == http::error::body_limit) {
        res = json_error(413, "request body too large (limit " +
                                  std::to_string(st.opt.max_body_bytes) + " bytes)",
                         "payload_too_large");
    } else if (ec == http::error::header_limit) {
        res = json_error(431, "request header too large", "header_too_large");
    } else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message) {
        res = json_error(400, "malformed HTTP request: " + ec.message(), "bad_request");
    } else {
        spdlog::debug("control: connection ended: {}", ec.message());
        co_return;
    }
    bool ok = co_await write_plain(st, s, res, 11, false);
    if (ok) co_await linger_close(s);
}

// A browser cannot put a header on a page load or on an EventSource, so GET / and GET /v1/events
// may carry the token as `?token=` instead (the web page sends the header everywhere else).
bool query_token_matches(const Request& msg, const std::string& token) {
    if (msg.method() != http::verb::get) return false;
    ServerRequest target;
    std::string_view t = msg.target();
    auto q = t.find('?');
    if (q == std::string_view::npos) return false;
    std::string_view path = t.substr(0, q);
    if (path != "/" && path != "/v1/events") return false;
    target.query = std::string(t.substr(q + 1));
    return constant_time_equal(target.query_param("token"), token);
}

template <class Proto>
bool authorized(const State& st, const Request& msg) {
    if (!std::is_same_v<Proto, TcpProto> || st.opt.tcp_token.empty()) return true;
    return constant_time_equal(msg[http::field::authorization], "Bearer " + st.opt.tcp_token) ||
           query_token_matches(msg, st.opt.tcp_token);
}

// Waits for the next request on a kept-alive connection under the idle deadline.
template <class Proto>
asio::awaitable<bool> wait_for_bytes(State& st, Session<Proto>& s, beast::flat_buffer& buf) {
    s.stream.expires_after(seconds(st.opt.idle_timeout));
    auto [ec, n] = co_await s.stream.async_read_some(buf.prepare(4096), kNoThrow);
    buf.commit(n);
    co_return !ec;
}

// One request/response exchange; false when the connection is done.
template <class Proto>
asio::awaitable<bool> serve_one(State& st, Session<Proto>& s, beast::flat_buffer& buf) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(st.opt.max_header_bytes));
    parser.body_limit(st.opt.max_body_bytes);
    s.stream.expires_after(seconds(st.opt.header_timeout));
    auto [hec, hn] = co_await http::async_read_header(s.stream, buf, parser, kNoThrow);
    if (hec) {
        co_await answer_read_error(st, s, hec);
        co_return false;
    }
    const unsigned version = parser.get().version();
    if (!authorized<Proto>(st, parser.get())) {
        // Checked before the body: a stranger does not get to upload 32 MiB first.
        auto res = json_error(401, "missing or wrong bearer token", "unauthorized");
        res.headers.emplace_back("www-authenticate", "Bearer");
        bool sent = co_await write_plain(st, s, res, version, false);
        if (sent) co_await linger_close(s);
        co_return false;
    }
    if (!parser.is_done() && lower(parser.get()[http::field::expect]) == "100-continue") {
        // curl waits a second for this before sending a large body.
        std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
        bool sent = co_await write_raw(st, s, std::move(cont));
        if (!sent) co_return false;
    }
    s.stream.expires_after(seconds(st.opt.body_timeout));
    auto [bec, bn] = co_await http::async_read(s.stream, buf, parser, kNoThrow);
    if (bec) {
        co_await answer_read_error(st, s, bec);
        co_return false;
    }
    ServerRequest req = make_request(parser.get(), s);
    if (req.path.find('\0') != std::string::npos) {  // "%00" would cut file names short
        auto res = json_error(400, "malformed request path", "bad_request");
        co_await write_plain(st, s, res, version, false);
        co_return false;
    }
    bool keep_alive = parser.get().keep_alive() && !st.stopped;
    ServerResponse res = co_await call_handler(st, req);
    if (s.closed) co_return false;  // the server stopped while the handler waited
    if (res.event_stream) {
        std::string last_event_id(req.header("last-event-id"));
        co_await run_event_stream(st, s, res, version, std::move(last_event_id));
        co_return false;
    }
    bool ok = false;
    if (!res.file_path.empty()) {
        ok = co_await write_file(st, s, req, res, version, keep_alive);
    } else {
        ok = co_await write_plain(st, s, res, version, keep_alive, req.method == "HEAD");
    }
    co_return ok && keep_alive;
}

template <class Proto>
asio::awaitable<void> serve(State& st, Session<Proto>& s) {
    beast::flat_buffer buf;
    // The first request's header must arrive within header_timeout of the accept; later ones
    // may idle for idle_timeout before their first byte.
    for (bool first = true;; first = false) {
        if (!first && buf.size() == 0) {
            bool more = co_await wait_for_bytes(st, s, buf);
            if (!more) co_return;
        }
        bool again = co_await serve_one(st, s, buf);
        if (!again) break;
    }
    error_code ec;
    s.stream.socket().shutdown(Proto::socket::shutdown_send, ec);
}

template <class Proto>
asio::awaitable<void> run_session(std::shared_ptr<State> st, std::shared_ptr<Session<Proto>> s) {
    try {
        co_await serve(*st, *s);
    } catch (const std::exception& e) {
        spdlog::warn("control: connection failed: {}", e.what());
    }
    s->close();
    st->sessions.erase(s);
}

template <class Socket>
void refuse(Socket& sock) {
    static const std::string body = error_body("unavailable", "too many connections");
    static const std::string answer = "HTTP/1.1 503 Service Unavailable\r\n"
                                      "content-type: application/json\r\ncontent-length: " +
                                      std::to_string(body.size()) +
                                      "\r\nconnection: close\r\n\r\n" + body;
    error_code ec;
    sock.non_blocking(true, ec);  // a fresh socket's send buffer is empty; never block the loop
    sock.write_some(asio::buffer(answer), ec);
    sock.close(ec);
}

template <class Proto>
asio::awaitable<void> accept_loop(std::shared_ptr<State> st,
                                  std::shared_ptr<typename Proto::acceptor> acc) {
    while (!st->stopped && acc->is_open()) {
        auto [ec, sock] = co_await acc->async_accept(kNoThrow);
        if (ec == asio::error::operation_aborted || st->stopped) co_return;
        if (ec) {
            // EMFILE and friends: pause instead of spinning on the same error.
            spdlog::warn("control: accept failed: {}", ec.message());
            asio::steady_timer pause(st->io, std::chrono::milliseconds(100));
            co_await pause.async_wait(kNoThrow);
            continue;
        }
        if (st->sessions.size() >= st->opt.max_connections) {
            refuse(sock);
            continue;
        }
        auto session = std::make_shared<Session<Proto>>(std::move(sock));
        st->sessions.insert(session);
        asio::co_spawn(st->io, run_session<Proto>(st, session), asio::detached);
    }
}

// The same parser as the config check (core/listen_address), so what --check-config accepts binds.
Result<TcpProto::endpoint> parse_host_port(const std::string& host_port) {
    auto parsed = parse_listen_address(host_port, PortZero::allowed);
    if (!parsed) return Error{parsed.error().code, host_port + ": " + parsed.error().message};
    error_code ec;
    auto address = asio::ip::make_address(parsed->host, ec);
    if (ec) return Error{"invalid_listen", "bad address " + host_port + " (want ip:port)"};
    return TcpProto::endpoint(address, parsed->port);
}

// ---- The server ----------------------------------------------------------------------------

class ServerImpl final : public ControlServer {
public:
    ServerImpl(asio::io_context& io, ServerOptions options, Handler handler)
        : st_(std::make_shared<State>(io, std::move(options), std::move(handler))) {}
    ~ServerImpl() override { stop(); }

    Status listen_unix(const std::string& path, unsigned mode, const std::string& group) override;
    Status adopt_unix(int fd) override;
    Status listen_tcp(const std::string& host_port) override;
    int tcp_port() const override;
    void publish(const std::string& event, const std::string& data) override;
    bool has_subscribers() const override;
    void stop() override;
    std::size_t connections() const override { return st_->sessions.size(); }

private:
    void start_unix(std::shared_ptr<UnixProto::acceptor> acc) {
        st_->unix_acceptors.push_back(acc);
        asio::co_spawn(st_->io, accept_loop<UnixProto>(st_, acc), asio::detached);
    }
    std::shared_ptr<State> st_;
};

Status ServerImpl::listen_unix(const std::string& path, unsigned mode, const std::string& group) {
    if (auto s = make_parent_dirs(path); !s) return s;
    if (auto s = clear_stale_socket(path); !s) return s;
    auto acc = std::make_shared<UnixProto::acceptor>(st_->io);
    error_code ec;
    acc->open(UnixProto(), ec);
    if (!ec) acc->bind(UnixProto::endpoint(path), ec);
    if (ec) {
        return Error{"io_error", "cannot bind " + path + ": " + ec.message()};
    }
    if (auto s = apply_owner(path, mode, group); !s) {
        ::unlink(path.c_str());
        return s;
    }
    acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        ::unlink(path.c_str());
        return Error{"io_error", "cannot listen on " + path + ": " + ec.message()};
    }
    st_->owned_paths.push_back(path);
    start_unix(std::move(acc));
    spdlog::debug("control: listening on {}", path);
    return ok_status();
}

Status ServerImpl::adopt_unix(int fd) {
    auto acc = std::make_shared<UnixProto::acceptor>(st_->io);
    error_code ec;
    acc->assign(UnixProto(), fd, ec);
    if (ec) {
        return Error{"io_error", "cannot adopt socket fd " + std::to_string(fd) + ": " +
                                     ec.message()};
    }
    start_unix(std::move(acc));
    return ok_status();
}

Status ServerImpl::listen_tcp(const std::string& host_port) {
    auto endpoint = parse_host_port(host_port);
    if (!endpoint) return endpoint.error();
    auto acc = std::make_shared<TcpProto::acceptor>(st_->io);
    error_code ec;
    acc->open(endpoint->protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acc->bind(*endpoint, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return Error{"io_error", "cannot listen on " + host_port + ": " + ec.message()};
    }
    st_->tcp_acceptors.push_back(acc);
    asio::co_spawn(st_->io, accept_loop<TcpProto>(st_, acc), asio::detached);
    spdlog::debug("control: listening on tcp {}", host_port);
    return ok_status();
}

int ServerImpl::tcp_port() const {
    if (st_->tcp_acceptors.empty()) return -1;
    error_code ec;
    auto ep = st_->tcp_acceptors.front()->local_endpoint(ec);
    return ec ? -1 : ep.port();
}

void ServerImpl::publish(const std::string& event, const std::string& data) {
    std::uint64_t seq = ++st_->event_seq;
    std::string frame = "id: " + st_->event_epoch + "-" + std::to_string(seq) + "\n" +
                        sse_frame(event, data);
    st_->recent_events.emplace_back(seq, frame);
    if (st_->recent_events.size() > State::kRecentEvents) st_->recent_events.pop_front();
    for (const auto& s : st_->sessions) {
        if (!s->subscriber || s->closed) continue;
        if (s->events.size() >= st_->opt.sse_queue_limit) {
            spdlog::warn("control: dropping a slow event subscriber ({} events queued)",
                         s->events.size());
            s->close();
            continue;
        }
        s->events.push_back(frame);
        s->wake.cancel();
    }
}

bool ServerImpl::has_subscribers() const {
    for (const auto& s : st_->sessions)
        if (s->subscriber && !s->closed) return true;
    return false;
}

void ServerImpl::stop() {
    if (st_->stopped) return;
    st_->stopped = true;
    error_code ec;
    for (auto& a : st_->unix_acceptors) a->close(ec);
    for (auto& a : st_->tcp_acceptors) a->close(ec);
    for (const auto& s : st_->sessions) s->close();
    for (const auto& p : st_->owned_paths) ::unlink(p.c_str());
    st_->owned_paths.clear();
}

}  // namespace

Handler sync_handler(std::function<ServerResponse(const ServerRequest&)> f) {
    auto shared = std::make_shared<const std::function<ServerResponse(const ServerRequest&)>>(
        std::move(f));
    // Not a coroutine itself: run_sync's frame holds its own copy of `shared`.
    return [shared](const ServerRequest& req) { return run_sync(shared, req); };
}

std::unique_ptr<ControlServer> ControlServer::create(boost::asio::io_context& io,
                                                     ServerOptions options, Handler handler) {
    return std::make_unique<ServerImpl>(io, std::move(options), std::move(handler));
}

}  // namespace genq::net
