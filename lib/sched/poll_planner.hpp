// When to poll a running generation next. Spacing is measured from the moment the previous poll's
// answer arrived: the provider received that poll before it answered, so the next poll reaches it
// at least `interval` later whatever the network did.
#pragma once
#include "core/clock.hpp"

namespace genq::sched {

class PollPlanner {
public:
    explicit PollPlanner(double interval) : interval_(interval) {}
    void set_interval(double interval) { interval_ = interval; }
    double interval() const { return interval_; }

    // First poll after the submission was answered.
    TimePoint first_poll(TimePoint submit_answered_at) const { return submit_answered_at + interval_; }
    // Next poll after an in-progress answer (or a failed poll: never sooner than the interval).
    TimePoint next_poll(TimePoint last_answer_at) const { return last_answer_at + interval_; }

private:
    double interval_;
};

}  // namespace genq::sched
