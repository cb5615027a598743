#include "sched/db_compactor.hpp"

#include <limits>

namespace genq::sched {

void DbCompactor::request(TimePoint now) {
    if (active_) return;
    active_ = true;
    next_at_ = now;
    started_ = now;
    report_ = {};
}

TimePoint DbCompactor::next_at() const {
    return active_ ? next_at_ : std::numeric_limits<TimePoint>::infinity();
}

std::optional<int> DbCompactor::step(TimePoint now) {
    if (!active_ || now < next_at_) return std::nullopt;
    return kPagesPerStep;
}

DbCompactor::Outcome DbCompactor::on_step(std::int64_t freed, std::int64_t free_left,
                                          TimePoint now) {
    Outcome o;
    if (!active_) return o;
    ++report_.steps;
    report_.pages_freed += freed;
    // Nothing freed with pages still free means the store cannot (auto_vacuum off): stop.
    bool more = free_left >= kMinFree && freed > 0 && report_.steps < kMaxSteps;
    if (more) {
        next_at_ = now + kStepPause;
        return o;
    }
    active_ = false;
    report_.seconds = now - started_;
    o.checkpoint = report_.pages_freed > 0;
    o.finished = report_;
    return o;
}

}  // namespace genq::sched
