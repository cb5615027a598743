// HTTPS client towards the provider: Beast over OpenSSL, peer and host-name verification, SNI,
// per-phase timeouts, keep-alive connections reused per host. The only TLS-client code in genq.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "core/result.hpp"
#include "net/http_types.hpp"

namespace boost::asio {
class io_context;
}

namespace genq::net {

struct ClientOptions {
    std::string base_url = "https://api.stability.ai";  // scheme https only; port optional
    std::string ca_file;               // extra PEM bundle, trusted besides the system store
    double timeout = 60;               // seconds, per phase: resolve+connect, TLS, write, read
    std::size_t max_idle = 16;         // idle keep-alive connections kept
    std::size_t max_connections = 16;  // requests under way at once; more wait for a slot
    std::size_t max_memory_body = 64 * 1024 * 1024;  // cap for bodies kept in memory
};

struct ClientStats {
    std::uint64_t requests = 0;     // send attempts that reached the wire
    std::uint64_t handshakes = 0;   // TLS handshakes done
    std::uint64_t reused = 0;       // requests sent on a kept-alive connection
    std::uint64_t bytes_in = 0;     // body bytes received
};

class HttpsClient {
public:
    // Fails (code "tls_config") when ca_file cannot be read or base_url is not https://host[:port].
    static Result<std::unique_ptr<HttpsClient>> create(boost::asio::io_context& io,
                                                       ClientOptions options);
    virtual ~HttpsClient() = default;

    // Sends one request. If `stream_to` is non-empty and the answer is a 2xx whose content type is
    // not JSON, the body is streamed into that file (created or truncated, fsynced before return)
    // and never held in memory; otherwise it is returned in HttpResponse::body.
    // `before_send` runs immediately before every attempt that puts bytes on the wire (the rate
    // limiter counts there); returning false ends the call with Error{"rate_limited_local"}.
    // A request on a reused connection that fails before any response byte is retried once on a
    // fresh connection (through before_send again).
    // Transport failures come back as Error with code "connect_failed", "tls_failed", "timeout",
    // "connection_reset", "truncated", "body_too_large", "io_error" or "canceled" (after
    // cancel_all). An HTTP answer of any status is a success of this call.
    virtual boost::asio::awaitable<Result<HttpResponse>> send(
        HttpRequest request, std::string stream_to, std::function<bool()> before_send) = 0;

    // Closes every connection; requests under way end with "canceled". Used at shutdown.
    virtual void cancel_all() = 0;

    virtual ClientStats stats() const = 0;
};

}  // namespace genq::net
