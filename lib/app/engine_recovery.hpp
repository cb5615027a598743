// Engine-private: what the engine takes back at start, after a takeover and after the shared
// store reconnects — the limiter's history, the planner, pauses, and the submitting and
// running jobs with what of their results is on disk — handed to the machine as facts.
#pragma once
#include <vector>

#include "core/job.hpp"

namespace genq::app {

struct EngineCore;

class Recovery {
public:
    explicit Recovery(EngineCore& e) : e_(e) {}

    // Crash recovery at start, before the dispatch loop runs.
    void start();
    // Generations taken over from a dead node: recovered as after a restart.
    void take_over(std::vector<Job> jobs);
    // After the shared store's connection was re-established: what this node works on is
    // what the store says it holds.
    void reconcile_if_reconnected();
    // The shared store's pauses, applied to this node (they act on every node).
    void apply_shared_pauses();

private:
    void restore_planner();
    void restore_limiter();
    void recover_jobs(std::vector<Job> jobs);

    EngineCore& e_;
};

}  // namespace genq::app
