// The job machine's control operations: cancel, retry, pause and resume, and the stop.
#include <algorithm>
#include <fmt/format.h>

#include "provider/operation.hpp"
#include "sched/job_machine.hpp"
#include "sched/job_machine_detail.hpp"

namespace genq::sched {

using namespace detail;
using provider::Outcome;

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
