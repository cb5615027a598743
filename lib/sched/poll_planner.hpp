// When to poll a running generation next. Spacing is measured from the moment the previous poll's
// answer arrived: the provider received that poll before it answered, so the next poll reaches it
// at least `interval` later whatever the network did.
//
// The first poll learns: per kind, the planner keeps an estimate of how long generations take
// (GenTimeEstimate, fed by every result) and sends the first poll at a quantile of it instead of
// one interval after the acceptance, so a generation of 3.5 intervals costs a submit and one or
// two polls instead of five. The quantile follows the key's load: a low one (the result is fetched
// soon after it is ready) while the key has budget to spare, a high one (one poll per video) when
// the key's budget is nearly spent, where a poll answered 202 takes the place of a submission.
// Never sooner than one interval after the acceptance, and with no history exactly as before.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "sched/gen_time_estimate.hpp"

namespace genq::sched {

class PollPlanner {
public:
    static constexpr double kLowQuantile = 0.45;   // idle key: about half the first polls find it
    static constexpr double kHighQuantile = 0.98;  // saturated key: nearly every first poll does
    static constexpr double kLoadLow = 0.5;        // key load (share of its window) where the
    static constexpr double kLoadHigh = 0.9;       // ... quantile starts and stops rising
    static constexpr long kMinSamples = 3;         // results before the estimate is used

    explicit PollPlanner(double interval) : interval_(interval) {}
    void set_interval(double interval) { interval_ = interval; }
    double interval() const { return interval_; }

    // First poll of a generation of `kind` accepted at `accepted_at`, on a key whose window is
    // `load` (0..1) used.
    TimePoint first_poll(TimePoint accepted_at, std::string_view kind = {}, double load = 0) const;
    // Next poll after an in-progress answer (or a failed poll: never sooner than the interval).
    TimePoint next_poll(TimePoint last_answer_at) const { return last_answer_at + interval_; }

    // A generation of `kind` accepted at `accepted_at` returned its result to a poll answered at
    // `result_at`; the last poll that found it still running was answered at `pending_at`
    // (0 = none).
    void on_result(std::string_view kind, TimePoint accepted_at, TimePoint pending_at,
                   TimePoint result_at);
    // The learned state, one text blob per kind: restored at start-up (false: not a blob of
    // ours, ignored) and taken when changed, to be saved.
    bool restore(const std::string& kind, std::string_view blob);
    std::vector<std::pair<std::string, std::string>> take_changed();
    const GenTimeEstimate* estimate(std::string_view kind) const;

private:
    double interval_;
    std::map<std::string, GenTimeEstimate, std::less<>> by_kind_;
    std::map<std::string, bool, std::less<>> changed_;
};

}  // namespace genq::sched
