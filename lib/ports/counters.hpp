// The provider traffic counters /metrics shows (SPEC §9), as plain data: the engine counts, the
// control API renders (api/status_render).
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace genq::ports {

// How late the event loop ran a timer (app/loop_lag_probe): a stall of the single thread shows
// here as lag, whatever caused it (a long SQLite statement, an fsync, a big JSON reply).
struct LoopLag {
    static constexpr std::array<double, 9> kBuckets = {0.001, 0.002, 0.005, 0.01, 0.02,
                                                      0.05,  0.1,   0.5,   1};
    std::array<std::uint64_t, kBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
    double max = 0;         // since start
    double recent_max = 0;  // over the last one to two minutes
};

struct ProviderCounters {
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
    LoopLag loop_lag;
    // On a shared store: reservations asked of its limiter, by answer (granted, busy, locked,
    // unreachable), and their round-trip times (the latest kReservationSamples, seconds).
    std::map<std::string, std::uint64_t> reservations;
    static constexpr std::size_t kReservationSamples = 8192;
    std::vector<double> reservation_samples;
    std::size_t reservation_next = 0;  // the ring's next slot
    double reservation_sum = 0;
    std::uint64_t reservation_count = 0;
};

}  // namespace genq::ports
