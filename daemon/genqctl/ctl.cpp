#include "ctl.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "core/clock.hpp"

namespace genqctl {

genq::net::UnixHttpClient& Ctl::conn() {
    if (!client) client = std::make_unique<genq::net::UnixHttpClient>(socket);
    return *client;
}

genq::net::HttpResponse Ctl::call(const std::string& method, const std::string& target,
                                  std::string body, std::string content_type,
                                  const genq::net::Headers& headers) {
    genq::net::HttpRequest req;
    req.method = method;
    req.target = target;
    if (!content_type.empty()) req.headers.emplace_back("content-type", content_type);
    for (const auto& h : headers) req.headers.push_back(h);
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

std::string fit_path(const std::string& s, std::size_t width) {
    if (s.size() <= width) return s;
    if (width <= 1) return s.substr(s.size() - width);
    return "~" + s.substr(s.size() - (width - 1));
}

bool use_colour() {
    const char* no = std::getenv("NO_COLOR");
    if (no && *no) return false;
    const char* term = std::getenv("TERM");
    if (term && std::string(term) == "dumb") return false;
    return stdout_is_tty();
}

std::string paint(const std::string& s, const char* sgr) {
    if (!use_colour()) return s;
    return std::string("\033[") + sgr + "m" + s + "\033[0m";
}

std::string state_colour(const std::string& state) {
    if (state == "succeeded") return paint(state, "32");
    if (state == "failed") return paint(state, "31");
    if (state == "canceled") return paint(state, "2");
    if (state == "running" || state == "submitting") return paint(state, "36");
    if (state == "queued") return paint(state, "33");
    return state;
}

std::string local_time(std::int64_t ms) {
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    ::localtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm);
    return buf;
}

int lifecycle_rank(const std::string& state) {
    static const char* kOrder[] = {"queued", "submitting", "running",
                                   "succeeded", "failed", "canceled"};
    for (int i = 0; i < 6; ++i)
        if (state == kOrder[i]) return i;
    return 6;
}

void print_table(const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows, const TableStyle& style) {
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
    auto is_path = [&](std::size_t c) {
        return std::find(style.path_cols.begin(), style.path_cols.end(), c) !=
               style.path_cols.end();
    };
    auto line = [&](const std::vector<std::string>& cells, bool header) {
        std::string out;
        for (std::size_t c = 0; c < cells.size(); ++c) {
            bool is_last = c + 1 == cells.size();
            std::size_t width = is_last ? last : w[c];
            bool path = is_path(c) && !cells[c].empty() && cells[c][0] == '/';
            std::string cell = path ? fit_path(cells[c], width) : fit(cells[c], width);
            std::string pad = is_last ? "" : std::string(w[c] - cell.size() + 2, ' ');
            if (!header && static_cast<int>(c) == style.state_col) cell = state_colour(cell);
            out += cell + pad;
        }
        std::puts(out.c_str());
    };
    line(headers, true);
    for (const auto& r : rows) line(r, false);
}

std::string wait_words(const genq::Job& job, const genq::ports::StatusView* status) {
    if (job.state != genq::JobState::queued) return "";
    const std::string& key = job.requested_key;
    if (status && status->paused) return "submissions paused (genqctl resume)";
    const genq::ports::KeyView* mine = nullptr;
    bool any_usable = false;
    if (status)
        for (const auto& k : status->keys) {
            if (k.name == key) mine = &k;
            if (k.state == "active") any_usable = true;
        }
    auto locked = [](const genq::ports::KeyView& k) {
        return "key " + k.name + " locked until " +
               local_time(std::llround(k.locked_until * 1000));
    };
    if (mine && mine->paused) return "key " + key + " paused";
    if (mine && mine->locked_until > 0) return locked(*mine);
    if (job.wait_reason == "budget") return "daily credit budget used up";
    if (job.wait_reason == "backoff")
        return "backoff after an error, retry at " +
               local_time(std::llround(job.not_before_s * 1000));
    if (mine && mine->state != "active") return "key " + key + " is " + mine->state;
    if (status && !any_usable) {
        std::string why;
        for (const auto& k : status->keys)
            why += (why.empty() ? "" : ", ") +
                   (k.locked_until > 0 ? locked(k) : "key " + k.name + " " + k.state);
        if (why.empty()) return "no key with budget";
        return "no usable key (" + why.substr(4) + ")";  // without the first "key "
    }
    if (!job.wait_reason.empty()) return job.wait_reason;
    return "next in line";
}

void print_json(const nlohmann::json& j) {
    std::printf("%s\n", j.dump(2).c_str());
    std::fflush(stdout);
}

}  // namespace genqctl
