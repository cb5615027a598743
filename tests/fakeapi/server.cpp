// TLS listener of the stand-in: one coroutine per connection, HTTP/1.1 keep-alive. Provider
// decides every answer; this file only moves bytes and carries out the delivery faults (delay,
// drop, truncate, TLS abort). GCC 12: co_await only as a whole statement or initializer.
#include "server.hpp"

#include "provider.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace fakeapi {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using namespace std::chrono_literals;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr auto kHandshakeTimeout = 10s;
constexpr auto kIdleTimeout = 60s;  // between requests on a kept-alive connection
constexpr auto kReadTimeout = 30s;  // for the body once the header is in
constexpr auto kWriteTimeout = 30s;
constexpr auto kShutdownTimeout = 1s;
constexpr std::uint32_t kMaxHeader = 64 * 1024;
// Above the provider's 10 MiB so that Provider itself answers 413 for most oversized bodies.
constexpr std::uint64_t kMaxBody = 64ULL * 1024 * 1024;

using Stream = ssl::stream<beast::tcp_stream>;
using Parser = http::request_parser<http::string_body>;
using Message = http::response<http::string_body>;

// How a connection goes on after one exchange.
enum class Next { keep, close, abort };

double epoch_now() {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration<double>(now).count();
}

bool is_parse_error(const beast::error_code& ec) {
    return ec.category() == http::make_error_code(http::error::bad_target).category() &&
           ec != http::error::end_of_stream && ec != http::error::partial_message;
}

Request to_request(http::request<http::string_body>&& msg, double arrival) {
    Request r;
    r.method = std::string(msg.method_string());
    r.target = std::string(msg.target());
    for (const auto& f : msg) {
        r.headers[lower(f.name_string())] = std::string(f.value());
    }
    r.keep_alive = msg.keep_alive();
    r.body = std::move(msg.body());
    r.arrival = arrival;
    return r;
}

Message build_message(Response& res, bool keep_alive) {
    Message msg;
    msg.version(11);
    msg.result(static_cast<unsigned>(res.status));
    msg.set(http::field::server, "genq-fakeapi");
    for (const auto& [name, value] : res.headers) {
        msg.set(name, value);
    }
    if (res.delivery == Delivery::truncate) {
        // The header promises the whole body; only half of it follows before the close.
        msg.content_length(res.body.size());
        res.body.resize(res.body.size() / 2);
        msg.body() = std::move(res.body);
        msg.keep_alive(false);
        return msg;
    }
    msg.body() = std::move(res.body);
    msg.prepare_payload();
    msg.keep_alive(keep_alive && !res.close);
    return msg;
}

// Reads one request; answers 100-continue when asked so that curl-like clients do not stall.
awaitable<beast::error_code> read_request(Stream& stream, beast::flat_buffer& buffer,
                                          Parser& parser) {
    beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
    const auto head = co_await http::async_read_header(stream, buffer, parser, kTok);
    if (std::get<0>(head)) {
        co_return std::get<0>(head);
    }
    if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, 11};
        const auto wrote = co_await http::async_write(stream, cont, kTok);
        if (std::get<0>(wrote)) {
            co_return std::get<0>(wrote);
        }
    }
    beast::get_lowest_layer(stream).expires_after(kReadTimeout);
    const auto body = co_await http::async_read(stream, buffer, parser, kTok);
    co_return std::get<0>(body);
}

awaitable<Next> deliver(Stream& stream, Response& res, Provider& provider, bool keep_alive) {
    if (res.delay > 0) {
        asio::steady_timer timer(stream.get_executor());
        timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(res.delay)));
        co_await timer.async_wait(kTok);
    }
    if (res.delivery == Delivery::drop) {
        provider.delivering(res.record, Outcome::dropped);
        co_return Next::abort;
    }
    const auto outcome = res.delivery == Delivery::truncate ? Outcome::truncated : Outcome::sent;
    Message msg = build_message(res, keep_alive);
    provider.delivering(res.record, outcome);
    beast::get_lowest_layer(stream).expires_after(kWriteTimeout);
    // The answer goes out when the write starts: a client may read it before this loop gets
    // around to the write's completion, so a later stamp would call a well-spaced poll early.
    const double write_started = epoch_now();
    const auto wrote = co_await http::async_write(stream, msg, kTok);
    const bool ok = !std::get<0>(wrote);
    // A delayed answer (the "slow" fault) is meant to come after the client gave up: its write
    // into the abandoned connection still succeeds, so it counts from the request's arrival, the
    // earliest a provider could have answered. Stamped at the write, it made the client's next
    // polls (spaced from its timeout, as they should be) look early.
    provider.delivered(res.record, outcome, ok, res.delay > 0 ? res.record.t : write_started);
    if (!ok || outcome == Outcome::truncated) {
        co_return Next::abort;
    }
    co_return msg.keep_alive() ? Next::keep : Next::close;
}

