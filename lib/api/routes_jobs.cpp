// POST /v1/jobs, POST /v1/jobs/batch, GET /v1/jobs.
#include <boost/asio/awaitable.hpp>

#include "api/routes.hpp"
#include "api/submit_form.hpp"
#include "api/wire.hpp"

namespace genq::api {
namespace {

using net::ServerResponse;
using nlohmann::json;

// ?state=queued,running -> the states; an unknown one is refused, naming the allowed ones.
Result<std::vector<JobState>> parse_states(const std::string& states) {
    std::vector<JobState> out;
    for (std::size_t i = 0; i <= states.size() && !states.empty();) {
        std::size_t j = states.find(',', i);
        if (j == std::string::npos) j = states.size();
        std::string s = states.substr(i, j - i);
        auto st = parse_job_state(s);
        if (!st)
            return Error{"invalid_param",
                         "state: unknown state \"" + s +
                             "\"; allowed: queued, submitting, running, succeeded, failed, "
                             "canceled"};
        out.push_back(*st);
        i = j + 1;
    }
    return out;
}

Result<ports::JobQuery> read_query(const net::ServerRequest& req) {
    ports::JobQuery q;
    auto states = parse_states(req.query_param("state"));
    if (!states) return states.error();
    q.states = std::move(*states);
    q.kind = req.query_param("kind");
    q.before = req.query_param("before");
    if (std::string limit = req.query_param("limit"); !limit.empty()) {
        auto v = parse_int(limit);
        if (!v || *v < 1 || *v > 1000)
            return Error{"invalid_param",
                         "limit: must be an integer from 1 to 1000 (got \"" + limit + "\")"};
        q.limit = static_cast<int>(*v);
    }
    return q;
}

}  // namespace

Reply submit_job(Call& c) {
    if (!is_multipart(c.req))
        co_return json_error(415, "unsupported_media_type",
                             "POST /v1/jobs takes multipart/form-data with an `image` file");
    auto reqs = read_single(c.req, false);
    if (!reqs) co_return from_error(reqs.error());
    SubmitBatcher::Results r = co_await c.batcher.submit(std::move(*reqs));
    if (!r[0]) co_return from_error(r[0].error());
    co_return json_response(201, wire::job_json(*r[0]));
}

// Many images with shared fields in one request (genqctl submit sends its files this way):
// one answer per image, in order, each a job or an error.
Reply submit_batch(Call& c) {
    if (!is_multipart(c.req))
        co_return json_error(415, "unsupported_media_type",
                             "POST /v1/jobs/batch takes multipart/form-data with `image` files");
    auto form = read_form(c.req, false);
    if (!form) co_return from_error(form.error());
    if (form->images.empty())
        co_return json_error(422, "invalid_image", "image: missing (at least one file)");
    std::vector<std::string> names;
    for (const auto& image : form->images) names.push_back(image.second);
    SubmitBatcher::Results r = co_await c.batcher.submit(requests_of(*form));
    std::vector<wire::BatchItem> items;
    for (std::size_t i = 0; i < r.size(); ++i) {
        if (r[i])
            items.push_back({names[i], *r[i], {}});
        else
            items.push_back({names[i], std::nullopt, {r[i].error().message, r[i].error().code}});
    }
    co_return json_response(200, wire::batch_json(items));
}

Reply list_jobs(Call& c) {
    auto q = read_query(c.req);
    if (!q) co_return json_error(400, q.error().code, q.error().message);
    wire::JobPage page{c.ctx.jobs.list(*q), ""};
    if (static_cast<int>(page.jobs.size()) == q->limit) page.next = page.jobs.back().id;
    co_return json_response(200, wire::page_json(page));
}

}  // namespace genq::api
