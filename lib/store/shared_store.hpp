// What a store shared by several genqd nodes (SPEC §11) offers beyond the queue: the per-key
// limiter kept in the store, exact across nodes, and the takeover of dead nodes' generations.
// The embedded store has no such thing (one node, its limiter in memory); the engine uses this
// only when the store it was given is shared. No SQL or database type here.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/job.hpp"

namespace genq::store {

// The answer to one reservation request.
struct SendReservation {
    bool granted = false;
    bool locked_out = false;  // refused because the key rests after a 429 some node saw
    bool lost = false;        // refused because this node no longer holds the request's job
    double wait_s = 0;        // refused: seconds until asking again is worthwhile
    TimePoint at = 0;         // granted: the reserved time; refused: when to ask again (the
                              // store's clock, which all nodes share)
};

// A node as the shared store knows it (genqctl status, /v1/status).
struct NodeInfo {
    std::string name;
    bool alive = false;          // heartbeat within the lease
    double heartbeat_age_s = 0;  // seconds since its last heartbeat, in the store's clock
    TimePoint started_at = 0;
    int generations = 0;         // jobs submitting or running that it holds
};

class SharedStore {
public:
    virtual ~SharedStore() = default;

    // Reserves one request of `key` if fewer than `limit` were reserved in the last `window`
    // seconds by any node and no node saved a lock-out that still holds: under the key's row
    // lock, in one round trip, in the store's clock. Called immediately before a request goes.
    // A job's request (`job_id` not empty) is refused as `lost` unless this node still holds
    // the job under the claim it adopted it with (a node taken over while stalled never sends
    // for it again). Throws DbError when the store cannot be reached (then nothing may be sent).
    virtual SendReservation reserve_send(std::string_view key, int limit, double window,
                                         std::string_view job_id) = 0;
    // Whether a submitting job this node just adopted (start-up recovery, a takeover) never had
    // a reservation granted under its last claim: then no byte of that submission went out and
    // its attempt is given back. Answers once per adoption.
    virtual bool take_never_sent(std::string_view job_id) = 0;
    // `genqctl resume --budget` on any node: the UTC day starting at `day_ms` is lifted on
    // every node (they are told as of a pause).
    virtual void lift_budget(std::int64_t day_ms) = 0;
    virtual bool budget_lifted(std::int64_t day_ms) = 0;
    // The submitting and running jobs of nodes silent for the lease, now this node's (atomic:
    // of two nodes looking at once, one gets each job).
    virtual std::vector<Job> take_over_orphans() = 0;
    // The submitting and running jobs the store says this node holds.
    virtual std::vector<Job> own_generations() = 0;
    // How many times the connection to the store was re-established (see Engine: after one,
    // what the node works on is checked against what the store says it holds).
    virtual std::uint64_t reconnects() const = 0;
    // Pauses shared by every node ("" = all submissions): saved, and every node told at once.
    virtual void set_paused(const std::string& key, bool paused) = 0;
    // Resume everything: every pause row goes.
    virtual void clear_paused() = 0;
    virtual std::vector<std::string> paused_keys() = 0;
    // This node's heartbeat (the store's clock).
    virtual void heartbeat() = 0;
    virtual std::vector<NodeInfo> nodes() = 0;
    virtual const std::string& node() const = 0;
    virtual double lease() const = 0;
};

}  // namespace genq::store
