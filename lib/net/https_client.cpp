// The HTTPS client towards the provider. One connection per request in flight, idle connections
// kept in a LIFO pool; per-phase deadlines through beast::tcp_stream::expires_after.
#include "net/https_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url.hpp>
#include <cctype>
#include <chrono>
#include <cstring>
#include <deque>
#include <list>
#include <spdlog/spdlog.h>
#include <vector>

namespace genq::net {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// Beast reads max(512, free capacity) bytes at a time: with a buffer left at its first small
// size, a 50 KB video arrived in about 100 reads of 512 bytes, each a decryption call, a
// coroutine resume, a timer re-arm and a write(2) into the result file. A buffer of two TLS
// records lets each read take whatever OpenSSL has decrypted (at most 16 KiB per record).
constexpr std::size_t kReadBuffer = 32 * 1024;

struct Conn {
    Conn(asio::io_context& io, ssl::context& ctx) : stream(io, ctx) { buffer.reserve(kReadBuffer); }
    beast::ssl_stream<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
};
using ConnPtr = std::shared_ptr<Conn>;

struct Target {
    std::string host;         // without brackets
    std::string host_header;  // host[:port], brackets for IPv6
    std::uint16_t port = 443;
    std::string prefix;       // path prefix without trailing '/'
    bool is_ip = false;
};

Result<Target> parse_base_url(const std::string& base_url) {
    auto parsed = boost::urls::parse_uri(base_url);
    if (!parsed) {
        return Error{"tls_config", "base_url is not a URL: " + base_url};
    }
    const auto& u = *parsed;
    if (u.scheme() != "https" || u.host_address().empty() || u.has_userinfo() ||
        u.has_query() || u.has_fragment()) {
        return Error{"tls_config", "base_url must be https://host[:port][/prefix]: " + base_url};
    }
    Target t;
    t.host = u.host_address();
    t.is_ip = u.host_type() == boost::urls::host_type::ipv4 ||
              u.host_type() == boost::urls::host_type::ipv6;
    if (u.has_port()) {
        if (u.port_number() == 0) {
            return Error{"tls_config", "base_url has a bad port: " + base_url};
        }
        t.port = u.port_number();
    }
    t.host_header = std::string(u.encoded_host_and_port());
    t.prefix = std::string(u.encoded_path());
    while (!t.prefix.empty() && t.prefix.back() == '/') {
        t.prefix.pop_back();
    }
    return t;
}

bool is_json(std::string_view content_type) {
    auto semi = content_type.find(';');
    auto mime = content_type.substr(0, semi);
    std::string lower;
    for (char c : mime) {
        if (c != ' ') lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return lower == "application/json" || lower.ends_with("+json");
}

// OpenSSL's own words for a failed verification ("certificate verify failed" alone says little).
std::string tls_reason(const error_code& ec, SSL* ssl) {
    std::string msg = ec.message();
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
        msg += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
    }
    return msg;
}

bool is_eof_like(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == http::error::partial_message ||
           ec == ssl::error::stream_truncated || ec == asio::error::eof;
}

bool is_reset(const error_code& ec) {
    return ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::error::connection_aborted;
}

// What one exchange on one connection produced.
struct Outcome {
    std::optional<HttpResponse> response;
    Error error;
    bool response_started = false;  // some response byte arrived: never retried
    bool keep_alive = false;
};

class ClientImpl final : public HttpsClient {
public:
    ClientImpl(asio::io_context& io, ClientOptions options, Target target)
        : io_(io), options_(std::move(options)), target_(std::move(target)),
          ctx_(ssl::context::tls_client) {}

    Status init_tls() {
        error_code ec;
        ctx_.set_default_verify_paths(ec);
        if (ec) {
            spdlog::warn("https: no system trust store: {}", ec.message());
        }
        if (!options_.ca_file.empty()) {
            ctx_.load_verify_file(options_.ca_file, ec);
            if (ec) {
                return Error{"tls_config", "cannot load ca_file " + options_.ca_file + ": " +
                                               ec.message()};
            }
        }
        ctx_.set_verify_mode(ssl::verify_peer);
        return ok_status();
    }

