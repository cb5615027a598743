// Sans-io: when finished jobs are pruned and what each step asks of the store. The driver
// (app/retention_driver) owns the timer and the store; this class only decides. A sweep runs
// every `sweep_every` seconds: it fixes its cut-off (now - finished_jobs) once, then asks for
// batches of at most `batch` jobs, a short pause apart so the event loop serves other work
// between them, until a batch comes back short; then it asks for the finishing step (forget
// idempotency answers older than SPEC §6's 24 h, checkpoint the log) and sleeps again.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "core/clock.hpp"
#include "core/retention_config.hpp"
#include "ports/retention.hpp"

namespace genq::sched {

struct SweepStep {
    enum class Kind { prune, finish };
    Kind kind = Kind::prune;
    ports::PruneQuery query;                   // prune: the batch to delete
    std::int64_t forget_answers_before_ms = 0;  // finish: idempotency answers older than this
    bool checkpoint = false;                    // finish: the sweep deleted something
};

struct SweepReport {
    ports::PruneCount removed;
    int batches = 0;
    double seconds = 0;  // from the first batch to the finishing step
};

class RetentionSweeper {
public:
    static constexpr double kFirstSweepAfter = 10;      // seconds after start-up, at most
    static constexpr double kBatchPause = 0.02;         // seconds between two batches
    static constexpr double kInputGrace = 600;          // seconds (see grace_for)
    static constexpr double kMinInputGrace = 5;
    static constexpr std::int64_t kAnswersKeepMs = 24 * 3600 * 1000LL;  // SPEC §6

    // (Re)starts the schedule: the next sweep at now + min(sweep_every, kFirstSweepAfter), or
    // at the same time as before if a reload did not shorten it. A sweep under way goes on with
    // the cut-off it started with.
    void configure(const RetentionConfig& c, TimePoint now);
    const RetentionConfig& config() const { return config_; }

    // When step() is next worth calling.
    TimePoint next_at() const { return next_at_; }
    bool sweeping() const { return phase_ != Phase::idle; }

    // What to do at `now`; nullopt before next_at().
    std::optional<SweepStep> step(TimePoint now);
    // The answer to a prune step.
    void pruned(const ports::PruneCount& n, TimePoint now);
    // The finishing step was done: the sweep is over; what it removed.
    SweepReport finished(TimePoint now);

    // The batch a purge (genqctl purge) asks for: finished at least `older_than_s` ago.
    ports::PruneQuery purge_query(double older_than_s, const std::vector<JobState>& states,
                                  TimePoint now) const;

private:
    enum class Phase { idle, pruning, finishing };
    RetentionConfig config_;
    bool configured_ = false;
    Phase phase_ = Phase::idle;
    TimePoint next_at_ = 0;
    TimePoint sweep_started_ = 0;
    ports::PruneQuery query_;
    SweepReport report_;
};

}  // namespace genq::sched
