#include "ctl.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

namespace genqctl {

genq::net::UnixHttpClient& Ctl::conn() {
    if (!client) client = std::make_unique<genq::net::UnixHttpClient>(socket);
    return *client;
}

genq::net::HttpResponse Ctl::call(const std::string& method, const std::string& target,
                                  std::string body, std::string content_type) {
    genq::net::HttpRequest req;
    req.method = method;
    req.target = target;
    if (!content_type.empty()) req.headers.emplace_back("content-type", content_type);
    req.body = std::move(body);
    auto res = conn().request(req);
    if (!res) {
        if (res.error().code == "unreachable")
            throw ExitError{kUnreachable, "genqd is not running at " + socket};
        throw ExitError{kUnreachable,
                        "cannot talk to genqd at " + socket + ": " + res.error().message};
    }
    return std::move(res).value();
}

nlohmann::json Ctl::call_json(const std::string& method, const std::string& target) {
    auto r = call(method, target);
    if (r.status >= 400) throw ExitError{kFailed, error_of(r)};
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_discarded()) throw ExitError{kFailed, "genqd sent a malformed answer"};
    return j;
}

std::string Ctl::error_of(const genq::net::HttpResponse& r) {
    if (auto e = genq::api::wire::parse_error(r.body)) return e->error;
    return "genqd answered HTTP " + std::to_string(r.status);
}

bool stdout_is_tty() {
    return ::isatty(1) == 1;
}

int terminal_width() {
    winsize ws{};
    if (::ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
    return 80;
}

std::string fit(const std::string& s, std::size_t width) {
    if (s.size() <= width) return s;
    if (width <= 1) return s.substr(0, width);
    return s.substr(0, width - 1) + "~";
}

void print_table(const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> w(headers.size());
    for (std::size_t c = 0; c < headers.size(); ++c) {
        w[c] = headers[c].size();
        for (const auto& r : rows) w[c] = std::max(w[c], r[c].size());
    }
    // The last column takes what the terminal has left.
    std::size_t used = 0;
    for (std::size_t c = 0; c + 1 < w.size(); ++c) used += w[c] + 2;
    std::size_t total = stdout_is_tty() ? static_cast<std::size_t>(terminal_width()) : 100000;
    std::size_t last = total > used + 8 ? total - used : 8;
    auto line = [&](const std::vector<std::string>& cells) {
        std::string out;
        for (std::size_t c = 0; c < cells.size(); ++c) {
            bool is_last = c + 1 == cells.size();
            std::string cell = fit(cells[c], is_last ? last : w[c]);
            out += cell;
            if (!is_last) out += std::string(w[c] - cell.size() + 2, ' ');
        }
        std::puts(out.c_str());
    };
    line(headers);
    for (const auto& r : rows) line(r);
}

}  // namespace genqctl
