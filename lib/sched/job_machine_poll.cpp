// The job machine's poll answers and results: what a poll's answer does, what it teaches the
// planner, how a result is placed, and a job lost to a conflict.
#include <algorithm>
#include <fmt/format.h>

#include "provider/operation.hpp"
#include "sched/job_machine.hpp"
#include "sched/job_machine_detail.hpp"

namespace genq::sched {

using namespace detail;
using provider::Outcome;

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

}  // namespace genq::sched
