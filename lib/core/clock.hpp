// Time as the sans-io classes see it: wall-clock seconds since the Unix epoch, fractional.
// Wall-clock (not steady) because the limiter's history is persisted across restarts.
#pragma once
#include <cstdint>
#include <string>

namespace genq {

using TimePoint = double;  // seconds since the epoch

// Never goes backwards within one process: a wall clock stepped back holds time still (the safe
// direction for a rate limiter) until the real clock catches up.
TimePoint now();
std::int64_t now_ms();
// The clock as a dependency: whatever decides takes the time as a parameter; the drivers read it
// from an injected Clock, so tests can run them on a manual one.
class Clock {
public:
    virtual ~Clock() = default;
    virtual TimePoint now() const = 0;
    std::int64_t now_ms() const { return static_cast<std::int64_t>(now() * 1000.0); }
};

// The wall clock behind genq::now().
const Clock& system_clock();

// A clock that moves only when told to (tests).
class ManualClock final : public Clock {
public:
    explicit ManualClock(TimePoint t = 1'800'000'000) : t_(t) {}
    TimePoint now() const override { return t_; }
    void advance(double seconds) { t_ += seconds; }
    void set(TimePoint t) { t_ = t; }

private:
    TimePoint t_;
};

// "2026-11-21T10:00:00.000Z"
std::string iso8601_ms(std::int64_t ms);
// "2026-11-21" (UTC day), for daily budgets.
std::string utc_day(TimePoint t);

}  // namespace genq
