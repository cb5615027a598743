#include "app/engine_dispatcher.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "app/engine_core.hpp"

namespace genq::app {

namespace asio = boost::asio;

namespace {

constexpr int kQueueBatch = 32;
constexpr double kIdleRecheck = 30;  // seconds between dispatcher runs when nothing happens
constexpr double kPruneEvery = 60;
constexpr double kQueuedMaxAge = 1;  // seconds a read batch of queued jobs is offered at most
constexpr double kPlannerSaveEvery = 10;  // seconds between saves of what the planner learned
constexpr double kDownRecheck = 0.5;  // seconds between looks while the shared store is down

}  // namespace

Dispatcher::Dispatcher(EngineCore& e) : e_(e), wake_(e.io) {}

void Dispatcher::spawn_loop() {
    ++e_.tasks;
    asio::co_spawn(e_.io, dispatch_loop(), [this](std::exception_ptr ex) { e_.task_ended(ex); });
}

void Dispatcher::notify() {
    dirty_ = true;
    wake_.cancel();
}

void Dispatcher::queue_changed() {
    queued_stale_ = true;
    notify();
}

void Dispatcher::save_planner() {
    for (const auto& [kind, blob] : e_.machine.planner().take_changed())
        e_.guarded("the poll planner", [&] { e_.store.save_planner_state(kind, blob); });
}

asio::awaitable<void> Dispatcher::dispatch_loop() {
    while (e_.running) {
        TimePoint t = e_.now();
        dirty_ = false;
        TimePoint next = turn(t);
        if (dirty_ && !db_down_) continue;
        wake_.expires_after(seconds(std::min(next - e_.now(), kIdleRecheck)));
        boost::system::error_code ec;
        co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

// One turn of the dispatcher; a shared store that cannot be reached makes it wait and try
// again (nothing is sent meanwhile: every request needs a reservation in the store).
TimePoint Dispatcher::turn(TimePoint t) {
    try {
        e_.recovery.reconcile_if_reconnected();
        housekeeping(t);
        TimePoint next = t + 1;  // a pass cut short by a full disk: look again soon
        e_.guarded("dispatching", [&] { next = dispatch(t); });
        if (db_down_) spdlog::info("shared store reachable again");
        db_down_ = false;
        return next;
    } catch (const store::DbUnavailable& err) {
        if (!db_down_) spdlog::error("shared store unreachable: {}; waiting for it", err.what());
        db_down_ = true;
        queued_.clear();
        queued_stale_ = true;
        return t + kDownRecheck;
    }
}

// The limiter's log pruned and the planner saved, each at its own period.
void Dispatcher::housekeeping(TimePoint t) {
    if (t - last_prune_ > kPruneEvery) {
        const auto& l = e_.settings.limits;
        TimePoint before = t - 2 * (l.window + l.safety_margin);
        e_.guarded("pruning the limiter's log", [&] { e_.store.prune_sends(before); });
        last_prune_ = t;
    }
    if (t - last_planner_save_ > kPlannerSaveEvery) {
        save_planner();
        last_planner_save_ = t;
    }
}

// One pass: due polls first, then queued jobs while keys can take them. Returns when to
// look again.
TimePoint Dispatcher::dispatch(TimePoint t) {
    auto& machine = e_.machine;
    e_.actions.perform(machine.dispatch_polls(t));
    e_.actions.perform(machine.dispatch_balances(t));
    TimePoint next = std::min(t + kIdleRecheck, machine.next_balance_time(t));
    bool have_queued = false;
    while (e_.running && !machine.paused()) {
        refresh_queued(t);
        if (queued_.empty()) break;
        have_queued = true;
        if (!machine.wants_submissions(t)) break;
        auto offer = machine.offer(queued_, t);
        e_.actions.perform(offer.actions);
        drop_offered();
        if (offer.more) continue;
        if (offer.placed == 0) {
            next = std::min(next, t + 1);  // held: requested keys, budget
            queued_stale_ = true;  // and its rows re-read then, with what was saved on them
        }
        break;
    }
    if (queued_wake_ > 0) next = std::min(next, queued_wake_);
    return std::min(next, machine.next_wake(t, have_queued));
}

// What was placed is the machine's now; what is left waits for the next pass. The offer
// claims in place: a copy left saying `submitting` lost its claim (another node won it, or a
// cancel came first) and must never be offered again from that state, which the store's guard
// would accept: it goes, and the batch is re-read.
void Dispatcher::drop_offered() {
    std::erase_if(queued_, [&](const Job& j) {
        if (e_.machine.is_active(j.id)) return true;
        if (j.state == JobState::queued) return false;
        queued_stale_ = true;
        return true;
    });
}

// The batch of queued jobs the dispatcher offers is read once and kept between passes: keys
// are paced, so a pass places one or two jobs, and re-reading and parsing the whole batch
// for each was most of the dispatcher's cost. It is read again when it runs out, when the
// queue changed (new jobs, a job queued again, a cancel), when a job waiting for its
// not_before time becomes ready, and at least every kQueuedMaxAge (a change made elsewhere,
// e.g. another node on a shared store).
void Dispatcher::refresh_queued(TimePoint t) {
    bool due = queued_stale_ || queued_.empty() || t - queued_read_at_ > kQueuedMaxAge ||
               (queued_wake_ > 0 && t >= queued_wake_);
    if (!due) return;
    queued_ = e_.store.next_queued(t, kQueueBatch);
    queued_wake_ = e_.store.next_queued_wake(t);
    queued_read_at_ = t;
    queued_stale_ = false;
}

}  // namespace genq::app
