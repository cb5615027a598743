#include "app/retention_driver.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "core/clock.hpp"
#include "core/job_state.hpp"
#include "sched/retention_sweeper.hpp"
#include "store/database.hpp"
#include "store/queue_store.hpp"

namespace genq::app {

namespace asio = boost::asio;

struct RetentionDriver::Impl {
    Impl(asio::io_context& io, store::QueueStore& s, const Clock& c)
        : timer(io), store(s), clock(c) {}

    asio::steady_timer timer;
    store::QueueStore& store;
    const Clock& clock;
    sched::RetentionSweeper sweeper;
    bool stopped = false;
    TimePoint retry_at = 0;  // after a sweep the store could not take (full disk, database down)

    void arm() {
        if (stopped) return;
        double wait = std::max(0.0, std::max(sweeper.next_at(), retry_at) - clock.now());
        timer.expires_after(std::chrono::microseconds(static_cast<std::int64_t>(wait * 1e6)));
        timer.async_wait([this](const boost::system::error_code& ec) {
            if (ec) return;  // canceled: stopped or re-armed by a reload
            guarded_tick();
            arm();
        });
    }

    // Pruning is housekeeping: a store that cannot take it now (no space for the WAL, a shared
    // store unreachable) is asked again a minute later; other database failures stop genqd as
    // everywhere else.
    void guarded_tick() {
        try {
            tick();
        } catch (const store::DiskFullError& e) {
            put_off("the state disk is full", e.what());
        } catch (const store::DbUnavailable& e) {
            put_off("the shared store is unreachable", e.what());
        }
    }

    void put_off(const char* why, const char* what) {
        spdlog::warn("retention: {} ({}); trying again in {:.0f} s", why, what, kRetryAfter);
        retry_at = clock.now() + kRetryAfter;
    }

    static constexpr double kRetryAfter = 60;

    void tick() {
        TimePoint t = clock.now();
        auto step = sweeper.step(t);
        if (!step) return;
        if (step->kind == sched::SweepStep::Kind::prune) {
            sweeper.pruned(store.prune_finished(step->query), clock.now());
            return;
        }
        std::int64_t answers = store.forget_answers(step->forget_answers_before_ms);
        if (step->checkpoint) store.checkpoint();
        report(sweeper.finished(clock.now()), answers);
    }

    void report(const sched::SweepReport& r, std::int64_t answers) {
        if (r.removed.jobs == 0 && r.removed.inputs == 0 && answers == 0) {
            spdlog::debug("retention: nothing to prune");
            return;
        }
        spdlog::info("retention: pruned {} job(s), {} event(s), {} input(s), {} idempotency "
                     "answer(s) in {} batch(es), {:.2f} s",
                     r.removed.jobs, r.removed.events, r.removed.inputs, answers, r.batches,
                     r.seconds);
    }
};

RetentionDriver::RetentionDriver(asio::io_context& io, store::QueueStore& store,
                                 const Clock& clock)
    : impl_(std::make_unique<Impl>(io, store, clock)) {}
RetentionDriver::~RetentionDriver() = default;

void RetentionDriver::configure(const RetentionConfig& c) {
    impl_->sweeper.configure(c, impl_->clock.now());
    impl_->arm();  // re-arming cancels the wait under way
}

void RetentionDriver::stop() {
    impl_->stopped = true;
    impl_->timer.cancel();
}

Result<ports::PurgeResult> RetentionDriver::purge(const ports::PurgeRequest& r) {
    for (JobState s : r.states)
        if (!is_terminal(s))
            return Error{"invalid_param", "state: only finished jobs can be purged (succeeded, "
                                          "failed, canceled); got " +
                                              std::string(to_string(s))};
    try {
        return purge_now(r);
    } catch (const store::DiskFullError& e) {
        return Error{"state_disk_full", std::string("purge: the state disk is full (") +
                                            e.what() + "); free space there and try again"};
    } catch (const store::DbUnavailable& e) {
        return Error{"unavailable", std::string("purge: the shared store is unreachable (") +
                                        e.what() + ")"};
    }
}

Result<ports::PurgeResult> RetentionDriver::purge_now(const ports::PurgeRequest& r) {
    auto& i = *impl_;
    double age = r.older_than_s.value_or(i.sweeper.config().finished_jobs);
    if (!r.older_than_s && age <= 0)
        return Error{"invalid_param",
                     "older_than: required, since [retention] finished_jobs is 0 (keep forever)"};
    if (age < 0) return Error{"invalid_param", "older_than: must be a duration >= 0"};
    ports::PruneQuery q = i.sweeper.purge_query(age, r.states, i.clock.now());
    ports::PurgeResult out;
    out.dry_run = r.dry_run;
    if (r.dry_run) {
        out.removed = i.store.count_prunable(q);
        return out;
    }
    for (int b = 0; b < kPurgeBatchesPerCall; ++b) {
        auto n = i.store.prune_finished(q);
        out.removed += n;
        if (n.jobs < q.limit) break;
        out.more = b + 1 == kPurgeBatchesPerCall;
    }
    if (out.removed.jobs > 0) i.store.checkpoint();
    spdlog::info("purge: removed {} job(s), {} event(s), {} input(s){}", out.removed.jobs,
                 out.removed.events, out.removed.inputs, out.more ? " (more to do)" : "");
    return out;
}

}  // namespace genq::app
