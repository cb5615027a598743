#include "sched/job_machine.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>

#include "provider/operation.hpp"
#include "sched/job_machine_detail.hpp"

// The machine's set-up, bookkeeping and dispatch. Its other rules live beside it: recovery
// (job_machine_recovery.cpp), requests and submit answers (job_machine_submit.cpp), poll answers
// and results (job_machine_poll.cpp), control (job_machine_control.cpp), credits
// (job_machine_credits.cpp) and a full state disk (job_machine_unsaved.cpp).

namespace genq::sched {

using namespace detail;
using provider::Outcome;

int price_of(const Job& job) {
    const auto* op = provider::find_operation(job.kind);
    return op ? op->price_credits : 0;
}

bool is_sync(const Job& job) {
    const auto* op = provider::find_operation(job.kind);
    return op && op->mode == provider::Mode::sync;
}

JobMachine::JobMachine(std::uint64_t seed) : rng_(seed) {}

void JobMachine::configure(MachineSettings s) {
    KeyLimits limits;
    limits.requests_per_window = s.limits.requests_per_window;
    limits.window = s.limits.window + s.limits.safety_margin;
    limits.lockout = s.limits.lockout;
    limits.max_in_flight = s.limits.max_in_flight;
    keys_.configure(limits, s.keys);
    // In-flight counts follow the active jobs, so they survive a reconfiguration.
    for (const auto& name : keys_.names()) keys_.add_in_flight(name, -1000000);
    for (const auto& [id, job] : active_) keys_.add_in_flight(job.key_name, 1);
    planner_.set_interval(s.limits.poll_interval);
    backoff_ = Backoff(s.retry.base_delay, s.retry.max_delay);
    settings_ = std::move(s);
    budget_override_ = false;
    schedule_balance_reads();
}

void JobMachine::restore_key(const std::string& key, const std::vector<TimePoint>& sends,
                             TimePoint locked_until) {
    keys_.restore_sends(key, sends);
    keys_.set_locked_until(key, locked_until);
}

void JobMachine::set_spent_today(double credits, TimePoint now) {
    spent_ = credits;
    day_ = day_of(now);
}

// ---- bookkeeping ---------------------------------------------------------------------------

void JobMachine::enter_active(const Job& job) {
    auto it = active_.find(job.id);
    if (it == active_.end()) {
        keys_.add_in_flight(job.key_name, 1);
        in_flight_price_ += price_of(job);
        committed_by_key_[job.key_name] += price_of(job);
        active_.emplace(job.id, job);
        return;
    }
    committed_by_key_[it->second.key_name] -= price_of(it->second);
    committed_by_key_[job.key_name] += price_of(job);
    it->second = job;
}

void JobMachine::leave_active(const std::string& job_id) {
    auto it = active_.find(job_id);
    if (it == active_.end()) return;
    keys_.add_in_flight(it->second.key_name, -1);
    in_flight_price_ -= price_of(it->second);
    committed_by_key_[it->second.key_name] -= price_of(it->second);
    active_.erase(it);
    polls_.remove(job_id);
    timing_.erase(job_id);
}

double JobMachine::key_load(const std::string& key, TimePoint now) const {
    if (backlog_.active(now, planner_.interval())) return 1.0;  // its budget is not spare
    auto snap = keys_.snapshot(key, now);
    int limit = settings_.limits.requests_per_window;
    if (!snap || limit <= 0) return 0;
    return static_cast<double>(snap->in_window + snap->reserved) / limit;
}

RequestId JobMachine::new_request(Request r) {
    RequestId id = next_request_++;
    requests_.emplace(id, std::move(r));
    return id;
}

void JobMachine::release(RequestId id) {
    auto it = requests_.find(id);
    if (it == requests_.end()) return;
    if (it->second.reservation_pending) keys_.release(it->second.key);
    requests_.erase(it);
}

void JobMachine::commit(Actions& out, Job& job, JobState to, std::string detail, TimePoint now,
                        bool durable) {
    job.updated_at = ms(now);
    out.push_back(Commit{job, to, std::move(detail), durable});  // the job as it was, new fields
    job.state = to;
}

void JobMachine::fail(Actions& out, Job& job, const std::string& code, const std::string& message,
                      TimePoint now) {
    job.error_code = code;
    job.error_message = message;
    job.finished_at = ms(now);
    job.wait_reason.clear();
    leave_active(job.id);
    commit(out, job, JobState::failed, code + ": " + message, now);
}

void JobMachine::requeue(Actions& out, Job& job, TimePoint not_before, const std::string& reason,
                         std::string detail, TimePoint now) {
    job.not_before_s = not_before;
    job.wait_reason = reason;
    leave_active(job.id);
    commit(out, job, JobState::queued, std::move(detail), now);
}

// A retryable failure of a submission: back off with full jitter, or give up.
void JobMachine::retry_later(Actions& out, Job& job, const std::string& code,
                             const std::string& message, TimePoint now) {
    if (job.attempts >= settings_.retry.max_attempts) {
        fail(out, job, code,
             "gave up after " + std::to_string(job.attempts) + " attempts; last error: " + message,
             now);
        return;
    }
    std::uniform_real_distribution<double> u(0, 1);
    double delay = backoff_.delay(job.attempts, u(rng_));
    requeue(out, job, now + delay, "backoff",
            fmt::format("{}: {}; retrying in {:.1f} s", code, message, delay), now);
}

void JobMachine::poll_again(Actions& out, Job& job, TimePoint at, TimePoint now) {
    job.updated_at = ms(now);
    active_[job.id] = job;
    polls_.schedule(job.key_name, job.id, at);
    out.push_back(SaveProgress{job, false});
}

// ---- dispatch ------------------------------------------------------------------------------

Actions JobMachine::dispatch_polls(TimePoint now) {
    Actions out;
    for (const auto& key : keys_.names()) {
        while (auto top = polls_.peek(key)) {
            if (std::max(top->first, keys_.next_send_time(key, now)) > now) break;
            std::string id = top->second;
            polls_.pop(key);
            auto it = active_.find(id);
            if (it == active_.end()) continue;
            keys_.reserve(key, now);
            if (it->second.state == JobState::submitting) {  // held back by the shared limiter
                RequestId r = new_request({id, key, false, ""});
                out.push_back(SendSubmit{r, id, key});
                continue;
            }
            RequestId r = new_request({id, key, true, it->second.remote_id});
            out.push_back(SendPoll{r, id, key, it->second.remote_id});
        }
    }
    return out;
}

bool JobMachine::wants_submissions(TimePoint now) const {
    return !paused_ && !store_full_ && keys_.next_submit_time(now) <= now;
}

TimePoint JobMachine::next_wake(TimePoint now, bool have_queued) const {
    TimePoint next = kNever;
    for (const auto& key : keys_.names())
        if (auto top = polls_.peek(key))
            next = std::min(next, std::max(top->first, keys_.next_send_time(key, now)));
    if (have_queued && !paused_ && !store_full_) next = std::min(next, keys_.next_submit_time(now));
    return next;
}

std::vector<std::string> JobMachine::active_ids() const {
    std::vector<std::string> out;
    for (const auto& [id, job] : active_) out.push_back(id);
    return out;
}

const Job* JobMachine::active_job(const std::string& job_id) const {
    auto it = active_.find(job_id);
    return it == active_.end() ? nullptr : &it->second;
}

bool JobMachine::over_budget(const Job& job, TimePoint now) {
    if (settings_.daily_credits <= 0 || budget_override_) return false;
    if (day_of(now) != day_) set_spent_today(0, now);  // a new UTC day starts from nothing
    // What is under way will be charged if it succeeds.
    return spent_ + in_flight_price_ + price_of(job) > settings_.daily_credits;
}

Offer JobMachine::offer(std::vector<Job>& candidates, TimePoint now) {
    Offer o;
    for (Job& job : candidates) {
        if (active_.count(job.id)) continue;
        if (try_submit(o.actions, job, now)) ++o.placed;
    }
    // Ready work left because every key is busy (not a budget, a pause or a requested key).
    if (keys_.next_submit_time(now) > now)
        for (const Job& job : candidates)
            if (!active_.count(job.id)) backlog_.left_waiting(job, now, planner_.interval());
    o.more = !candidates.empty() && o.placed == static_cast<int>(candidates.size());
    return o;
}

bool JobMachine::try_submit(Actions& out, Job& job, TimePoint now) {
    if (over_budget(job, now)) {
        if (job.wait_reason != "budget") {
            job.wait_reason = "budget";
            out.push_back(SaveProgress{job, false});
        }
        return false;
    }
    auto key = choose_paying_key(out, job, now);
    if (!key) return false;
    job.key_name = *key;
    ++job.attempts;
    job.wait_reason.clear();
    job.error_code.clear();
    job.error_message.clear();
    // Relaxed: if a power cut loses this commit the job is simply queued again, which is what
    // an interrupted submission becomes anyway; a killed process keeps it.
    commit(out, job, JobState::submitting,
           fmt::format("attempt {} with key {}", job.attempts, *key), now, false);
    keys_.reserve(*key, now);
    enter_active(job);
    RequestId r = new_request({job.id, *key, false, ""});
    out.push_back(SendSubmit{r, job.id, *key});
    return true;
}

}  // namespace genq::sched
