// The routes of the control socket and the HTTP listener (SPEC §6): /v1 for genqctl and
// scripts, /api/img2video and /processed_videos for the wrapper-compatible API, /metrics.
// Plain functions of a request; no I/O library here.
#pragma once
#include <functional>
#include <string>

#include "api/submit_batcher.hpp"
#include "core/result.hpp"
#include "net/http_server.hpp"

namespace genq::store {
class QueueStore;
}

namespace genq::app {
class Engine;
class Intake;
struct Metrics;
}  // namespace genq::app

namespace genq::api {

struct ApiContext {
    app::Intake& intake;
    store::QueueStore& jobs;
    app::Engine& engine;
    std::string output_dir;
    std::function<Status()> reload;  // re-read the configuration (same as SIGHUP)
    SubmitBatcher::Defer defer;      // runs a function later on the loop (group commit)
    const app::Metrics& metrics;
};

class ControlApi {
  public:
    explicit ControlApi(ApiContext ctx);
    void set_output_dir(std::string dir) { ctx_.output_dir = std::move(dir); }
    net::ServerResponse handle(const net::ServerRequest& req);

  private:
    ApiContext ctx_;
    SubmitBatcher batcher_;
};

// {"error": message, "code": code} with a status.
net::ServerResponse json_error(int status, const std::string& code, const std::string& message);
// The status for an Error code from the core (invalid_* -> 422, not_found -> 404, ...).
int status_for(const std::string& code);

}  // namespace genq::api
