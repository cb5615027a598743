#include "app/retention_driver.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "core/clock.hpp"
#include "core/job_state.hpp"
#include "sched/retention_sweeper.hpp"
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

    void arm() {
        if (stopped) return;
        double wait = std::max(0.0, sweeper.next_at() - clock.now());
        timer.expires_after(std::chrono::microseconds(static_cast<std::int64_t>(wait * 1e6)));
        timer.async_wait([this](const boost::system::error_code& ec) {
            if (ec) return;  // canceled: stopped or re-armed by a reload
            tick();
            arm();
        });
    }

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
