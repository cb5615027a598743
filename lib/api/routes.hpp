// Inside lib/api: what a handler gets, the helpers handlers share, and one handler per endpoint,
// grouped by file (routes_jobs, routes_job, routes_daemon, routes_wrapper). The table that maps
// (method, path pattern) to them is in control_api.cpp.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/control_api.hpp"
#include "api/submit_batcher.hpp"
#include "net/http_server.hpp"

namespace genq::api {

struct Call {
    ApiContext& ctx;
    SubmitBatcher& batcher;
    const net::ServerRequest& req;
    std::vector<std::string> args;  // the {captures} of the route's pattern, in order
};

using Handler = net::ServerResponse (*)(Call&);

// ---- shared helpers --------------------------------------------------------------------------
net::ServerResponse json_response(int status, const nlohmann::json& body);
net::ServerResponse from_error(const Error& e);
std::optional<long long> parse_int(std::string_view s);
std::string content_type_for(const std::string& path);
bool is_multipart(const net::ServerRequest& req);

// ---- /v1/jobs (routes_jobs.cpp) ----------------------------------------------------------------
net::ServerResponse submit_job(Call& c);    // POST /v1/jobs
net::ServerResponse submit_batch(Call& c);  // POST /v1/jobs/batch
net::ServerResponse list_jobs(Call& c);     // GET /v1/jobs

// ---- /v1/jobs/{id} (routes_job.cpp) -------------------------------------------------------------
net::ServerResponse get_job(Call& c);
net::ServerResponse job_events(Call& c);
net::ServerResponse job_output(Call& c);
net::ServerResponse cancel_job(Call& c);
net::ServerResponse retry_job(Call& c);

// ---- the daemon (routes_daemon.cpp) -------------------------------------------------------------
net::ServerResponse status(Call& c);        // GET /v1/status
net::ServerResponse event_stream(Call& c);  // GET /v1/events
net::ServerResponse pause(Call& c);         // POST /v1/pause
net::ServerResponse resume(Call& c);        // POST /v1/resume
net::ServerResponse reload(Call& c);        // POST /v1/reload
net::ServerResponse metrics(Call& c);       // GET /metrics
net::ServerResponse page(Call& c);          // GET /

// ---- the wrapper-compatible API (routes_wrapper.cpp) --------------------------------------------
net::ServerResponse wrapper_submit(Call& c);   // POST /api/img2video
net::ServerResponse wrapper_result(Call& c);   // GET /api/img2video/result/{id}
net::ServerResponse processed_video(Call& c);  // GET /processed_videos/{file}

}  // namespace genq::api
