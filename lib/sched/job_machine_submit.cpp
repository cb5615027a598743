// The job machine's requests: whether one may go, what a refusal or an answer does, and the
// rules for a submission's answer.
#include <algorithm>
#include <fmt/format.h>

#include "provider/operation.hpp"
#include "sched/job_machine.hpp"
#include "sched/job_machine_detail.hpp"

namespace genq::sched {

using namespace detail;
using provider::Outcome;

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

}  // namespace genq::sched
