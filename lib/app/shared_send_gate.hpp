// The last gate before a request leaves on a shared store (SPEC §11): the key's slot reserved
// in the store, exact across every node that shares the key, and the answer turned into facts
// in this process's clock for the job machine (which stays sans-io: it asks may_send() as on one
// node, its own limiter a first filter, and hears on_send_refused() when the store says no).
// Without the store nothing is sent: an unreachable store is a refusal with a backoff.
#pragma once
#include <string>

#include "core/clock.hpp"
#include "sched/backoff.hpp"

namespace genq::store {
class SharedStore;
}

namespace genq::app {

struct Metrics;

class SharedSendGate {
public:
    SharedSendGate(store::SharedStore& store, const Clock& clock, Metrics& metrics);
    void configure(int requests_per_window, double window);

    struct Decision {
        bool granted = false;
        bool locked_out = false;   // a lock-out some node saved after a 429
        bool unreachable = false;  // the store did not answer
        bool lost = false;         // this node no longer holds the job: drop it, send nothing
        TimePoint until = 0;       // refused: when to try again (this process's clock)
    };
    // `job_id`: the job the request is for ("" = none, a balance read).
    Decision reserve(const std::string& key, const std::string& job_id);
    // Whether the last reservation reached the store.
    bool reachable() const { return failures_ == 0; }

private:
    void sample(double seconds, const char* answer);

    store::SharedStore& store_;
    const Clock& clock_;
    Metrics& metrics_;
    int limit_ = 150;
    double window_ = 10.25;
    int failures_ = 0;  // consecutive unreachable answers
    sched::Backoff backoff_{0.5, 10};
};

}  // namespace genq::app
