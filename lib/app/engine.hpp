// The engine: the one place that decides who sends next. A dispatch loop on the event loop asks
// the sans-io key pool and poll queue what may go on the wire, and runs submissions and polls as
// coroutines through the HTTPS client. Every outcome is committed the moment it is known.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "core/result.hpp"
#include "store/job.hpp"

namespace boost::asio {
class io_context;
}
namespace genq::net {
class HttpsClient;
}
namespace genq::store {
class Database;
class JobStore;
class Spool;
}  // namespace genq::store

namespace genq::app {

struct Metrics;

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
    std::function<void(const store::Job& job, store::JobState from, const std::string& detail)>;

class Engine {
public:
    Engine(boost::asio::io_context& io, store::Database& db, store::JobStore& jobs,
           store::Spool& spool, net::HttpsClient& client, Metrics& metrics);
    ~Engine();

    // Loads keys and limits; on a running engine keeps each remaining key's history.
    void configure(EngineSettings settings);
    // Crash recovery, then the dispatch loop starts.
    void start();
    // Stops the loop; requests under way are abandoned (their outcome stays uncommitted).
    void stop();
    // New work or a changed condition: re-run the dispatcher soon.
    void notify();

    void add_listener(TransitionListener l);

    // Control operations. Error codes: not_found, conflict.
    Result<store::Job> cancel(const std::string& id);
    Result<store::Job> retry(const std::string& id);
    Status pause(const std::string& key);   // "" = everything
    // Also clears out_of_credits; `budget` lifts today's credit cap (global resume only) until
    // the next reload.
    Status resume(const std::string& key, bool budget = false);
    bool paused() const;
    bool has_key(const std::string& name) const;

    nlohmann::json status_json() const;   // counts, keys, budget

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace genq::app
