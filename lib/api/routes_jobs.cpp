// POST /v1/jobs, POST /v1/jobs/batch, GET /v1/jobs.
#include <boost/asio/awaitable.hpp>

#include "api/routes.hpp"
#include "api/submit_form.hpp"
#include "api/wire.hpp"
#include "provider/operation.hpp"

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
    if (!q.kind.empty() && !provider::find_operation(q.kind))
        return Error{"invalid_param", "kind: unknown kind \"" + q.kind +
                                          "\"; allowed: " + provider::operation_names()};
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
    Idempotency::Ticket ticket = c.idem.begin(c.req, *reqs);
    if (ticket.answer) co_return *ticket.answer;
    SubmitBatcher::Results r = co_await c.batcher.submit(std::move(*reqs));
    ServerResponse res = r[0] ? json_response(201, wire::job_json(*r[0])) : from_error(r[0].error());
    c.idem.finish(ticket, res);
    co_return res;
}

namespace {

// ?all_or_nothing=1 and ?check=1: every image is checked before any is queued. The refusal (422)
// names each refused file; the others say they were not queued because of them.
std::optional<ServerResponse> check_all(Call& c, const std::vector<ports::SubmitRequest>& reqs,
                                        const std::vector<std::string>& names, bool dry_run) {
    std::vector<wire::BatchItem> items;
    std::size_t refused = 0;
    for (std::size_t i = 0; i < reqs.size(); ++i) {
        auto ok = c.ctx.intake.check(reqs[i]);
        if (!ok) ++refused;
        items.push_back({names[i], std::nullopt,
                         ok ? wire::ErrorBody{"", ""}
                            : wire::ErrorBody{ok.error().message, ok.error().code}});
    }
    if (refused == 0 && !dry_run) return std::nullopt;
    for (auto& item : items)
        if (refused && item.error.code.empty())
            item.error = {"not queued: another file of the batch was refused", "not_queued"};
    json body = wire::batch_json(items);
    if (refused) {
        body["error"] = std::to_string(refused) + " of " + std::to_string(reqs.size()) +
                        " files refused; nothing queued";
        body["code"] = "invalid_batch";
    }
    return json_response(refused ? 422 : 200, body);
}

// What a batch request asks for, or the answer when it is not to be queued (a bad form, a
// refusal of an all-or-nothing batch, a check, an idempotent replay). Plain code: the coroutine
// below stays a straight line (GCC 12 and coroutines, see TOOLCHAIN.md).
struct BatchPlan {
    std::optional<ServerResponse> answer;
    std::vector<ports::SubmitRequest> reqs;
    std::vector<std::string> names;
    Idempotency::Ticket ticket;
};

BatchPlan plan_batch(Call& c) {
    BatchPlan plan;
    if (!is_multipart(c.req)) {
        plan.answer = json_error(415, "unsupported_media_type",
                                 "POST /v1/jobs/batch takes multipart/form-data with `image` files");
        return plan;
    }
    auto form = read_form(c.req, false);
    if (!form) {
        plan.answer = from_error(form.error());
        return plan;
    }
    if (form->images.empty()) {
        plan.answer = json_error(422, "invalid_image", "image: missing (at least one file)");
        return plan;
    }
    for (const auto& image : form->images) plan.names.push_back(image.second);
    plan.reqs = requests_of(*form);
    bool dry_run = c.req.query_param("check") == "1";
    if (dry_run || c.req.query_param("all_or_nothing") == "1") {
        plan.answer = check_all(c, plan.reqs, plan.names, dry_run);
        if (plan.answer) return plan;
    }
    plan.ticket = c.idem.begin(c.req, plan.reqs);
    plan.answer = plan.ticket.answer;
    return plan;
}

ServerResponse batch_answer(const SubmitBatcher::Results& r, const std::vector<std::string>& names) {
    // Nothing queued because the daemon cannot store anything: the whole request is refused
    // (503), not each file, so a client sees one error naming the cause and can retry later.
    bool none = !r.empty();
    for (const auto& one : r) none = none && !one && one.error().code == "state_disk_full";
    if (none) return from_error(r[0].error());
    std::vector<wire::BatchItem> items;
    for (std::size_t i = 0; i < r.size(); ++i) {
        if (r[i])
            items.push_back({names[i], *r[i], {}});
        else
            items.push_back({names[i], std::nullopt, {r[i].error().message, r[i].error().code}});
    }
    return json_response(200, wire::batch_json(items));
}

}  // namespace

// Many images with shared fields in one request (genqctl submit sends its files this way):
// one answer per image, in order, each a job or an error.
Reply submit_batch(Call& c) {
    BatchPlan plan = plan_batch(c);
    if (plan.answer) co_return *plan.answer;
    SubmitBatcher::Results r = co_await c.batcher.submit(std::move(plan.reqs));
    ServerResponse res = batch_answer(r, plan.names);
    c.idem.finish(plan.ticket, res);
    co_return res;
}

Reply list_jobs(Call& c) {
    auto q = read_query(c.req);
    if (!q) co_return json_error(400, q.error().code, q.error().message);
    wire::JobPage page{c.ctx.jobs.list(*q), ""};
    if (static_cast<int>(page.jobs.size()) == q->limit) page.next = page.jobs.back().id;
    co_return json_response(200, wire::page_json(page));
}

}  // namespace genq::api
