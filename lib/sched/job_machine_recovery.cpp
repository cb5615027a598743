// The job machine at start-up: what each submitting or running job becomes after a crash,
// from what of its result is on disk.
#include <algorithm>
#include <fmt/format.h>

#include "provider/operation.hpp"
#include "sched/job_machine.hpp"
#include "sched/job_machine_detail.hpp"

namespace genq::sched {

using namespace detail;
using provider::Outcome;

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
    if (job.state == JobState::submitting && disk.never_sent) {
        // Held back by the shared limiter when its node died: nothing was sent, nothing paid.
        job.wait_reason.clear();
        job.attempts = std::max(0, job.attempts - 1);
        commit(out, job, JobState::queued,
               "recovered: the submission was never sent (the shared limiter held it); attempt "
               "not counted",
               now);
        return;
    }
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

}  // namespace genq::sched
