// Sched-private: small helpers the job machine's files (job_machine*.cpp) share.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "sched/job_machine.hpp"

namespace genq::sched::detail {

constexpr TimePoint kNever = std::numeric_limits<TimePoint>::infinity();

inline std::int64_t ms(TimePoint t) { return static_cast<std::int64_t>(std::llround(t * 1000)); }
inline std::int64_t day_of(TimePoint t) {
    return static_cast<std::int64_t>(std::floor(t / 86400));
}

inline bool answered_with(const Reply& r, provider::Outcome o) {
    return r.answered && r.answer.outcome == o;
}

}  // namespace genq::sched::detail
