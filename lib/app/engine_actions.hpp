// Engine-private: performs the job machine's actions — commits and progress through the queue
// store, results placed on disk, requests handed to the request driver — and tells the machine
// when a commit could not be made.
#pragma once
#include <set>
#include <string>

#include "core/job.hpp"
#include "core/result.hpp"
#include "sched/job_machine.hpp"

namespace genq::app {

struct EngineCore;

class ActionPerformer {
public:
    explicit ActionPerformer(EngineCore& e) : e_(e) {}
    void perform(const sched::Actions& actions);

private:
    using Lost = std::set<std::string>;  // jobs whose commit found the stored state changed
    static std::string job_of(const sched::Action& a);
    void act(const sched::Commit& c, Lost& lost);
    void act(const sched::SaveProgress& s, Lost& lost);
    void act(const sched::SendSubmit& s, Lost& lost);
    void act(const sched::SendPoll& s, Lost& lost);
    void act(const sched::PlaceResult& p, Lost& lost);
    void act(const sched::DiscardTemp& d, Lost& lost);
    void act(const sched::AbortRequest& a, Lost& lost);
    void act(const sched::SendBalance& b, Lost& lost);
    void act(const sched::KeyChanged& k, Lost& lost);
    static void on_wal_synced(Status st);
    static void log_transition(const Job& job, JobState from, const std::string& detail);
    std::string extension_on_disk(const Job& job);

    EngineCore& e_;
};

}  // namespace genq::app
