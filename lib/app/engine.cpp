#include "app/engine.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cmath>
#include <spdlog/spdlog.h>

#include "app/engine_core.hpp"
#include "app/metrics.hpp"
#include "app/state_disk.hpp"
#include "store/shared_store.hpp"

// The facade: the engine's parts share EngineCore (app/engine_core.hpp): the dispatcher
// (engine_dispatcher.cpp), the request driver (engine_requests.cpp), the action performer
// (engine_actions.cpp) and recovery (engine_recovery.cpp).

namespace genq::app {

namespace asio = boost::asio;
using namespace sched;

struct Engine::Impl : EngineCore {
    using EngineCore::EngineCore;
};

Engine::Engine(asio::io_context& io, store::QueueStore& store, net::HttpsClient& client,
               Metrics& metrics, const Clock& clock)
    : impl_(std::make_unique<Impl>(io, store, client, metrics, clock)) {}

Engine::~Engine() = default;

void Engine::configure(EngineSettings s) {
    auto& i = *impl_;
    MachineSettings ms;
    ms.limits = s.limits;
    ms.retry = s.retry;
    ms.daily_credits = s.daily_credits;
    i.dispatcher.mark_stale();
    for (const auto& [name, secret_weight] : s.keys) ms.keys.push_back({name, secret_weight.second});
    i.machine.configure(std::move(ms));
    i.outputs.set_dir(s.output_dir);
    if (i.gate) i.gate->configure(s.limits.requests_per_window,
                                  s.limits.window + s.limits.safety_margin);
    i.settings = std::move(s);
    if (i.running) i.dispatcher.notify();
}

void Engine::start() {
    auto& i = *impl_;
    i.started_at = i.now();
    i.recovery.start();
    i.running = true;
    i.dispatcher.spawn_loop();
}

void Engine::share(store::SharedStore& shared) {
    auto& i = *impl_;
    i.shared = &shared;
    i.seen_reconnects = shared.reconnects();
    i.gate = std::make_unique<SharedSendGate>(shared, i.clock, i.metrics);
    const auto& l = i.settings.limits;
    i.gate->configure(l.requests_per_window, l.window + l.safety_margin);
}

void Engine::take_over(std::vector<Job> jobs) {
    auto& i = *impl_;
    if (jobs.empty() || !i.running) return;
    i.recovery.take_over(std::move(jobs));
}

void Engine::stop(double grace, std::function<void()> done) {
    auto& i = *impl_;
    i.running = false;
    i.stopping = true;
    i.on_stopped = std::move(done);
    i.dispatcher.cancel_wake();
    i.actions.perform(i.machine.abort_for_stop());
    if (auto n = i.machine.unsaved_count())
        spdlog::warn("stopping with {} change(s) of jobs not written (the state disk is full); "
                     "the next start recovers those jobs from what was written",
                     n);
    i.grace_timer.expires_after(seconds(grace));
    i.grace_timer.async_wait([&i](const boost::system::error_code& ec) {
        if (ec) return;
        if (i.machine.requests_in_flight())
            spdlog::warn("{} request(s) still under way after the stop grace; abandoning them",
                         i.machine.requests_in_flight());
        i.actions.perform(i.machine.abort_all());
    });
    ++i.tasks;  // the stop itself, so `done` runs from the loop even with nothing under way
    asio::post(i.io, [&i] { i.task_ended(nullptr); });
}

void Engine::notify() { impl_->dispatcher.queue_changed(); }

void Engine::on_store_change(const std::string& id, const std::string& state) {
    auto& i = *impl_;
    if (state == "pauses") {  // a node paused or resumed: every node follows the store
        try {
            i.recovery.apply_shared_pauses();
        } catch (const store::DbUnavailable&) {
            // Applied again when the wake-ups reconnect (they re-read everything).
        }
        return;
    }
    // New work or a job queued again (a retry, a requeue elsewhere): the dispatcher looks now.
    // Other changes do not concern this node's queue: re-reading it for each would cost every
    // node two statements per transition of any node.
    if (state == "queued") i.dispatcher.queue_changed();
    if (!i.shared || !i.machine.is_active(id)) return;
    // This node's own claims and acceptances notify too; only a job leaving the active states
    // while this node still works on it means someone else changed it.
    if (state != "queued" && state != "canceled" && state != "failed" && state != "succeeded")
        return;
    try {
        auto stored = i.store.get(id);
        const Job* mine = i.machine.active_job(id);
        if (!mine || (stored && stored->state == mine->state && stored->node == i.shared->node()))
            return;
        spdlog::info("job {}: {} by another node; its requests here end", id, state);
        i.actions.perform(i.machine.forget(id));
    } catch (const store::DbUnavailable&) {
        // The reconcile after the reconnect settles it.
    }
}

void Engine::add_listener(TransitionListener l) { impl_->listeners.push_back(std::move(l)); }

void Engine::set_state_disk(StateDiskMonitor& disk) {
    auto& i = *impl_;
    i.disk = &disk;
    disk.on_change([&i](bool full) {
        if (full)
            i.machine.set_store_full(true);
        else
            i.space_returned();
    });
}

Result<Job> Engine::cancel(const std::string& id) {
    auto& i = *impl_;
    if (i.disk && i.disk->full()) return i.disk->refusal();  // nothing changes while full
    auto job = i.store.get(id);
    if (!job) return Error{"not_found", "no job " + id};
    auto actions = i.machine.cancel(*job, i.now());
    if (!actions) return actions.error();
    i.actions.perform(*actions);
    if (i.machine.has_unsaved(id) && i.disk) {  // the disk filled under this very write
        Error e = i.disk->refusal();
        e.message = "job " + id + " is canceled, but " + e.message +
                    " so that it can be recorded";
        return e;
    }
    auto after = i.store.get(id);
    if (!after || after->state != JobState::canceled)
        return Error{"conflict", "job " + id + " changed state; try again"};
    i.dispatcher.queue_changed();
    return *after;
}

Result<Job> Engine::retry(const std::string& id) {
    auto& i = *impl_;
    if (i.disk && i.disk->full()) return i.disk->refusal();
    auto job = i.store.get(id);
    if (!job) return Error{"not_found", "no job " + id};
    auto actions = i.machine.retry(*job, i.now());
    if (!actions) return actions.error();
    i.actions.perform(*actions);
    auto after = i.store.get(id);
    if (!after || after->state != JobState::queued)
        return Error{"conflict", "job " + id + " changed state; try again"};
    return *after;
}

Status Engine::pause(const std::string& key) {
    auto& i = *impl_;
    if (!key.empty() && !i.machine.has_key(key))
        return Error{"not_found", "no key named \"" + key + "\""};
    if (i.shared) i.shared->set_paused(key, true);  // every node; throws while unreachable
    if (key.empty()) {
        i.machine.pause_all(true);
    } else if (auto st = i.machine.pause_key(key, true); !st) {
        return st;
    }
    i.save_pauses();
    spdlog::info("paused {}", key.empty() ? "all submissions" : "key " + key);
    return ok_status();
}

Status Engine::resume(const std::string& key, bool budget) {
    auto& i = *impl_;
    if (!key.empty() && !i.machine.has_key(key))
        return Error{"not_found", "no key named \"" + key + "\""};
    if (i.shared) {
        if (key.empty())
            i.shared->clear_paused();
        else
            i.shared->set_paused(key, false);
    }
    if (auto st = i.machine.resume_key(key); !st) return st;
    if (key.empty()) {
        i.machine.pause_all(false);
        if (budget) i.machine.lift_budget();
        if (budget && i.shared) i.shared->lift_budget(day_start_ms(i.now()));  // every node
    }
    i.save_pauses();
    spdlog::info("resumed {}", key.empty() ? "all submissions" : "key " + key);
    i.dispatcher.notify();
    return ok_status();
}

bool Engine::paused() const { return impl_->machine.paused(); }
bool Engine::has_key(const std::string& name) const { return impl_->machine.has_key(name); }

std::size_t Engine::unsaved_changes() const { return impl_->machine.unsaved_count(); }

ports::StatusView Engine::status_view() const {
    auto& i = *impl_;
    TimePoint t = i.now();
    auto today = i.store.credits_by_key(day_start_ms(t));
    auto total = i.store.credits_by_key(0);
    ports::StatusView v;
    v.version = GENQ_VERSION;
    v.uptime_s = std::round((t - i.started_at) * 10) / 10;
    v.paused = i.machine.paused();
    v.counts = i.store.counts_by_state();
    for (const auto& snap : i.machine.keys().snapshots(t)) {
        ports::KeyView k;
        k.name = snap.name;
        k.weight = snap.weight;
        k.state = snap.status != KeyStatus::active ? std::string(to_string(snap.status))
                  : snap.locked_until > t         ? "locked"
                  : snap.paused                   ? "paused"
                                                  : "active";
        k.locked_until = snap.locked_until > t ? snap.locked_until : 0;
        k.paused = snap.paused;
        k.requests_in_window = snap.in_window;
        k.requests_per_window = i.settings.limits.requests_per_window;
        k.in_flight = snap.in_flight;
        k.credits_today = today[snap.name];
        k.credits_total = total[snap.name];
        k.balance = i.machine.balance(snap.name);
        v.spent_today += k.credits_today;
        v.keys.push_back(std::move(k));
    }
    v.daily_credits = i.settings.daily_credits;
    v.budget_override = i.machine.budget_lifted();
    if (i.shared) {
        v.node = i.shared->node();
        for (const auto& n : i.shared->nodes())
            v.nodes.push_back({n.name, n.alive, n.heartbeat_age_s, n.generations});
    }
    if (i.disk) {
        v.state_disk.dir = i.disk->dir();
        v.state_disk.full = i.disk->full();
        v.state_disk.since = i.disk->since();
        if (v.state_disk.full) v.state_disk.message = i.disk->refusal().message;
    }
    v.state_disk.unsaved = static_cast<std::int64_t>(i.machine.unsaved_count());
    return v;
}

}  // namespace genq::app
