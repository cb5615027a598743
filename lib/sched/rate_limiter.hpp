// An exact sliding-window limiter: at most `limit` sends in ANY window of `window` seconds.
// It remembers the last `limit` send times; a send at t is allowed when the limit-th most recent
// send (counting reservations) is more than `window` before t. A token bucket or a fixed window
// would let up to 2x the limit through around a boundary; this cannot.
#pragma once
#include <deque>
#include <vector>

#include "core/clock.hpp"

namespace genq::sched {

class SlidingWindowLimiter {
public:
    SlidingWindowLimiter(int limit, double window);
    void configure(int limit, double window);

    // Whether one more send (on top of `reserved` sends decided but not yet on the wire) is
    // allowed at `now`.
    bool can_send(TimePoint now, int reserved = 0) const;
    // Earliest time >= now at which can_send(t, reserved) holds.
    TimePoint next_free(TimePoint now, int reserved = 0) const;
    void record(TimePoint t);
    // Takes back one send recorded at `t` (it did not go after all: a shared limiter refused it).
    void forget(TimePoint t);
    int in_window(TimePoint now) const;  // sends in (now - window, now]

    int limit() const { return limit_; }
    double window() const { return window_; }
    std::vector<TimePoint> history() const { return {sends_.begin(), sends_.end()}; }

private:
    int limit_;
    double window_;
    std::deque<TimePoint> sends_;  // ascending, at most limit_ kept
};

}  // namespace genq::sched
