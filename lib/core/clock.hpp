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
// "2026-11-21T10:00:00.000Z"
std::string iso8601_ms(std::int64_t ms);
// "2026-11-21" (UTC day), for daily budgets.
std::string utc_day(TimePoint t);

}  // namespace genq
