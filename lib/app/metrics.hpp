// Counters for /metrics (SPEC §9), rendered in the Prometheus text format.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>

namespace genq::app {

struct Metrics {
    // requests[key]["2xx"|"4xx"|"5xx"|"error"]
    std::map<std::string, std::map<std::string, std::uint64_t>> requests;
    std::map<std::string, std::uint64_t> rate_limited;  // 429s per key
    std::map<std::string, std::uint64_t> lockouts;      // lock-outs started per key
    std::uint64_t polls = 0;
    std::uint64_t bytes_downloaded = 0;
    std::uint64_t transitions = 0;
    // Request latency histogram (seconds).
    static constexpr std::array<double, 10> kBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
    std::array<std::uint64_t, kBuckets.size()> latency_buckets{};
    std::uint64_t latency_count = 0;
    double latency_sum = 0;

    void observe_request(const std::string& key, int status, double seconds);
    void observe_error(const std::string& key, double seconds);
    std::string render_requests() const;  // the request/latency families; the rest is rendered
                                          // by the control API with live state
};

}  // namespace genq::app
