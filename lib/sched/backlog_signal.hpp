// Whether queued work has been kept waiting. The poll planner picks its first-poll quantile from
// the key's load, on the idea that a key with budget to spare can afford polls answered 202 for a
// lower delay. That holds while the key is what limits throughput. When jobs that have been ready
// for longer than a poll interval are still left in the queue after an offer, something else is
// the limit (the key's pacing, or genqd itself: a loop waiting for fsyncs on a loaded disk sent
// at 48 % of the key's budget with 1,500 jobs queued), and every early poll is a request and a
// commit taken from work that is already late. While that holds the planner is told the key is
// saturated, so it polls once, late, as under a full key.
#pragma once
#include "core/clock.hpp"
#include "core/job.hpp"

namespace genq::sched {

class BacklogSignal {
public:
    // An offer at `now` left `job` queued (not placed).
    void left_waiting(const Job& job, TimePoint now, double interval);
    // Whether a job ready for longer than `interval` was left waiting within the last two
    // intervals (offers come at least that often while work waits).
    bool active(TimePoint now, double interval) const;

private:
    TimePoint seen_at_ = -1e300;
};

}  // namespace genq::sched
