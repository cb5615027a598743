// Blocking HTTP/1.1 client over a Unix socket, for genqctl (one connection reused for many
// requests) and tests. Not used by the daemon's event loop.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "net/http_types.hpp"

namespace genq::net {

class UnixHttpClient {
public:
    explicit UnixHttpClient(std::string socket_path, double timeout = 30);
    ~UnixHttpClient();
    UnixHttpClient(const UnixHttpClient&) = delete;
    UnixHttpClient& operator=(const UnixHttpClient&) = delete;

    // Connects lazily and reuses the connection. Error code "unreachable" when nothing listens
    // at the path (ENOENT, ECONNREFUSED), "io_error" otherwise.
    Result<HttpResponse> request(const HttpRequest& req);

    // GET `target` as Server-Sent Events; calls on_event(event, data) for each event until it
    // returns false or the stream ends. Uses its own connection.
    Status stream_events(const std::string& target,
                         const std::function<bool(const std::string&, const std::string&)>& on_event);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace genq::net
