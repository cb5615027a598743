#include "api/status_render.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace genq::api {
namespace {

using Counters = ports::ProviderCounters;
using PerKey = std::map<std::string, std::uint64_t>;

// Every series exists from the start, at 0 until it counts something: a rate() or an alert on a
// series that appears only after the first error would miss that first error.
PerKey with_every_key(PerKey counts, const ports::StatusView& s) {
    for (const auto& k : s.keys) counts.emplace(k.name, 0);
    return counts;
}

void render_requests(const Counters& c, const ports::StatusView& s, std::string& out) {
    out += "# HELP genq_provider_requests_total Requests sent to the provider.\n";
    out += "# TYPE genq_provider_requests_total counter\n";
    auto requests = c.requests;
    for (const auto& k : s.keys)
        for (const char* cls : {"2xx", "4xx", "5xx", "error"}) requests[k.name].emplace(cls, 0);
    for (const auto& [key, by_class] : requests)
        for (const auto& [cls, n] : by_class)
            out += fmt::format("genq_provider_requests_total{{key=\"{}\",class=\"{}\"}} {}\n", key,
                               cls, n);
    out += "# HELP genq_provider_rate_limited_total 429 answers.\n";
    out += "# TYPE genq_provider_rate_limited_total counter\n";
    for (const auto& [key, n] : with_every_key(c.rate_limited, s))
        out += fmt::format("genq_provider_rate_limited_total{{key=\"{}\"}} {}\n", key, n);
    out += "# HELP genq_key_lockouts_total Lock-outs started after a 429.\n";
    out += "# TYPE genq_key_lockouts_total counter\n";
    for (const auto& [key, n] : with_every_key(c.lockouts, s))
        out += fmt::format("genq_key_lockouts_total{{key=\"{}\"}} {}\n", key, n);
    out += "# HELP genq_polls_total Result polls sent.\n# TYPE genq_polls_total counter\n";
    out += fmt::format("genq_polls_total {}\n", c.polls);
    out += "# HELP genq_downloaded_bytes_total Result bytes received.\n";
    out += "# TYPE genq_downloaded_bytes_total counter\n";
    out += fmt::format("genq_downloaded_bytes_total {}\n", c.bytes_downloaded);
}

void render_latency(const Counters& c, std::string& out) {
    out += "# HELP genq_request_duration_seconds Provider request latency.\n";
    out += "# TYPE genq_request_duration_seconds histogram\n";
    for (std::size_t i = 0; i < Counters::kBuckets.size(); ++i)
        out += fmt::format("genq_request_duration_seconds_bucket{{le=\"{}\"}} {}\n",
                           Counters::kBuckets[i], c.latency_buckets[i]);
    out += fmt::format("genq_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", c.latency_count);
    out += fmt::format("genq_request_duration_seconds_sum {}\n", c.latency_sum);
    out += fmt::format("genq_request_duration_seconds_count {}\n", c.latency_count);
}

void render_loop_lag(const ports::LoopLag& l, std::string& out) {
    out += "# HELP genq_loop_lag_seconds How late the event loop ran its probe timer.\n";
    out += "# TYPE genq_loop_lag_seconds histogram\n";
    for (std::size_t i = 0; i < ports::LoopLag::kBuckets.size(); ++i)
        out += fmt::format("genq_loop_lag_seconds_bucket{{le=\"{}\"}} {}\n",
                           ports::LoopLag::kBuckets[i], l.buckets[i]);
    out += fmt::format("genq_loop_lag_seconds_bucket{{le=\"+Inf\"}} {}\n", l.count);
    out += fmt::format("genq_loop_lag_seconds_sum {}\n", l.sum);
    out += fmt::format("genq_loop_lag_seconds_count {}\n", l.count);
    out += "# HELP genq_loop_lag_max_seconds The longest loop stall seen since start.\n";
    out += "# TYPE genq_loop_lag_max_seconds gauge\n";
    out += fmt::format("genq_loop_lag_max_seconds {}\n", l.max);
    out += "# HELP genq_loop_lag_recent_max_seconds The longest stall in the last 1-2 minutes.\n";
    out += "# TYPE genq_loop_lag_recent_max_seconds gauge\n";
    out += fmt::format("genq_loop_lag_recent_max_seconds {}\n", l.recent_max);
}

// Only on a shared store: how the store's limiter answered, and how long it took.
void render_reservations(const Counters& c, std::string& out) {
    if (c.reservation_count == 0 && c.reservations.empty()) return;
    out += "# HELP genq_shared_reservations_total Reservations asked of the shared limiter.\n";
    out += "# TYPE genq_shared_reservations_total counter\n";
    for (const auto& [answer, n] : c.reservations)
        out += fmt::format("genq_shared_reservations_total{{answer=\"{}\"}} {}\n", answer, n);
    auto v = c.reservation_samples;
    std::sort(v.begin(), v.end());
    out += "# HELP genq_shared_reservation_seconds Round trip of one reservation (latest ones).\n";
    out += "# TYPE genq_shared_reservation_seconds summary\n";
    for (double q : {0.5, 0.9, 0.99})
        if (!v.empty())
            out += fmt::format("genq_shared_reservation_seconds{{quantile=\"{}\"}} {}\n", q,
                               v[std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()))]);
    out += fmt::format("genq_shared_reservation_seconds_sum {}\n", c.reservation_sum);
    out += fmt::format("genq_shared_reservation_seconds_count {}\n", c.reservation_count);
}