    asio::awaitable<Result<HttpResponse>> send(HttpRequest request, std::string stream_to,
                                               std::function<bool()> before_send) override;
    void cancel_all() override;

    // At most max_connections requests are under way at once; the others wait here for a
    // slot. Bursts (a whole window's budget at once) then reuse a few warm connections instead
    // of opening one TLS connection per request. Shared with the coroutine frames, which may
    // outlive the client at shutdown.
    struct Slots {
        struct Waiter {
            explicit Waiter(asio::io_context& io) : timer(io) {}
            asio::steady_timer timer;
            bool granted = false;
        };
        std::size_t busy = 0;
        std::size_t max = 16;
        std::deque<std::shared_ptr<Waiter>> waiters;
        void release() {
            if (waiters.empty()) {
                --busy;
                return;
            }
            auto w = waiters.front();  // hand the slot over: no newcomer can take it first
            waiters.pop_front();
            w->granted = true;
            w->timer.cancel();
        }
    };
    struct SlotGuard {
        std::shared_ptr<Slots> slots;
        ~SlotGuard() { slots->release(); }
    };
    ClientStats stats() const override { return stats_; }

private:
    std::chrono::steady_clock::duration timeout() const {
        return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(options_.timeout));
    }
    ConnPtr take_idle();
    void put_idle(ConnPtr conn);
    asio::awaitable<Result<ConnPtr>> connect(std::uint64_t epoch);
    asio::awaitable<bool> acquire_slot(std::shared_ptr<Slots> slots);
    asio::awaitable<Result<HttpResponse>> send_on_slot(HttpRequest request, std::string stream_to,
                                                       std::function<bool()> before_send);
    asio::awaitable<Result<tcp::resolver::results_type>> resolve();
    asio::awaitable<Outcome> exchange(Conn& conn, const HttpRequest& request,
                                      const std::string& stream_to, std::uint64_t epoch);
    asio::awaitable<Outcome> read_body_to_file(Conn& conn,
                                               http::response_parser<http::empty_body>& header,
                                               const std::string& path, std::uint64_t epoch);
    asio::awaitable<Outcome> read_body_to_memory(Conn& conn,
                                                 http::response_parser<http::empty_body>& header,
                                                 std::uint64_t epoch);
    http::request<http::string_body> build(const HttpRequest& request) const;
    Error map_error(const error_code& ec, std::uint64_t epoch, std::string_view phase) const;

    asio::io_context& io_;
    ClientOptions options_;
    Target target_;
    ssl::context ctx_;
    std::vector<ConnPtr> idle_;               // back = most recently used
    std::list<std::weak_ptr<Conn>> live_;     // every connection, for cancel_all
    std::uint64_t epoch_ = 0;                 // bumped by cancel_all
    ClientStats stats_;
    std::shared_ptr<Slots> slots_ = std::make_shared<Slots>();
};

Error ClientImpl::map_error(const error_code& ec, std::uint64_t epoch,
                            std::string_view phase) const {
    std::string where = std::string(phase) + " " + target_.host_header + ": ";
    // After cancel_all the socket is closed under the operation; whatever it reports is ours.
    if (epoch != epoch_ || ec == asio::error::operation_aborted) {
        return Error{errc::canceled, where + "canceled"};
    }
    if (ec == beast::error::timeout) {
        return Error{errc::timeout, where + "timed out"};
    }
    if (is_reset(ec)) {
        return Error{errc::connection_reset, where + ec.message()};
    }
    if (ec == http::error::body_limit) {
        return Error{errc::body_too_large, where + "body larger than " +
                                           std::to_string(options_.max_memory_body) + " bytes"};
    }
    return Error{errc::io_error, where + ec.message()};
}

ConnPtr ClientImpl::take_idle() {
    if (idle_.empty()) {
        return nullptr;
    }
    ConnPtr conn = std::move(idle_.back());
    idle_.pop_back();
    return conn;
}

void ClientImpl::put_idle(ConnPtr conn) {
    if (options_.max_idle == 0) {
        return;
    }
    if (idle_.size() >= options_.max_idle) {
        idle_.erase(idle_.begin());  // the oldest goes: it is the likeliest to be closed remotely
    }
    idle_.push_back(std::move(conn));
}

