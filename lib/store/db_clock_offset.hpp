// The database's clock as seen from one node (SPEC §11: node clocks may differ). Times that one
// node writes and another reads (a job's last poll and not_before, the limiter's send times,
// lock-outs) are kept in the database's clock; each node converts at the store's boundary with
// the offset db - node, measured on its heartbeats from the round trip's midpoint. The midpoint
// is wrong by at most half the round trip, so every conversion leans that much towards the
// safe side: a deadline converted either way comes out later, "now" converted comes out earlier
// (a poll, a retry or a lock-out is never early because two clocks disagree). Sans-io.
#pragma once
#include <array>
#include <cstddef>

#include "core/clock.hpp"

namespace genq::store {

class DbClockOffset {
public:
    // One measurement: this node's clock read just before and just after a statement that read
    // the database's clock (`db`).
    void sample(TimePoint node_before, TimePoint db, TimePoint node_after);

    // A deadline of this node's clock in the database's clock, and back: both lean later.
    // 0 ("none") stays 0.
    TimePoint deadline_to_db(TimePoint node_t) const;
    TimePoint deadline_to_node(TimePoint db_t) const;
    // This node's "now" in the database's clock, leaning earlier (what is ready by then).
    TimePoint now_to_db(TimePoint node_now) const;

    double offset() const { return offset_; }          // db - node, seconds
    double uncertainty() const { return uncertainty_; }  // half the best recent round trip

private:
    struct Sample {
        double offset = 0;
        double half_rtt = 0;
        bool set = false;
    };
    static constexpr std::size_t kKept = 8;  // the best of the last 8 heartbeats is used
    std::array<Sample, kKept> samples_{};
    std::size_t next_ = 0;
    double offset_ = 0;
    double uncertainty_ = 0;
};

}  // namespace genq::store
