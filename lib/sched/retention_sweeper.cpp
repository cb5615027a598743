#include "sched/retention_sweeper.hpp"

#include <algorithm>
#include <cmath>

namespace genq::sched {
namespace {

std::int64_t ms(TimePoint t) { return static_cast<std::int64_t>(std::floor(t * 1000)); }

// The shared store keeps an unreferenced input stored within the grace: another node may be
// about to commit a job that uses it (a put and its job's insert are milliseconds apart). At
// least kMinInputGrace, at most kInputGrace, else as long as the jobs themselves are kept. An
// input kept by it goes in a later sweep.
double grace_for(double older_than_s) {
    return std::clamp(older_than_s, RetentionSweeper::kMinInputGrace,
                      RetentionSweeper::kInputGrace);
}

}  // namespace

void RetentionSweeper::configure(const RetentionConfig& c, TimePoint now) {
    TimePoint first = now + std::min(c.sweep_every, kFirstSweepAfter);
    if (!configured_ || phase_ == Phase::idle)
        next_at_ = configured_ ? std::min(next_at_, now + c.sweep_every) : first;
    config_ = c;
    configured_ = true;
}

std::optional<SweepStep> RetentionSweeper::step(TimePoint now) {
    if (!configured_ || now < next_at_) return std::nullopt;
    if (phase_ == Phase::idle) {
        report_ = {};
        sweep_started_ = now;
        if (config_.finished_jobs > 0) {
            phase_ = Phase::pruning;
            query_ = {};
            query_.finished_before_ms = ms(now - config_.finished_jobs);
            query_.limit = config_.batch;
            query_.input_grace_s = grace_for(config_.finished_jobs);
        } else {
            phase_ = Phase::finishing;  // jobs are kept forever; answers still expire
        }
    }
    SweepStep s;
    if (phase_ == Phase::pruning) {
        s.kind = SweepStep::Kind::prune;
        s.query = query_;
        return s;
    }
    s.kind = SweepStep::Kind::finish;
    s.forget_answers_before_ms = ms(now) - kAnswersKeepMs;
    s.checkpoint = report_.removed.jobs > 0 || report_.removed.inputs > 0;
    return s;
}

void RetentionSweeper::pruned(const ports::PruneCount& n, TimePoint now) {
    if (phase_ != Phase::pruning) return;
    report_.removed += n;
    ++report_.batches;
    if (n.jobs >= query_.limit) {
        next_at_ = now + kBatchPause;  // more to do: after the loop served what waits
    } else {
        phase_ = Phase::finishing;
        next_at_ = now;
    }
}

SweepReport RetentionSweeper::finished(TimePoint now) {
    SweepReport r = report_;
    r.seconds = now - sweep_started_;
    phase_ = Phase::idle;
    next_at_ = now + config_.sweep_every;
    report_ = {};
    return r;
}

ports::PruneQuery RetentionSweeper::purge_query(double older_than_s,
                                                const std::vector<JobState>& states,
                                                TimePoint now) const {
    ports::PruneQuery q;
    // 0: everything finished up to this millisecond, included.
    q.finished_before_ms = older_than_s > 0 ? ms(now - older_than_s) : ms(now) + 1;
    q.states = states;
    q.limit = config_.batch;
    q.input_grace_s = grace_for(older_than_s);
    return q;
}

}  // namespace genq::sched
