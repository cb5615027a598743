// The control server: HTTP/1.1 over the Unix control socket and the optional TCP listener, the
// same routes on both. A handler is a coroutine of ServerRequest -> ServerResponse, so it can wait
// (a group commit) without holding up the loop. Asio's awaitable is only named here (declared,
// not included): this file keeps Beast and Asio out of everything that is not lib/net.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/result.hpp"
#include "net/http_types.hpp"

namespace boost::asio {
class io_context;
class any_io_executor;
template <typename T, typename Executor>
class awaitable;
}  // namespace boost::asio

namespace genq::net {

struct ServerRequest {
    std::string method;
    std::string target;  // as received
    std::string path;    // percent-decoded path without the query
    std::string query;   // raw query string without '?'
    Headers headers;
    std::string body;
    std::optional<std::uint32_t> peer_uid;  // SO_PEERCRED on the Unix socket
    bool via_tcp = false;
    std::string query_param(std::string_view name) const;  // percent-decoded; empty if absent
    std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

template <class T>
using Awaitable = boost::asio::awaitable<T, boost::asio::any_io_executor>;

struct ServerResponse {
    int status = 200;
    std::string content_type = "application/json";
    Headers headers;
    std::string body;
    // When set, the file is served instead of `body`, honouring a single `Range: bytes=` range
    // (206 / 416) and advertising Accept-Ranges; content_type applies.
    std::string file_path;
    // When true the connection becomes a Server-Sent Events stream fed by ControlServer::publish.
    bool event_stream = false;
};

// The request stays alive (and unchanged) until the returned coroutine has finished.
using Handler = std::function<Awaitable<ServerResponse>(const ServerRequest&)>;
// A handler that never waits, as a Handler (tests, simple servers).
Handler sync_handler(std::function<ServerResponse(const ServerRequest&)> f);

struct ServerOptions {
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_body_bytes = 32 * 1024 * 1024;  // larger: 413
    double header_timeout = 10;                     // seconds to receive the whole header
    double body_timeout = 60;                       // seconds to receive the body
    double idle_timeout = 30;                       // keep-alive idle
    std::size_t max_connections = 1024;
    std::string tcp_token;  // when non-empty, TCP requests need "Authorization: Bearer <token>"
    double sse_ping_interval = 15;    // seconds between ": ping" comments on event streams
    std::size_t sse_queue_limit = 1000;  // events queued per subscriber before it is dropped
};

class ControlServer {
public:
    static std::unique_ptr<ControlServer> create(boost::asio::io_context& io, ServerOptions options,
                                                 Handler handler);
    virtual ~ControlServer() = default;

    // Binds a Unix socket at `path` (creating parent directories 0755 if missing), replacing a
    // stale socket file that nobody answers on; fails with code "socket_in_use" if a live server
    // answers there. Applies `mode` and, if non-empty, `group` (name) to the socket file.
    virtual Status listen_unix(const std::string& path, unsigned mode, const std::string& group) = 0;
    // Adopts an already listening Unix socket (systemd socket activation, LISTEN_FDS).
    virtual Status adopt_unix(int fd) = 0;
    // "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080".
    virtual Status listen_tcp(const std::string& host_port) = 0;
    // The port the first TCP listener is bound to (useful with port 0); -1 when none.
    virtual int tcp_port() const = 0;

    // Sends an SSE event to every event_stream connection ("event: <name>\ndata: <data>\n\n").
    // Slow subscribers are dropped (bounded queue), never block the loop. Like every member,
    // call it on the io_context's thread.
    virtual void publish(const std::string& event, const std::string& data) = 0;
    // Whether any event_stream connection is open: with none, an event need not be built.
    virtual bool has_subscribers() const = 0;

    // Stops accepting and closes all connections.
    virtual void stop() = 0;
    virtual std::size_t connections() const = 0;
};

}  // namespace genq::net
