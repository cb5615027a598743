#include "app/engine_recovery.hpp"

#include <unistd.h>

#include <set>
#include <spdlog/spdlog.h>

#include "app/engine_core.hpp"
#include "app/pause_memory.hpp"
#include "app/provider_calls.hpp"
#include "store/shared_store.hpp"

namespace genq::app {

using namespace sched;

void Recovery::start() {
    apply_shared_pauses();
    restore_limiter();
    restore_planner();
    restore_pauses(e_.store, e_.machine);
    std::vector<Job> jobs;
    for (auto state : {JobState::submitting, JobState::running})
        for (Job& job : e_.store.in_state(state)) jobs.push_back(std::move(job));
    recover_jobs(std::move(jobs));
}

void Recovery::take_over(std::vector<Job> jobs) {
    for (const auto& j : jobs) {
        spdlog::warn("job {}: taken over from a dead node ({}, generation {})", j.id,
                     to_string(j.state), j.remote_id.empty() ? "-" : j.remote_id);
        // A copy still here is stale (the store had it as another node's): the store's is it.
        if (e_.machine.is_active(j.id)) e_.actions.perform(e_.machine.forget(j.id));
    }
    recover_jobs(std::move(jobs));
    e_.dispatcher.queue_changed();
}

// Jobs another node took over meanwhile (this node's heartbeat stopped for the lease) are
// dropped; jobs the store gives this node but the machine lost (a step that failed with the
// connection) are recovered as after a restart.
void Recovery::reconcile_if_reconnected() {
    auto* shared = e_.shared;
    if (!shared || shared->reconnects() == e_.seen_reconnects) return;
    auto own = shared->own_generations();
    e_.seen_reconnects = shared->reconnects();
    std::set<std::string> held;
    for (const auto& j : own) held.insert(j.id);
    for (const auto& id : e_.machine.active_ids())
        if (!held.count(id)) {
            spdlog::warn("job {}: held by another node after the reconnect; dropped here", id);
            e_.machine.on_conflict(id);
        }
    std::vector<Job> lost;
    for (auto& j : own)
        if (!e_.machine.is_active(j.id)) lost.push_back(std::move(j));
    if (!lost.empty())
        spdlog::warn("{} job(s) of this node recovered after the reconnect", lost.size());
    recover_jobs(std::move(lost));
    e_.dispatcher.queue_changed();
}

void Recovery::restore_planner() {
    for (const auto& [kind, blob] : e_.store.load_planner_state())
        if (!e_.machine.planner().restore(kind, blob))
            spdlog::warn("poll planner: the stored state for kind {} is unreadable; "
                         "learning it again",
                         kind);
}

void Recovery::restore_limiter() {
    TimePoint t = e_.now();
    const auto& l = e_.settings.limits;
    double span = l.window + l.safety_margin;
    for (const auto& name : e_.machine.keys().names())
        e_.machine.restore_key(name, e_.store.sends_since(name, t - span), e_.store.lockout(name));
    double spent = 0;
    for (const auto& [k, v] : e_.store.credits_by_key(day_start_ms(t))) spent += v;
    e_.machine.set_spent_today(spent, t);
}

void Recovery::apply_shared_pauses() {
    if (!e_.shared) return;
    auto rows = e_.shared->paused_keys();
    std::set<std::string> p(rows.begin(), rows.end());
    auto& machine = e_.machine;
    bool was = machine.paused();
    machine.pause_all(p.count("") > 0);
    for (const auto& name : machine.keys().names()) (void)machine.pause_key(name, p.count(name) > 0);
    // `resume --budget` on any node lifts the day on every node.
    if (!machine.budget_lifted() && e_.shared->budget_lifted(day_start_ms(e_.now()))) {
        machine.lift_budget();
        if (machine.budget_lifted()) spdlog::info("today's budget lifted (shared store)");
    }
    if (was != machine.paused())
        spdlog::info("{} all submissions (shared store)", machine.paused() ? "paused" : "resumed");
    e_.dispatcher.notify();
}

// What of each job's result is on disk decides how the machine takes it back.
void Recovery::recover_jobs(std::vector<Job> jobs) {
    std::vector<std::pair<Job, OnDisk>> found;
    for (Job& job : jobs) {
        OnDisk disk;
        std::string part = e_.outputs.part_path(job.id);
        disk.final_exists = !job.output.empty() && ::access(job.output.c_str(), F_OK) == 0;
        disk.temp_exists = ::access(part.c_str(), F_OK) == 0;
        disk.temp_complete = disk.temp_exists && result_file_complete(part);
        disk.never_sent = e_.shared && job.state == JobState::submitting &&
                          e_.shared->take_never_sent(job.id);
        found.emplace_back(std::move(job), disk);
    }
    e_.actions.perform(e_.machine.recover(found, e_.now()));
}

}  // namespace genq::app
