#include "api/control_api.hpp"

#include <array>
#include <boost/asio/awaitable.hpp>
#include <charconv>

#include "api/routes.hpp"
#include "api/wire.hpp"

namespace genq::api {
namespace {

using net::ServerRequest;
using net::ServerResponse;

struct Route {
    std::string_view method;   // GET routes also answer HEAD where `head` is set
    std::string_view pattern;  // segments; "{}" captures one
    Handler handler;
    bool head = false;
};

// One row per endpoint. The first row whose method and pattern match handles the request.
constexpr std::array kRoutes{
    Route{"GET", "/", page, true},
    Route{"POST", "/v1/jobs", submit_job},
    Route{"GET", "/v1/jobs", list_jobs},
    Route{"POST", "/v1/jobs/batch", submit_batch},
    Route{"GET", "/v1/jobs/{}", get_job},
    Route{"GET", "/v1/jobs/{}/events", job_events},
    Route{"GET", "/v1/jobs/{}/output", job_output},
    Route{"POST", "/v1/jobs/{}/cancel", cancel_job},
    Route{"POST", "/v1/jobs/{}/retry", retry_job},
    Route{"GET", "/v1/status", status},
    Route{"GET", "/v1/events", event_stream},
    Route{"POST", "/v1/pause", pause},
    Route{"POST", "/v1/resume", resume},
    Route{"POST", "/v1/reload", reload},
    Route{"POST", "/v1/purge", purge},
    Route{"GET", "/metrics", metrics},
    Route{"POST", "/api/img2video", wrapper_submit},
    Route{"GET", "/api/img2video/result/{}", wrapper_result},
    Route{"GET", "/processed_videos/{}", processed_video, true},
};

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> parts;
    std::size_t i = 0;
    while (i < path.size()) {
        std::size_t j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        if (j > i) parts.emplace_back(path.substr(i, j - i));
        i = j + 1;
    }
    return parts;
}

// The captures when `parts` match the pattern's segments.
std::optional<std::vector<std::string>> match(std::string_view pattern,
                                              const std::vector<std::string>& parts) {
    std::vector<std::string> want = split_path(pattern);
    if (want.size() != parts.size()) return std::nullopt;
    std::vector<std::string> args;
    for (std::size_t i = 0; i < want.size(); ++i) {
        if (want[i] == "{}")
            args.push_back(parts[i]);
        else if (want[i] != parts[i])
            return std::nullopt;
    }
    return args;
}

bool method_matches(const Route& r, const std::string& method) {
    return r.method == method || (r.head && method == "HEAD");
}

// A browser sends Origin with a cross-site form POST; without this check any web page the user
// opens could queue jobs (and spend credits) on a loopback listener that has no token.
bool cross_site(const ServerRequest& req) {
    if (!req.via_tcp) return false;
    std::string_view origin = req.header("origin");
    if (origin.empty()) return false;  // not a browser, or a same-origin GET-like request
    auto scheme = origin.find("://");
    std::string_view host = scheme == std::string_view::npos ? origin : origin.substr(scheme + 3);
    return host != req.header("host");
}

}  // namespace

ServerResponse json_response(int status, const nlohmann::json& body) {
    ServerResponse r;
    r.status = status;
    r.body = wire::dump(body);
    return r;
}

ServerResponse json_error(int status, const std::string& code, const std::string& message) {
    ServerResponse r;
    r.status = status;
    r.body = wire::error_body({message, code});
    return r;
}

ServerResponse from_error(const Error& e) { return json_error(status_for(e.code), e.code, e.message); }

int status_for(const std::string& code) {
    if (code == "not_found") return 404;
    if (code == "conflict") return 409;
    if (code == "bad_multipart" || code == "bad_request") return 400;
    if (code.rfind("invalid_", 0) == 0) return 422;
    if (code == "payload_too_large" || code == "too_large") return 413;
    if (code == "no_space" || code == "io_error" || code == "state_disk_full" ||
        code == "unavailable")
        return 503;
    return 500;
}

std::optional<long long> parse_int(std::string_view s) {
    long long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

std::string content_type_for(const std::string& path) {
    auto dot = path.find_last_of('.');
    std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
    if (ext == "mp4") return "video/mp4";
    if (ext == "png") return "image/png";
    if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
    if (ext == "webp") return "image/webp";
    if (ext == "json") return "application/json";
    return "application/octet-stream";
}

bool is_multipart(const ServerRequest& req) {
    return req.header("content-type").find("multipart/form-data") != std::string_view::npos;
}

std::string content_disposition(std::string_view disposition, const std::string& path) {
    std::string file = path.substr(path.find_last_of('/') + 1);  // npos + 1 == 0
    for (auto& ch : file)
        if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f ||
            ch == '"' || ch == '\\')
            ch = '_';
    return std::string(disposition) + "; filename=\"" + file + "\"";
}

ControlApi::ControlApi(ApiContext ctx) : ctx_(std::move(ctx)), batcher_(ctx_.intake, ctx_.defer), idem_(ctx_.answers) {}

net::Awaitable<ServerResponse> ControlApi::handle(const ServerRequest& req) {
    if (req.method == "POST" && cross_site(req))
        co_return json_error(403, "forbidden",
                             "cross-origin POST refused (Origin does not match Host)");
    auto parts = split_path(req.path);
    for (const Route& route : kRoutes) {
        if (!method_matches(route, req.method)) continue;
        auto args = match(route.pattern, parts);
        if (!args) continue;
        Call call{ctx_, batcher_, idem_, req, std::move(*args)};
        ServerResponse res = co_await route.handler(call);
        co_return res;
    }
    // The path exists with other methods: 405 with the ones it takes (RFC 9110 §15.5.6).
    std::string allow;
    for (const Route& route : kRoutes) {
        if (!match(route.pattern, parts)) continue;
        std::string m(route.method);
        if (allow.find(m) == std::string::npos) allow += (allow.empty() ? "" : ", ") + m;
        if (route.head && allow.find("HEAD") == std::string::npos) allow += ", HEAD";
    }
    if (!allow.empty()) {
        ServerResponse res = json_error(
            405, "method_not_allowed", req.method + " " + req.path + " is not allowed; use " + allow);
        res.headers.emplace_back("allow", allow);
        co_return res;
    }
    co_return json_error(404, "not_found", "no route for " + req.method + " " + req.path);
}

}  // namespace genq::api
