// /v1/jobs/{id}: the job, its history, its output, cancel and retry.
#include <boost/asio/awaitable.hpp>

#include "api/routes.hpp"
#include "api/wire.hpp"

namespace genq::api {
namespace {

using net::ServerResponse;

ServerResponse job_result(const Result<Job>& r) {
    if (!r) return from_error(r.error());
    return json_response(200, wire::job_json(*r));
}

// {id} may be any unique prefix of a job id, in either case (SPEC §6, as git and docker do):
// the job, or the answer that says why there is none (404 unknown, 409 ambiguous).
Result<Job> resolve(Call& c) {
    const std::string& given = c.args[0];
    if (auto exact = c.ctx.jobs.get(given)) return *exact;
    auto ids = c.ctx.jobs.ids_with_prefix(given, 3);
    if (ids.empty()) return Error{"not_found", "no job " + given + " (no job id starts with it)"};
    if (ids.size() > 1)
        return Error{"conflict", "job id prefix " + given + " is ambiguous: it matches " + ids[0] +
                                     ", " + ids[1] + (ids.size() > 2 ? " and more" : "") +
                                     "; give more characters"};
    if (auto job = c.ctx.jobs.get(ids[0])) return *job;
    return Error{"not_found", "no job " + given};
}

}  // namespace

Reply get_job(Call& c) { co_return job_result(resolve(c)); }

Reply job_events(Call& c) {
    auto job = resolve(c);
    if (!job) co_return from_error(job.error());
    co_return json_response(200, wire::events_json(job->id, c.ctx.jobs.events(job->id)));
}

namespace {

// The answer is built in a plain function: as the body of the coroutine, its many string
// temporaries made GCC 12 pair the frame's allocation with a mismatched deallocation
// (-Wmismatched-new-delete, GCC PR 109224, a false positive).
ServerResponse output_of(Call& c) {
    auto job = resolve(c);
    if (!job) return from_error(job.error());
    if (job->state != JobState::succeeded)
        return json_error(409, "conflict",
                          "job " + job->id + " has no output (state " +
                              std::string(to_string(job->state)) + ")");
    ServerResponse r;
    r.file_path = job->output;
    r.content_type = content_type_for(job->output);
    r.headers.emplace_back("content-disposition", content_disposition("attachment", job->output));
    return r;
}

}  // namespace

Reply job_output(Call& c) { co_return output_of(c); }

Reply cancel_job(Call& c) {
    auto job = resolve(c);
    if (!job) co_return from_error(job.error());
    co_return job_result(c.ctx.control.cancel(job->id));
}

Reply retry_job(Call& c) {
    auto job = resolve(c);
    if (!job) co_return from_error(job.error());
    co_return job_result(c.ctx.control.retry(job->id));
}

}  // namespace genq::api
