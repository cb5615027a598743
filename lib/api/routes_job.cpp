// /v1/jobs/{id}: the job, its history, its output, cancel and retry.
#include <boost/asio/awaitable.hpp>

#include "api/routes.hpp"
#include "api/wire.hpp"

namespace genq::api {
namespace {

using net::ServerResponse;

ServerResponse no_job(const std::string& id) { return json_error(404, "not_found", "no job " + id); }

ServerResponse job_result(const Result<Job>& r) {
    if (!r) return from_error(r.error());
    return json_response(200, wire::job_json(*r));
}

}  // namespace

Reply get_job(Call& c) {
    const std::string& id = c.args[0];
    auto job = c.ctx.jobs.get(id);
    if (!job) co_return no_job(id);
    co_return json_response(200, wire::job_json(*job));
}

Reply job_events(Call& c) {
    const std::string& id = c.args[0];
    if (!c.ctx.jobs.get(id)) co_return no_job(id);
    co_return json_response(200, wire::events_json(id, c.ctx.jobs.events(id)));
}

Reply job_output(Call& c) {
    const std::string& id = c.args[0];
    auto job = c.ctx.jobs.get(id);
    if (!job) co_return no_job(id);
    if (job->state != JobState::succeeded)
        co_return json_error(409, "conflict",
                             "job " + id + " has no output (state " +
                                 std::string(to_string(job->state)) + ")");
    ServerResponse r;
    r.file_path = job->output;
    r.content_type = content_type_for(job->output);
    co_return r;
}

Reply cancel_job(Call& c) { co_return job_result(c.ctx.control.cancel(c.args[0])); }
Reply retry_job(Call& c) { co_return job_result(c.ctx.control.retry(c.args[0])); }

}  // namespace genq::api
