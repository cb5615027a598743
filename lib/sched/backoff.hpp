// Exponential backoff with full jitter: delay = U(0, min(max_delay, base * 2^(attempt-1))).
// Full jitter spreads retries of many jobs that failed together (a provider outage) instead of
// sending them back in one burst.
#pragma once

namespace genq::sched {

class Backoff {
public:
    Backoff(double base_delay, double max_delay) : base_(base_delay), max_(max_delay) {}
    // attempt >= 1: the number of the attempt that just failed. uniform01 in [0, 1).
    double delay(int attempt, double uniform01) const;
    double ceiling(int attempt) const;

private:
    double base_;
    double max_;
};

}  // namespace genq::sched
