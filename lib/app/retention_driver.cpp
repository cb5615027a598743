#include "app/retention_driver.hpp"

#include <algorithm>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "core/clock.hpp"
#include "core/job_state.hpp"
#include "sched/db_compactor.hpp"
#include "sched/retention_sweeper.hpp"
#include "sched/spool_scanner.hpp"
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
    sched::SpoolScanner scanner;
    sched::DbCompactor compactor;
    std::int64_t scan_removed = 0;  // files the scan under way deleted
    bool started = false;
    bool stopped = false;
    TimePoint retry_at = 0;  // after a sweep the store could not take (full disk, database down)

    void arm() {
        if (stopped) return;
        TimePoint due = std::min({std::max(sweeper.next_at(), retry_at), scanner.next_at(),
                                  compactor.next_at()});
        double wait = std::max(0.0, due - clock.now());
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
        if (auto page = scanner.step(t)) return scan(*page);
        if (auto pages = compactor.step(t)) return compact(*pages);
        if (t < retry_at) return;
        auto step = sweeper.step(t);
        if (!step) return;
        if (step->kind == sched::SweepStep::Kind::prune) {
            sweeper.pruned(store.prune_finished(step->query), clock.now());
            return;
        }
        std::int64_t answers = store.forget_answers(step->forget_answers_before_ms);
        if (step->checkpoint) store.checkpoint();
        auto swept = sweeper.finished(clock.now());
        report(swept, answers);
        if (swept.removed.jobs > 0 || answers > 0) compactor.request(clock.now());
        scanner.request(clock.now());  // what a crash in this sweep's unlinks could have left
    }

    // One step of giving the freed pages back; the checkpoint at the end is what shrinks the
    // file (its pages were cut off in the WAL).
    void compact(int pages) {
        auto step = store.reclaim_space(pages);
        auto o = compactor.on_step(step.freed, step.free_left, clock.now());
        if (o.checkpoint) store.checkpoint();
        if (o.finished && o.finished->pages_freed > 0)
            spdlog::info("retention: gave {} free page(s) of the database back in {} step(s), "
                         "{:.2f} s",
                         o.finished->pages_freed, o.finished->steps, o.finished->seconds);
    }

    // One page of the orphan scan: listed, judged and deleted in this loop turn, so no commit
    // comes between the reference check and the unlink.
    void scan(const sched::SpoolScanner::Step& page_step) {
        auto page = store.spool_page(page_step.from_start, page_step.limit);
        auto d = scanner.on_page(page, clock.now());
        for (const auto& name : d.remove)
            if (store.remove_spool_file(name)) ++scan_removed;
        if (!d.finished) return;
        const auto& r = *d.finished;
        if (scan_removed > 0)
            spdlog::info("spool: removed {} file(s) no job uses ({} input(s), {} unfinished "
                         "write(s) found among {} file(s), {} page(s), {:.2f} s)",
                         scan_removed, r.orphans, r.partials, r.examined, r.pages, r.seconds);
        else
            spdlog::debug("spool: no unused file among {} file(s)", r.examined);
        scan_removed = 0;
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
    if (!impl_->started) {  // at start-up: what a crash left (unused files, free pages)
        impl_->scanner.request(impl_->clock.now());
        impl_->compactor.request(impl_->clock.now());
    }
    impl_->started = true;
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