awaitable<Next> serve_one(Stream& stream, beast::flat_buffer& buffer, Provider& provider) {
    Parser parser;
    parser.header_limit(kMaxHeader);
    parser.body_limit(kMaxBody);
    const beast::error_code ec = co_await read_request(stream, buffer, parser);
    if (ec == http::error::body_limit) {
        Response res = provider.protocol_error(
            413, "payload_too_large", "body: the request body exceeds 10 MiB", epoch_now());
        co_await deliver(stream, res, provider, false);
        co_return Next::abort;  // the rest of the body is still in flight
    }
    if (is_parse_error(ec)) {
        Response res = provider.protocol_error(400, "bad_request",
                                               "malformed HTTP request: " + ec.message(),
                                               epoch_now());
        co_await deliver(stream, res, provider, false);
        co_return Next::abort;
    }
    if (ec) {
        co_return Next::abort;  // disconnect, timeout or TLS error: nobody to answer
    }
    const Request req = to_request(parser.release(), epoch_now());
    Response res = provider.handle(req);
    const Next next = co_await deliver(stream, res, provider, req.keep_alive);
    co_return next;
}

// Lets the client send its ClientHello, then closes: the handshake fails on the client side.
awaitable<void> abort_tls(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(kHandshakeTimeout);
    std::array<char, 512> hello{};
    co_await stream.async_read_some(asio::buffer(hello), kTok);
    stream.close();
}

awaitable<void> session(tcp::socket socket, ssl::context& ctx, Provider& provider) {
    provider.on_connection();
    if (provider.roll_tls_fault()) {
        co_await abort_tls(std::move(socket));
        co_return;
    }
    Stream stream(std::move(socket), ctx);
    beast::get_lowest_layer(stream).expires_after(kHandshakeTimeout);
    const auto hs = co_await stream.async_handshake(ssl::stream_base::server, kTok);
    if (std::get<0>(hs)) {
        co_return;
    }
    provider.on_handshake();
    beast::flat_buffer buffer;
    Next next = Next::keep;
    while (next == Next::keep) {
        const Next after = co_await serve_one(stream, buffer, provider);
        next = after;
    }
    if (next == Next::close) {
        beast::get_lowest_layer(stream).expires_after(kShutdownTimeout);
        co_await stream.async_shutdown(kTok);
    }
    beast::get_lowest_layer(stream).close();
}

void on_coroutine_end(std::exception_ptr e) {
    if (!e) {
        return;
    }
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "genq-fakeapi: connection failed: %s\n", ex.what());
    } catch (...) {
        std::fprintf(stderr, "genq-fakeapi: connection failed\n");
    }
}

awaitable<void> accept_loop(tcp::acceptor& acceptor, ssl::context& ctx, Provider& provider) {
    while (acceptor.is_open()) {
        auto accepted = co_await acceptor.async_accept(kTok);
        if (std::get<0>(accepted)) {
            if (std::get<0>(accepted) == asio::error::operation_aborted) {
                co_return;
            }
            continue;  // e.g. EMFILE: the next accept may succeed
        }
        asio::co_spawn(acceptor.get_executor(),
                       session(std::move(std::get<1>(accepted)), ctx, provider),
                       on_coroutine_end);
    }
}

tcp::endpoint parse_listen(const std::string& listen) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) {
        throw std::invalid_argument("--listen must be HOST:PORT, got " + listen);
    }
    std::string host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (host == "localhost") {
        host = "127.0.0.1";
    }
    const auto address = asio::ip::make_address(host);
    if (!address.is_loopback()) {
        throw std::invalid_argument("--listen must be a loopback address (test stand-in only)");
    }
    return {address, static_cast<unsigned short>(std::stoul(listen.substr(colon + 1)))};
}

ssl::context make_tls_context(const Options& opt) {
    ssl::context ctx(ssl::context::tls_server);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    ctx.use_certificate_chain_file(opt.cert);
    ctx.use_private_key_file(opt.key, ssl::context::pem);
    return ctx;
}

// Written atomically (rename) so that a waiting test never reads a half-written number.
void write_port_file(const std::string& path, unsigned short port) {
    if (path.empty()) {
        return;
    }
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << port << "\n";
        if (!out.flush()) {
            throw std::runtime_error("cannot write port file " + path);
        }
    }
    std::filesystem::rename(tmp, path);
}

}  // namespace

int run_server(const Options& options) {
    ssl::context ctx = make_tls_context(options);
    Provider provider(options);
    // Declared after ctx and provider: destroying it destroys the suspended connection
    // coroutines, which still refer to both.
    asio::io_context ioc{1};
    tcp::acceptor acceptor(ioc);
    const auto endpoint = parse_listen(options.listen);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    write_port_file(options.port_file, acceptor.local_endpoint().port());
    std::fprintf(stderr, "genq-fakeapi: listening on port %u\n",
                 static_cast<unsigned>(acceptor.local_endpoint().port()));

    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&ioc](const boost::system::error_code&, int) { ioc.stop(); });
    asio::co_spawn(ioc, accept_loop(acceptor, ctx, provider), on_coroutine_end);
    ioc.run();
    return 0;
}

}  // namespace fakeapi
