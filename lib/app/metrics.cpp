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

}  // namespace genq::app
