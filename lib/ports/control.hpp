// What the control API needs from the running daemon besides the queue itself: the control
// operations and a snapshot of the live state, as plain data. Rendering (JSON, Prometheus text)
// is the API's business; deciding is the engine's.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/job.hpp"
#include "core/result.hpp"

namespace genq::ports {

struct KeyView {
    std::string name;
    double weight = 1;
    std::string state;  // active | locked | paused | unauthorized | out_of_credits
    TimePoint locked_until = 0;  // 0 = not locked
    bool paused = false;
    int requests_in_window = 0;
    int requests_per_window = 0;
    int in_flight = 0;
    std::int64_t credits_today = 0;
    std::int64_t credits_total = 0;
    // The provider's balance (GET /v1/user/balance) less what genq was charged since; nullopt
    // until it was read.
    std::optional<double> balance;
};

// A node of a shared store (SPEC §11), as the store knows it.
struct NodeView {
    std::string name;
    bool alive = false;
    double heartbeat_age_s = 0;  // seconds since its last heartbeat
    int generations = 0;         // submitting and running jobs it holds
};

// The state directory's file system (ports/state_disk.hpp).
struct StateDiskView {
    bool full = false;
    std::string dir;
    TimePoint since = 0;       // when it filled (0 = not full)
    std::string message;       // what a new submission hears while full
    std::int64_t unsaved = 0;  // changes of jobs under way waiting to be written
};

struct StatusView {
    std::string version;
    double uptime_s = 0;
    bool paused = false;
    std::map<std::string, std::int64_t> counts;  // by state
    std::vector<KeyView> keys;
    double daily_credits = 0;
    std::int64_t spent_today = 0;
    bool budget_override = false;
    std::string node;              // this node's name on a shared store ("" = embedded store)
    std::vector<NodeView> nodes;   // every node of the shared store (empty: embedded store)
    StateDiskView state_disk;
};

class Control {
public:
    virtual ~Control() = default;
    // Error codes: not_found, conflict.
    virtual Result<Job> cancel(const std::string& id) = 0;
    virtual Result<Job> retry(const std::string& id) = 0;
    virtual Status pause(const std::string& key) = 0;  // "" = everything
    // Also clears out_of_credits; `budget` lifts today's credit cap until the next reload.
    virtual Status resume(const std::string& key, bool budget) = 0;
    virtual Status reload() = 0;  // re-read the configuration (same as SIGHUP)
    virtual StatusView status() = 0;
};

}  // namespace genq::ports
