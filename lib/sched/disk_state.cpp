#include "sched/disk_state.hpp"

#include <limits>

namespace genq::sched {

DiskChange DiskState::on_no_space(const std::string& what, TimePoint now) {
    ++failures_;
    if (full_) return DiskChange::none;  // the episode is already known and logged
    full_ = true;
    since_ = now;
    what_ = what;
    next_probe_ = now + probe_every_;
    ++episodes_;
    return DiskChange::became_full;
}

DiskChange DiskState::on_probe(bool room, TimePoint now) {
    if (!full_) return DiskChange::none;
    if (!room) {
        next_probe_ = now + probe_every_;
        return DiskChange::none;
    }
    full_ = false;
    what_.clear();
    return DiskChange::became_clear;
}

TimePoint DiskState::next_probe() const {
    return full_ ? next_probe_ : std::numeric_limits<TimePoint>::infinity();
}

}  // namespace genq::sched