void render_live(const ports::StatusView& s, std::string& out) {
    out += "# HELP genq_jobs Jobs by state.\n# TYPE genq_jobs gauge\n";
    auto counts = s.counts;
    for (const char* st : {"queued", "submitting", "running", "succeeded", "failed", "canceled"})
        counts.emplace(st, 0);
    for (const auto& [state, n] : counts)
        out += fmt::format("genq_jobs{{state=\"{}\"}} {}\n", state, n);
    out += "# HELP genq_key_requests_in_window Requests of the key in the current window.\n";
    out += "# TYPE genq_key_requests_in_window gauge\n";
    for (const auto& k : s.keys)
        out += fmt::format("genq_key_requests_in_window{{key=\"{}\"}} {}\n", k.name,
                           k.requests_in_window);
    out += "# HELP genq_key_in_flight Remote generations under way per key.\n";
    out += "# TYPE genq_key_in_flight gauge\n";
    for (const auto& k : s.keys)
        out += fmt::format("genq_key_in_flight{{key=\"{}\"}} {}\n", k.name, k.in_flight);
    out += "# HELP genq_state_disk_full 1 while the state directory's file system has no room "
           "(new submissions refused).\n# TYPE genq_state_disk_full gauge\n";
    out += fmt::format("genq_state_disk_full {}\n", s.state_disk.full ? 1 : 0);
    out += "# HELP genq_state_disk_unsaved Changes of jobs under way waiting for space to be "
           "written.\n# TYPE genq_state_disk_unsaved gauge\n";
    out += fmt::format("genq_state_disk_unsaved {}\n", s.state_disk.unsaved);
    out += "# HELP genq_key_balance_credits The key's provider balance (keys read so far).\n";
    out += "# TYPE genq_key_balance_credits gauge\n";
    for (const auto& k : s.keys)
        if (k.balance)
            out += fmt::format("genq_key_balance_credits{{key=\"{}\"}} {}\n", k.name, *k.balance);
}

}  // namespace

std::string render_metrics(const ports::StatusView& status, const ports::ProviderCounters& c) {
    std::string out;
    render_requests(c, status, out);
    render_latency(c, out);
    render_loop_lag(c.loop_lag, out);
    render_reservations(c, out);
    render_live(status, out);
    return out;
}

}  // namespace genq::api
