// How long one kind's generations take, learned online from polls. A poll answered "still
// running" at time L after the acceptance and the poll that returned the result at U only tell
// that the generation finished in (L, U]: the data are interval-censored. The estimate is a
// histogram over fixed, logarithmically spaced buckets (seconds, so a changed poll_interval keeps
// it valid), updated by one online EM step per observation: the observation's mass is spread over
// (L, U] in proportion to what the histogram already believes, then blended in with weight
// 1/min(n, kWindow), so it follows a provider whose speed drifts. O(buckets) per result.
#pragma once
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace genq::sched {

class GenTimeEstimate {
public:
    static constexpr int kBuckets = 128;
    static constexpr double kLow = 0.05;    // s: the first bucket also holds everything below
    static constexpr double kHigh = 7200;   // s: the last bucket also holds everything above
    static constexpr int kWindow = 200;     // observations that make up the estimate's memory

    // A generation finished after `lower` and by `upper` seconds from its acceptance
    // (lower = 0 when no poll found it still running). Non-finite or negative input is ignored.
    void observe(double lower, double upper);
    // Seconds after acceptance by which a share `q` (0..1) of generations have finished;
    // nullopt without any observation.
    std::optional<double> quantile(double q) const;
    long count() const { return count_; }

    // A compact text form for the store, and back (nullopt: not one of ours).
    std::string encode() const;
    static std::optional<GenTimeEstimate> decode(std::string_view text);

private:
    static double edge(int i);  // lower edge of bucket i (edge(0) = 0)
    std::array<double, kBuckets> weight_{};  // sums to 1 once count_ > 0
    long count_ = 0;
};

}  // namespace genq::sched
