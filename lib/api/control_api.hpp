// The routes of the control socket and the HTTP listener (SPEC §6): /v1 for genqctl and
// scripts, /api/img2video and /processed_videos for the wrapper-compatible API, /metrics.
// A route table of (method, path pattern) -> one handler per endpoint (api/routes.hpp). The API
// depends on the ports (intake, control, the queue's read side), never on the daemon itself.
#pragma once
#include <string>

#include "api/idempotency.hpp"
#include "api/submit_batcher.hpp"
#include "core/result.hpp"
#include "net/http_server.hpp"
#include "ports/control.hpp"
#include "ports/counters.hpp"
#include "ports/idempotency.hpp"
#include "ports/intake.hpp"
#include "ports/job_reader.hpp"
#include "ports/retention.hpp"

namespace genq::api {

struct ApiContext {
    ports::Intake& intake;
    ports::JobReader& jobs;
    ports::IdempotencyLog& answers;  // Idempotency-Key answers (the store)
    ports::Control& control;
    const ports::ProviderCounters& counters;
    std::string output_dir;
    SubmitBatcher::Defer defer;  // runs a function later on the loop (group commit)
    ports::Retention& retention;  // POST /v1/purge
};

class ControlApi {
  public:
    explicit ControlApi(ApiContext ctx);
    void set_output_dir(std::string dir) { ctx_.output_dir = std::move(dir); }
    // `req` must stay alive until the answer is ready (the server keeps it).
    net::Awaitable<net::ServerResponse> handle(const net::ServerRequest& req);

  private:
    ApiContext ctx_;
    SubmitBatcher batcher_;
    Idempotency idem_;
};

// {"error": message, "code": code} with a status.
net::ServerResponse json_error(int status, const std::string& code, const std::string& message);
// The status for an Error code from the core (invalid_* -> 422, not_found -> 404, ...).
int status_for(const std::string& code);

}  // namespace genq::api
