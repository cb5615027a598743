// The wrapper-compatible API (SPEC "Wrapper-compatible API"): its own answer shapes, kept exactly.
#include <sys/stat.h>

#include <boost/asio/awaitable.hpp>

#include "api/routes.hpp"
#include "api/submit_form.hpp"
#include "api/wire.hpp"
#include "core/ids.hpp"

namespace genq::api {
namespace {

using net::ServerResponse;

ServerResponse wrapper_error(int status, const std::string& message) {
    return json_response(status, {{"error", message}});
}

ServerResponse complete(const Job& job) {
    std::string file = job.output.substr(job.output.find_last_of('/') + 1);
    return json_response(200, {{"status", "complete"},
                               {"video_url", "/processed_videos/" + wire::url_segment(file)},
                               {"finish_reason", job.finish_reason},
                               {"seed", job.seed}});
}

}  // namespace

Reply wrapper_submit(Call& c) {
    if (!is_multipart(c.req))
        co_return wrapper_error(400, "Expected multipart/form-data with an image file");
    auto reqs = read_single(c.req, true);
    if (!reqs) co_return wrapper_error(400, reqs.error().message);
    Idempotency::Ticket ticket = c.idem.begin(c.req, *reqs);
    if (ticket.answer) co_return *ticket.answer;
    SubmitBatcher::Results r = co_await c.batcher.submit(std::move(*reqs));
    ServerResponse res =
        !r[0] ? wrapper_error(status_for(r[0].error().code) == 503  ? 503
                              : status_for(r[0].error().code) >= 500 ? 500
                                                                     : 400,
                              r[0].error().message)
              : json_response(200, {{"success", true},
                                    {"id", r[0]->id},
                                    {"message",
                                     "Video generation started. Poll for results using the "
                                     "returned ID."}});
    c.idem.finish(ticket, res);
    co_return res;
}

Reply wrapper_result(Call& c) {
    const std::string& id = c.args[0];
    auto job = looks_like_job_id(id) ? c.ctx.jobs.get(id) : std::nullopt;
    if (!job) co_return wrapper_error(404, "Generation not found: " + id);
    switch (job->state) {
        case JobState::succeeded: co_return complete(*job);
        case JobState::failed:
            co_return wrapper_error(500, job->error_code + ": " + job->error_message);
        case JobState::canceled: co_return wrapper_error(500, "the generation was canceled");
        default: break;
    }
    co_return json_response(202, {{"status", "in-progress"},
                                  {"message",
                                   "Video generation is still in progress. Try again in a few "
                                   "seconds."}});
}

Reply processed_video(Call& c) {
    const std::string& file = c.args[0];
    // One plain name inside output_dir: no separators, no dot files (partial results).
    if (file.empty() || file[0] == '.' || file.find('/') != std::string::npos ||
        file.find('\0') != std::string::npos)
        co_return wrapper_error(404, "Not found");
    std::string path = c.ctx.output_dir + "/" + file;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        co_return wrapper_error(404, "Not found");
    ServerResponse r;
    r.file_path = path;
    r.headers.emplace_back("content-disposition", content_disposition("inline", path));
    r.content_type = content_type_for(path);
    co_return r;
}

}  // namespace genq::api
