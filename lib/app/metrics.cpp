#include "app/metrics.hpp"

#include <fmt/format.h>

namespace genq::app {
namespace {

void observe_latency(Metrics& m, double seconds) {
    for (std::size_t i = 0; i < Metrics::kBuckets.size(); ++i)
        if (seconds <= Metrics::kBuckets[i]) ++m.latency_buckets[i];
    ++m.latency_count;
    m.latency_sum += seconds;
}

}  // namespace

void Metrics::observe_request(const std::string& key, int status, double seconds) {
    std::string cls = fmt::format("{}xx", status / 100);
    ++requests[key][cls];
    if (status == 429) ++rate_limited[key];
    observe_latency(*this, seconds);
}

void Metrics::observe_error(const std::string& key, double seconds) {
    ++requests[key]["error"];
    observe_latency(*this, seconds);
}

std::string Metrics::render_requests() const {
    std::string out;
    out += "# HELP genq_provider_requests_total Requests sent to the provider.\n";
    out += "# TYPE genq_provider_requests_total counter\n";
    for (const auto& [key, by_class] : requests)
        for (const auto& [cls, n] : by_class)
            out += fmt::format("genq_provider_requests_total{{key=\"{}\",class=\"{}\"}} {}\n", key,
                               cls, n);
    out += "# HELP genq_provider_rate_limited_total 429 answers.\n";
    out += "# TYPE genq_provider_rate_limited_total counter\n";
    for (const auto& [key, n] : rate_limited)
        out += fmt::format("genq_provider_rate_limited_total{{key=\"{}\"}} {}\n", key, n);
    out += "# HELP genq_key_lockouts_total Lock-outs started after a 429.\n";
    out += "# TYPE genq_key_lockouts_total counter\n";
    for (const auto& [key, n] : lockouts)
        out += fmt::format("genq_key_lockouts_total{{key=\"{}\"}} {}\n", key, n);
    out += "# HELP genq_polls_total Result polls sent.\n# TYPE genq_polls_total counter\n";
    out += fmt::format("genq_polls_total {}\n", polls);
    out += "# HELP genq_downloaded_bytes_total Result bytes received.\n";
    out += "# TYPE genq_downloaded_bytes_total counter\n";
    out += fmt::format("genq_downloaded_bytes_total {}\n", bytes_downloaded);
    out += "# HELP genq_request_duration_seconds Provider request latency.\n";
    out += "# TYPE genq_request_duration_seconds histogram\n";
    for (std::size_t i = 0; i < kBuckets.size(); ++i)
        out += fmt::format("genq_request_duration_seconds_bucket{{le=\"{}\"}} {}\n", kBuckets[i],
                           latency_buckets[i]);
    out += fmt::format("genq_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", latency_count);
    out += fmt::format("genq_request_duration_seconds_sum {}\n", latency_sum);
    out += fmt::format("genq_request_duration_seconds_count {}\n", latency_count);
    return out;
}

}  // namespace genq::app
