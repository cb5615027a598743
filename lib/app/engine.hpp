// The engine: a thin driver around the sans-io job machine (sched/job_machine.hpp). It performs
// the machine's actions — requests through the HTTPS client, commits through the queue store,
// results placed on disk — and feeds back what happened. It decides nothing itself.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/job.hpp"
#include "core/result.hpp"
#include "ports/control.hpp"

namespace boost::asio {
class io_context;
}
namespace genq {
class Clock;
}
namespace genq::net {
class HttpsClient;
}
namespace genq::store {
class QueueStore;
class SharedStore;
}

namespace genq::app {

struct Metrics;
class StateDiskMonitor;

struct EngineSettings {
    LimitsConfig limits;
    RetryConfig retry;
    ApiConfig api;
    std::string output_dir;
    double daily_credits = 0;
    std::map<std::string, std::pair<std::string, double>> keys;  // name -> (secret, weight)
};

// Called after every committed transition (SSE, watch folders, logs).
using TransitionListener =
    std::function<void(const Job& job, JobState from, const std::string& detail)>;

class Engine {
public:
    Engine(boost::asio::io_context& io, store::QueueStore& store, net::HttpsClient& client,
           Metrics& metrics, const Clock& clock);
    ~Engine();

    // Loads keys and limits; on a running engine keeps each remaining key's history.
    void configure(EngineSettings settings);
    // A store shared with other nodes (before start()): every request then reserves its slot
    // in the store's limiter first (app/shared_send_gate.hpp).
    void share(store::SharedStore& shared);
    // Crash recovery, then the dispatch loop starts.
    void start();
    // Generations taken over from a dead node (submitting and running jobs now this node's):
    // recovered as after a restart.
    void take_over(std::vector<Job> jobs);
    // Structured shutdown: no new work; every request is aborted at once (SPEC §8: in-flight
    // HTTP is abandoned, what was committed stays) except result downloads already streaming,
    // which get `grace` seconds to finish and be committed; then they are aborted too. `done`
    // runs once every task of the engine has ended.
    void stop(double grace, std::function<void()> done);
    // New work or a changed condition: re-run the dispatcher soon.
    void notify();
    // A shared store said job `id` moved to `state` (maybe by another node): if this node works
    // on it and the store no longer agrees (canceled elsewhere, taken over), its requests end.
    void on_store_change(const std::string& id, const std::string& state);

    void add_listener(TransitionListener l);
    // The state directory's file system: a write without space is reported there, and while it
    // is full nothing queued is submitted; what could not be written is written once it clears.
    void set_state_disk(StateDiskMonitor& disk);

    // Control operations. Error codes: not_found, conflict.
    Result<Job> cancel(const std::string& id);
    Result<Job> retry(const std::string& id);
    Status pause(const std::string& key);  // "" = everything
    Status resume(const std::string& key, bool budget = false);
    bool paused() const;
    bool has_key(const std::string& name) const;

    // The live state for /v1/status, /metrics and STATUS= lines.
    ports::StatusView status_view() const;
    // Changes of jobs not yet written because the state disk is full (for the STATUS= line).
    std::size_t unsaved_changes() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace genq::app
