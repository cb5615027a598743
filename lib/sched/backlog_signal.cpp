#include "sched/backlog_signal.hpp"

#include <algorithm>

namespace genq::sched {

void BacklogSignal::left_waiting(const Job& job, TimePoint now, double interval) {
    // Ready since its submission, or since the time it was held back to (a backoff, a lock-out).
    TimePoint ready_since = std::max(static_cast<double>(job.created_at) / 1000.0,
                                     job.not_before_s);
    if (now - ready_since > interval) seen_at_ = now;
}

bool BacklogSignal::active(TimePoint now, double interval) const {
    return now - seen_at_ <= 2 * interval;
}

}  // namespace genq::sched
