#include "store/db_clock_offset.hpp"

#include <algorithm>

namespace genq::store {

void DbClockOffset::sample(TimePoint node_before, TimePoint db, TimePoint node_after) {
    double half = std::max(0.0, node_after - node_before) / 2;
    samples_[next_] = {db - (node_before + half), half, true};
    next_ = (next_ + 1) % kKept;
    // The sample with the shortest round trip bounds the error best; a stepped node clock
    // shows in every sample after the step, and the old ones age out within kKept heartbeats.
    const Sample* best = nullptr;
    for (const auto& s : samples_)
        if (s.set && (!best || s.half_rtt < best->half_rtt)) best = &s;
    offset_ = best->offset;
    uncertainty_ = best->half_rtt;
}

TimePoint DbClockOffset::deadline_to_db(TimePoint node_t) const {
    return node_t == 0 ? 0 : node_t + offset_ + uncertainty_;
}

TimePoint DbClockOffset::deadline_to_node(TimePoint db_t) const {
    return db_t == 0 ? 0 : db_t - offset_ + uncertainty_;
}

TimePoint DbClockOffset::now_to_db(TimePoint node_now) const {
    return node_now + offset_ - uncertainty_;
}

}  // namespace genq::store
