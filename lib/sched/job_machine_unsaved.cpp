// The job machine when the store cannot write (the state disk full): what is given back, what is
// kept and handed back once space returns. See JobMachine::on_commit_failed.
#include <algorithm>

#include "sched/job_machine.hpp"

namespace genq::sched {

namespace {

const std::string& job_of(const Action& a) {
    if (const auto* c = std::get_if<Commit>(&a)) return c->job.id;
    return std::get<PlaceResult>(a).job.id;
}

}  // namespace

bool JobMachine::on_commit_failed(const Commit& c) {
    if (c.job.state == JobState::queued && c.to == JobState::submitting && !has_unsaved(c.job.id)) {
        // Nothing was sent yet (the send follows the claim): the job waits, queued, as stored.
        on_conflict(c.job.id);
        return true;
    }
    unsaved_.push_back(c);
    return false;
}

void JobMachine::on_place_deferred(const PlaceResult& p) {
    PlaceResult again = p;
    auto it = active_.find(p.job.id);
    if (it != active_.end()) again.job = it->second;  // as the machine knows it: no name yet
    unsaved_.push_back(std::move(again));
}

bool JobMachine::has_unsaved(const std::string& job_id) const {
    return std::any_of(unsaved_.begin(), unsaved_.end(),
                       [&](const Action& a) { return job_of(a) == job_id; });
}

Actions JobMachine::store_writable() {
    store_full_ = false;
    Actions out;
    out.swap(unsaved_);
    return out;
}

}  // namespace genq::sched