void ClientImpl::cancel_all() {
    ++epoch_;
    idle_.clear();
    for (auto& weak : live_) {
        if (auto conn = weak.lock()) {
            beast::get_lowest_layer(conn->stream).close();
        }
    }
    live_.clear();
    auto waiters = std::move(slots_->waiters);  // they end with "canceled"
    slots_->waiters.clear();
    for (auto& w : waiters) w->timer.cancel();
}

asio::awaitable<Result<tcp::resolver::results_type>> ClientImpl::resolve() {
    // The resolver has no expires_after; a timer cancels it. Both are shared so a late timer
    // handler never touches a finished frame.
    auto resolver = std::make_shared<tcp::resolver>(io_);
    auto timer = std::make_shared<asio::steady_timer>(io_, timeout());
    auto on_timer = [resolver](error_code ec) {
        if (!ec) resolver->cancel();
    };
    timer->async_wait(on_timer);
    auto [ec, results] = co_await resolver->async_resolve(
        target_.host, std::to_string(target_.port), kNoThrow);
    timer->cancel();
    if (ec) {
        co_return Error{ec == asio::error::operation_aborted ? errc::timeout : errc::connect_failed,
                        "resolve " + target_.host + ": " + ec.message()};
    }
    co_return results;
}

asio::awaitable<Result<ConnPtr>> ClientImpl::connect(std::uint64_t epoch) {
    auto resolved = co_await resolve();
    if (!resolved) {
        co_return resolved.error();
    }
    if (epoch != epoch_) {
        co_return Error{errc::canceled, "connect " + target_.host_header + ": canceled"};
    }
    auto conn = std::make_shared<Conn>(io_, ctx_);
    live_.remove_if([](const std::weak_ptr<Conn>& w) { return w.expired(); });
    live_.push_back(conn);
    auto& tcp_layer = beast::get_lowest_layer(conn->stream);
    tcp_layer.expires_after(timeout());
    auto [cec, ep] = co_await tcp_layer.async_connect(resolved.value(), kNoThrow);
    if (cec) {
        Error e = map_error(cec, epoch, "connect");
        if (e.ec == errc::io_error || e.ec == errc::connection_reset)
            e = Error{errc::connect_failed, e.message};
        co_return e;
    }
    SSL* ssl = conn->stream.native_handle();
    // SNI carries names only (RFC 6066); IP literals are still checked against the certificate.
    if (!target_.is_ip && !SSL_set_tlsext_host_name(ssl, target_.host.c_str())) {
        co_return Error{errc::tls_failed, "cannot set SNI for " + target_.host};
    }
    // SSL_set1_host makes OpenSSL check the name (or IP) itself, so a mismatch is reported as
    // such; host_name_verification repeats the check on the leaf as Asio's documented way.
    if (!SSL_set1_host(ssl, target_.host.c_str())) {
        co_return Error{errc::tls_failed, "cannot set the expected host name " + target_.host};
    }
    conn->stream.set_verify_callback(ssl::host_name_verification(target_.host));
    tcp_layer.expires_after(timeout());
    auto [hec] = co_await conn->stream.async_handshake(ssl::stream_base::client, kNoThrow);
    if (hec) {
        Error e = map_error(hec, epoch, "tls handshake");
        if (e.ec == errc::io_error) e = Error{errc::tls_failed, "tls handshake with " +
                                                              target_.host_header + ": " +
                                                              tls_reason(hec, ssl)};
        co_return e;
    }
    ++stats_.handshakes;
    co_return conn;
}

http::request<http::string_body> ClientImpl::build(const HttpRequest& request) const {
    http::request<http::string_body> req;
    req.method_string(request.method);
    req.target(target_.prefix + request.target);
    req.version(11);
    req.set(http::field::host, target_.host_header);
    req.set(http::field::user_agent, "genq/" GENQ_VERSION);
    for (const auto& [name, value] : request.headers) {
        req.insert(name, value);
    }
    req.body() = request.body;
    req.keep_alive(true);
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
        req.prepare_payload();
    }
    return req;
}

