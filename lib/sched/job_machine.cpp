#include "sched/job_machine.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>

#include "provider/operation.hpp"

namespace genq::sched {

using provider::Outcome;

namespace {

constexpr TimePoint kNever = std::numeric_limits<TimePoint>::infinity();

std::int64_t ms(TimePoint t) { return static_cast<std::int64_t>(std::llround(t * 1000)); }
std::int64_t day_of(TimePoint t) { return static_cast<std::int64_t>(std::floor(t / 86400)); }

bool answered_with(const Reply& r, Outcome o) { return r.answered && r.answer.outcome == o; }

}  // namespace

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

// ---- start-up ------------------------------------------------------------------------------

Actions JobMachine::recover(const std::vector<std::pair<Job, OnDisk>>& jobs, TimePoint now) {
    Actions out;
    for (const auto& [job, disk] : jobs) recover_one(out, job, disk, now);
    return out;
}

void JobMachine::recover_one(Actions& out, Job job, const OnDisk& disk, TimePoint now) {
    const bool sync = is_sync(job);
    const bool reserved = !job.output.empty();
    // A result received before the crash is committed work: finish from it, never pay again.
    if (reserved && disk.final_exists) {
        enter_active(job);
        out.push_back(PlaceResult{job, "", false, true});
        return;
    }
    if ((reserved && disk.temp_exists) || (sync && disk.temp_complete)) {
        enter_active(job);
        out.push_back(PlaceResult{job, "", true, false});
        return;
    }
    if (disk.temp_exists) out.push_back(DiscardTemp{job.id});
    if (reserved && sync) {
        // The name was reserved only once the result was whole on disk; it is gone now.
        enter_active(job);
        fail(out, job, "result_lost",
             "the result was received but its file disappeared before it was placed; retry "
             "the job to generate it again",
             now);
        return;
    }
    job.output.clear();
    if (job.state == JobState::submitting) {
        job.wait_reason.clear();
        commit(out, job, JobState::queued,
               "restart: the outcome of the interrupted submission is unknown; attempt counted, "
               "resubmitting",
               now);
        return;
    }
    if (!keys_.has(job.key_name)) return;  // its key is no longer configured: it waits
    enter_active(job);
    // A poll may have been under way at the crash, its answer still to come: wait a whole
    // interval plus at least a second for that answer (a slow provider).
    TimePoint at = std::max(planner_.next_poll(now) + std::max(settings_.limits.safety_margin, 1.0),
                            job.last_poll_s + planner_.interval());
    polls_.schedule(job.key_name, job.id, at);
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

// ---- requests ------------------------------------------------------------------------------

bool JobMachine::may_send(RequestId request, TimePoint now) {
    auto it = requests_.find(request);
    if (it == requests_.end()) return false;
    Request& r = it->second;
    if (r.reservation_pending) {
        r.reservation_pending = false;
        keys_.commit_send(r.key, now);
    } else if (!keys_.try_send_now(r.key, now)) {
        return false;
    }
    r.sent = true;
    r.sent_at = now;
    return true;
}

void JobMachine::on_send_refused(RequestId request, TimePoint until, bool locked_out,
                                 TimePoint now) {
    auto it = requests_.find(request);
    if (it == requests_.end() || !it->second.sent) return;
    Request& r = it->second;
    keys_.on_shared_refusal(r.key, r.sent_at, std::max(until, now), locked_out);
    r.sent = false;
    r.refused_until = std::max(until, now);
}

Actions JobMachine::on_reply(RequestId request, const Reply& reply, TimePoint now) {
    auto it = requests_.find(request);
    if (it == requests_.end()) return {};
    Request r = it->second;
    release(request);
    auto job = active_.find(r.job_id);
    // Canceled while under way, or canceled and retried: a different generation now.
    if (job == active_.end() || (r.poll && job->second.remote_id != r.remote_id) ||
        (!r.poll && job->second.state != JobState::submitting))
        return {DiscardTemp{r.job_id}};
    if (!reply.answered && reply.transport.ec == errc::canceled) {
        Actions out{DiscardTemp{r.job_id}};
        if (!r.poll && !r.sent) {  // stopped before it reached the provider: nothing was spent
            Job j = job->second;
            --j.attempts;
            requeue(out, j, 0, "", "not sent: " + reply.transport.message, now);
        }
        return out;
    }
    return r.poll ? on_poll_reply(r, job->second, reply, now)
                  : on_submit_reply(r, job->second, reply, now);
}

bool JobMachine::key_answer(Actions& out, const std::string& key, const Reply& reply,
                            TimePoint now) {
    if (!reply.answered) return false;
    const auto o = reply.answer.outcome;
    if (o == Outcome::rate_limited) {
        keys_.on_rate_limited(key, now);
        out.push_back(KeyChanged{key, 429, reply.answer.error_code, now + settings_.limits.lockout});
        return true;
    }
    if (o == Outcome::unauthorized || o == Outcome::out_of_credits) {
        keys_.set_status(key, o == Outcome::unauthorized ? KeyStatus::unauthorized
                                                         : KeyStatus::out_of_credits);
        out.push_back(KeyChanged{key, o == Outcome::unauthorized ? 401 : 402,
                                 reply.answer.error_code, 0});
        return true;
    }
    return false;
}

Actions JobMachine::on_submit_reply(const Request& r, Job job, const Reply& reply,
                                    TimePoint now) {
    Actions out;
    if (!reply.answered) {
        out.push_back(DiscardTemp{job.id});
        if (!is_retryable(reply.transport.ec) && reply.transport.ec != errc::rate_limited_local &&
            reply.transport.ec) {  // its input cannot be read back: no attempt can succeed
            fail(out, job, reply.transport.code, reply.transport.message, now);
            return out;
        }
        if (r.refused_until > 0) {
            // The shared limiter held it back: the same attempt goes once the key is free.
            polls_.schedule(job.key_name, job.id, r.refused_until);
            return out;
        }
        if (!r.sent) {  // nothing reached the provider: the attempt is given back
            --job.attempts;
            requeue(out, job, now + 1, "key", "not sent: " + reply.transport.message, now);
            return out;
        }
        retry_later(out, job, reply.transport.code, reply.transport.message, now);
        return out;
    }
    const auto& c = reply.answer;
    switch (c.outcome) {
        case Outcome::accepted:
            job.remote_id = c.remote_id;
            job.polls = 0;
            commit(out, job, JobState::running, "accepted, generation " + c.remote_id, now);
            active_[job.id] = job;
            timing_[job.id] = {now, 0};
            polls_.schedule(job.key_name, job.id,
                            planner_.first_poll(now, job.kind, key_load(job.key_name, now)));
            return out;
        case Outcome::result:
            place(out, job, reply.result, true, now);
            return out;
        default:
            break;
    }
    out.push_back(DiscardTemp{job.id});
    if (key_answer(out, job.key_name, reply, now)) {
        // Not the job's fault: its attempt is given back.
        --job.attempts;
        TimePoint when = c.outcome == Outcome::rate_limited ? now + settings_.limits.lockout : 0;
        requeue(out, job, when, "key",
                fmt::format("http {} {} on key {}; requeued", reply.status, c.error_code,
                            job.key_name),
                now);
    } else if (c.outcome == Outcome::retryable) {
        retry_later(out, job, c.error_code, c.error_message, now);
    } else {
        fail(out, job, c.error_code, c.error_message, now);
    }
    return out;
}

Actions JobMachine::on_poll_reply(const Request& r, Job job, const Reply& reply, TimePoint now) {
    Actions out;
    if (r.refused_until > 0) {  // held back by the shared limiter: polled once the key is free
        polls_.schedule(job.key_name, job.id, r.refused_until);
        return out;
    }
    if (r.sent) ++job.polls;
    TimePoint next = planner_.next_poll(now);
    if (reply.answered) job.last_poll_s = now;
    learn(job, reply, now);
    if (answered_with(reply, Outcome::result)) {
        place(out, job, reply.result, false, now);
        return out;
    }
    out.push_back(DiscardTemp{job.id});
    if (!reply.answered || answered_with(reply, Outcome::in_progress) ||
        answered_with(reply, Outcome::retryable)) {
        // A poll is always retried: the result lives 24 h at the provider.
        poll_again(out, job, next, now);
    } else if (key_answer(out, job.key_name, reply, now)) {
        poll_again(out, job, std::max(next, keys_.next_send_time(job.key_name, now)), now);
    } else {
        fail(out, job, reply.answer.error_code, reply.answer.error_message, now);
    }
    return out;
}

// What a poll's answer tells about how long this kind's generations take (only for generations
// accepted by this process: a recovered one has no acceptance time).
void JobMachine::learn(const Job& job, const Reply& reply, TimePoint now) {
    auto t = timing_.find(job.id);
    if (t == timing_.end()) return;
    if (answered_with(reply, Outcome::in_progress)) {
        t->second.pending_at = now;
    } else if (answered_with(reply, Outcome::result)) {
        planner_.on_result(job.kind, t->second.accepted_at, t->second.pending_at, now);
        timing_.erase(t);
    }
}

// A result is whole on disk: reserve its name, then move it into place.
void JobMachine::place(Actions& out, Job& job, const ReceivedResult& res, bool sync,
                       TimePoint now) {
    if (res.not_saved) {
        // Disk full or an undecodable body: an async result is fetched again later (it lives
        // 24 h at the provider); a sync result cannot be, so the submission is retried.
        out.push_back(DiscardTemp{job.id});
        if (sync)
            retry_later(out, job, res.not_saved->code, res.not_saved->message, now);
        else
            poll_again(out, job, planner_.next_poll(now) + backoff_.ceiling(job.polls), now);
        return;
    }
    job.finish_reason = res.finish_reason.empty() ? "SUCCESS" : res.finish_reason;
    job.seed = res.seed;
    active_[job.id] = job;
    out.push_back(PlaceResult{job, res.ext, sync, false});
}

Actions JobMachine::on_placed(const std::string& job_id, const Status& placed,
                              const std::string& output, TimePoint now) {
    Actions out;
    auto it = active_.find(job_id);
    if (it == active_.end()) return out;
    Job job = it->second;
    if (!placed) {
        out.push_back(DiscardTemp{job.id});
        job.output.clear();
        if (is_sync(job))
            retry_later(out, job, placed.error().code, placed.error().message, now);
        else
            poll_again(out, job, planner_.next_poll(now) + backoff_.ceiling(job.polls), now);
        return out;
    }
    job.output = output;
    job.cost = price_of(job);
    if (!job.finished_at) job.finished_at = ms(now);
    job.wait_reason.clear();
    leave_active(job.id);
    if (day_of(now) != day_) set_spent_today(0, now);
    spent_ += job.cost;
    charge_balance(job.key_name, job.cost);
    commit(out, job, JobState::succeeded, "saved " + job.output + " (" + job.finish_reason + ")",
           now);
    return out;
}

void JobMachine::on_conflict(const std::string& job_id) {
    for (auto it = requests_.begin(); it != requests_.end();) {
        auto next = std::next(it);
        if (it->second.job_id == job_id) release(it->first);
        it = next;
    }
    leave_active(job_id);
}

Actions JobMachine::forget(const std::string& job_id) {
    Actions out;
    for (const auto& [id, r] : requests_)
        if (r.job_id == job_id) out.push_back(AbortRequest{id});
    out.push_back(DiscardTemp{job_id});
    on_conflict(job_id);
    return out;
}

// ---- control -------------------------------------------------------------------------------

Result<Actions> JobMachine::cancel(const Job& stored, TimePoint now) {
    if (is_terminal(stored.state))
        return Error{"conflict", "job " + stored.id + " is already " +
                                     std::string(to_string(stored.state))};
    Actions out;
    for (const auto& [id, r] : requests_)
        if (r.job_id == stored.id) out.push_back(AbortRequest{id});
    Job job = stored;
    job.finished_at = ms(now);
    job.wait_reason.clear();
    leave_active(job.id);
    commit(out, job, JobState::canceled,
           job.state == JobState::running
               ? "canceled by request; remote generation " + job.remote_id + " abandoned"
               : "canceled by request",
           now);
    return out;
}

Result<Actions> JobMachine::retry(const Job& stored, TimePoint now) {
    if (stored.state != JobState::failed && stored.state != JobState::canceled)
        return Error{"conflict", "only failed or canceled jobs can be retried; job " + stored.id +
                                     " is " + std::string(to_string(stored.state))};
    Job job = stored;
    job.attempts = 0;
    job.polls = 0;
    job.last_poll_s = 0;
    job.remote_id.clear();
    job.key_name.clear();
    job.error_code.clear();
    job.error_message.clear();
    job.finished_at.reset();
    job.output.clear();
    job.not_before_s = 0;
    Actions out;
    commit(out, job, JobState::queued, "retry requested", now);
    return out;
}

Status JobMachine::pause_key(const std::string& key, bool paused) {
    if (!keys_.has(key)) return Error{"not_found", "no key named \"" + key + "\""};
    keys_.set_paused(key, paused);
    return ok_status();
}

Status JobMachine::resume_key(const std::string& key) {
    if (!key.empty() && !keys_.has(key)) return Error{"not_found", "no key named \"" + key + "\""};
    for (const auto& name : keys_.names()) {
        if (!key.empty() && name != key) continue;
        keys_.set_paused(name, false);
        auto snap = keys_.snapshot(name, 0);
        if (snap && snap->status == KeyStatus::out_of_credits)
            keys_.set_status(name, KeyStatus::active);
    }
    return ok_status();
}

void JobMachine::on_streaming(RequestId request) {
    auto it = requests_.find(request);
    if (it != requests_.end()) it->second.streaming = true;
}

Actions JobMachine::abort_for_stop() {
    Actions out;
    for (const auto& [id, r] : requests_)
        if (!r.streaming) out.push_back(AbortRequest{id});
    return out;
}

Actions JobMachine::abort_all() {
    Actions out;
    for (const auto& [id, r] : requests_) out.push_back(AbortRequest{id});
    return out;
}

}  // namespace genq::sched
