// Plain HTTP message types shared by the client, the server and the handlers. No Beast here.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace genq::net {

using Headers = std::vector<std::pair<std::string, std::string>>;  // names in lower case

// {"error": message, "code": code}: the one error body of genqd's HTTP answers, written here for
// the server's own refusals and by api/wire for the handlers'. Invalid UTF-8 is replaced.
std::string error_body(std::string_view code, std::string_view message);

// Case-insensitive lookup; empty when absent.
std::string_view find_header(const Headers& h, std::string_view name);

struct HttpRequest {
    std::string method = "GET";
    std::string target;  // path and query, e.g. "/v2beta/image-to-video/result/abc"
    Headers headers;     // host, content-length and connection are added by the client
    std::string body;
    // Runs when a 2xx answer's body starts streaming into the request's file (a result is
    // arriving): shutdown gives such downloads a grace instead of abandoning them.
    std::function<void()> on_stream_start;
};

struct HttpResponse {
    int status = 0;
    Headers headers;
    std::string body;           // the body, unless it was streamed to a file
    std::string body_file;      // set when the body was streamed to a file
    std::uint64_t body_bytes = 0;
    std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

}  // namespace genq::net