HttpResponse header_of(const http::response_parser<http::empty_body>& parser) {
    HttpResponse out;
    const auto& msg = parser.get();
    out.status = static_cast<int>(msg.result_int());
    for (const auto& field : msg) {
        std::string name(field.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    return out;
}

asio::awaitable<Outcome> ClientImpl::exchange(Conn& conn, const HttpRequest& request,
                                              const std::string& stream_to, std::uint64_t epoch) {
    Outcome out;
    auto req = build(request);
    auto& tcp_layer = beast::get_lowest_layer(conn.stream);
    tcp_layer.expires_after(timeout());
    auto [wec, wn] = co_await http::async_write(conn.stream, req, kNoThrow);
    if (wec) {
        out.error = map_error(wec, epoch, "write");
        co_return out;
    }
    http::response_parser<http::empty_body> header;
    header.header_limit(64 * 1024);
    header.skip(request.method == "HEAD");  // a HEAD answer announces a body it does not send
    tcp_layer.expires_after(timeout());
    std::size_t before = conn.buffer.size();
    auto [hec, hn] = co_await http::async_read_header(conn.stream, conn.buffer, header, kNoThrow);
    if (hec) {
        out.response_started = hn > 0 || conn.buffer.size() > before;
        out.error = map_error(hec, epoch, "read header");
        if (out.error.ec == errc::io_error && is_eof_like(hec)) {
            out.error = Error{out.response_started ? errc::truncated : errc::connection_reset,
                              out.error.message};
        }
        co_return out;
    }
    out.response_started = true;
    int status = static_cast<int>(header.get().result_int());
    bool to_file = !stream_to.empty() && status >= 200 && status < 300 &&
                   !is_json(header.get()[http::field::content_type]);
    if (to_file) {
        if (request.on_stream_start) request.on_stream_start();
        auto result = co_await read_body_to_file(conn, header, stream_to, epoch);
        co_return result;
    }
    auto result = co_await read_body_to_memory(conn, header, epoch);
    co_return result;
}

Error body_error(Error e, const error_code& ec) {
    if (e.ec == errc::io_error && is_eof_like(ec)) {
        e = Error{errc::truncated, e.message};
    }
    return e;
}

asio::awaitable<Outcome> ClientImpl::read_body_to_memory(
    Conn& conn, http::response_parser<http::empty_body>& header, std::uint64_t epoch) {
    Outcome out;
    out.response_started = true;
    HttpResponse response = header_of(header);
    // The header was parsed under the empty_body parser's limit, so the new limit only sees
    // chunked or read-to-EOF bodies; a declared length is checked here.
    auto declared = header.content_length();
    if (declared && *declared > options_.max_memory_body) {
        out.error = map_error(http::error::body_limit, epoch, "read body");
        co_return out;
    }
    http::response_parser<http::string_body> parser(std::move(header));
    parser.body_limit(options_.max_memory_body);
    beast::get_lowest_layer(conn.stream).expires_after(timeout());
    auto [ec, n] = co_await http::async_read(conn.stream, conn.buffer, parser, kNoThrow);
    if (ec) {
        out.error = body_error(map_error(ec, epoch, "read body"), ec);
        co_return out;
    }
    response.body = std::move(parser.get().body());
    response.body_bytes = response.body.size();
    stats_.bytes_in += response.body_bytes;
    out.keep_alive = parser.get().keep_alive();
    out.response = std::move(response);
    co_return out;
}

asio::awaitable<Outcome> ClientImpl::read_body_to_file(
    Conn& conn, http::response_parser<http::empty_body>& header, const std::string& path,
    std::uint64_t epoch) {
    Outcome out;
    out.response_started = true;
    HttpResponse response = header_of(header);
    http::response_parser<http::file_body> parser(std::move(header));
    parser.body_limit(boost::none);  // a video may be larger than any in-memory cap
    error_code ec;
    parser.get().body().open(path.c_str(), beast::file_mode::write, ec);
    if (ec) {
        out.error = Error{errc::io_error, "cannot open " + path + ": " + ec.message()};
        co_return out;
    }
    // The deadline covers each read, not the whole download: a large body must not time out
    // while data keeps arriving. Reading in pieces re-arms it.
    auto& tcp_layer = beast::get_lowest_layer(conn.stream);
    while (!parser.is_done()) {
        tcp_layer.expires_after(timeout());
        auto [rec, n] = co_await http::async_read_some(conn.stream, conn.buffer, parser, kNoThrow);
        if (rec) {
            out.error = body_error(map_error(rec, epoch, "read body"), rec);
            co_return out;
        }
    }
    auto& file = parser.get().body().file();
    if (::fsync(file.native_handle()) != 0) {
        out.error = Error{errc::io_error, "fsync " + path + ": " + std::strerror(errno)};
        co_return out;
    }
    response.body_bytes = file.size(ec);
    parser.get().body().close();
    response.body_file = path;
    stats_.bytes_in += response.body_bytes;
    out.keep_alive = parser.get().keep_alive();
    out.response = std::move(response);
    co_return out;
}

asio::awaitable<bool> ClientImpl::acquire_slot(std::shared_ptr<Slots> slots) {
    slots->max = std::max<std::size_t>(1, options_.max_connections);
    if (slots->busy < slots->max) {
        ++slots->busy;
        co_return true;
    }
    auto waiter = std::make_shared<Slots::Waiter>(io_);
    waiter->timer.expires_at(asio::steady_timer::time_point::max());
    slots->waiters.push_back(waiter);
    error_code ec;
    co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    // Canceled while waiting (the job was canceled, or the daemon stops): leave the line, or
    // a later release would hand the slot to nobody.
    if (!waiter->granted) std::erase(slots->waiters, waiter);
    co_return waiter->granted;
}

asio::awaitable<Result<HttpResponse>> ClientImpl::send(HttpRequest request, std::string stream_to,
                                                       std::function<bool()> before_send) {
    std::shared_ptr<Slots> slots = slots_;
    const bool granted = co_await acquire_slot(slots);
    if (!granted) {
        co_return Error{errc::canceled, "canceled while waiting for a connection"};
    }
    SlotGuard guard{slots};
    auto result = co_await send_on_slot(std::move(request), std::move(stream_to),
                                        std::move(before_send));
    co_return result;
}

asio::awaitable<Result<HttpResponse>> ClientImpl::send_on_slot(HttpRequest request,
                                                               std::string stream_to,
                                                               std::function<bool()> before_send) {
    const std::uint64_t epoch = epoch_;
    ConnPtr conn = take_idle();
    for (int attempt = 0;; ++attempt) {
        const bool reused = conn != nullptr;
        if (!conn) {
            auto fresh = co_await connect(epoch);
            if (!fresh) {
                co_return fresh.error();
            }
            conn = std::move(fresh.value());
        }
        if (before_send && !before_send()) {
            if (epoch == epoch_) put_idle(std::move(conn));  // nothing was sent on it
            co_return Error{errc::rate_limited_local, "the local rate limiter refused the request"};
        }
        ++stats_.requests;
        if (reused) ++stats_.reused;
        Outcome out = co_await exchange(*conn, request, stream_to, epoch);
        if (out.response) {
            if (out.keep_alive && epoch == epoch_) {
                put_idle(std::move(conn));
            }
            co_return std::move(*out.response);
        }
        // A kept-alive connection the server already closed fails before any answer: the
        // request never reached the application, so one retry on a new connection is safe.
        // Never after a cancellation: the caller asked for the request to end.
        bool retry = reused && attempt == 0 && !out.response_started && epoch == epoch_ &&
                     out.error.ec != errc::timeout && out.error.ec != errc::canceled;
        beast::get_lowest_layer(conn->stream).close();
        conn.reset();
        if (!retry) {
            co_return out.error;
        }
        spdlog::debug("https: kept-alive connection to {} failed ({}), retrying on a new one",
                      target_.host_header, out.error.message);
    }
}

}  // namespace

Result<std::unique_ptr<HttpsClient>> HttpsClient::create(boost::asio::io_context& io,
                                                         ClientOptions options) {
    auto target = parse_base_url(options.base_url);
    if (!target) {
        return target.error();
    }
    auto impl = std::make_unique<ClientImpl>(io, std::move(options), std::move(target.value()));
    auto status = impl->init_tls();
    if (!status) {
        return status.error();
    }
    return std::unique_ptr<HttpsClient>(std::move(impl));
}

}  // namespace genq::net
