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
    Idempotency& idem;
    const net::ServerRequest& req;
    std::vector<std::string> args;  // the {captures} of the route's pattern, in order
};

// A handler's answer: a coroutine, so a handler can wait (the group commit) without holding up
// the loop. Handlers are defined in .cpp files that include <boost/asio/awaitable.hpp>.
using Reply = net::Awaitable<net::ServerResponse>;
using Handler = Reply (*)(Call&);

// ---- shared helpers --------------------------------------------------------------------------
net::ServerResponse json_response(int status, const nlohmann::json& body);
net::ServerResponse from_error(const Error& e);
std::optional<long long> parse_int(std::string_view s);
std::string content_type_for(const std::string& path);
bool is_multipart(const net::ServerRequest& req);
// `disposition; filename="<file name of path>"` (bytes a header cannot carry become '_').
std::string content_disposition(std::string_view disposition, const std::string& path);

// ---- /v1/jobs (routes_jobs.cpp) ----------------------------------------------------------------
Reply submit_job(Call& c);    // POST /v1/jobs
Reply submit_batch(Call& c);  // POST /v1/jobs/batch
Reply list_jobs(Call& c);     // GET /v1/jobs

// ---- /v1/jobs/{id} (routes_job.cpp) -------------------------------------------------------------
Reply get_job(Call& c);
Reply job_events(Call& c);
Reply job_output(Call& c);
Reply cancel_job(Call& c);
Reply retry_job(Call& c);

// ---- the daemon (routes_daemon.cpp) -------------------------------------------------------------
Reply status(Call& c);        // GET /v1/status
Reply event_stream(Call& c);  // GET /v1/events
Reply pause(Call& c);         // POST /v1/pause
Reply resume(Call& c);        // POST /v1/resume
Reply reload(Call& c);        // POST /v1/reload
Reply purge(Call& c);         // POST /v1/purge
Reply metrics(Call& c);       // GET /metrics
Reply page(Call& c);          // GET /

// ---- the wrapper-compatible API (routes_wrapper.cpp) --------------------------------------------
Reply wrapper_submit(Call& c);   // POST /api/img2video
Reply wrapper_result(Call& c);   // GET /api/img2video/result/{id}
Reply processed_video(Call& c);  // GET /processed_videos/{file}

}  // namespace genq::api
