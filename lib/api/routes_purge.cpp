// POST /v1/purge?older_than=30d&state=failed,canceled&dry_run=1: finished jobs deleted now
// (genqctl purge), by the same code the retention sweeper uses.
#include <boost/asio/awaitable.hpp>

#include "api/routes.hpp"
#include "api/wire.hpp"
#include "core/job_state.hpp"
#include "core/retention_config.hpp"

namespace genq::api {
namespace {

constexpr std::string_view kFinal = "succeeded, failed, canceled";

Result<std::vector<JobState>> final_states(const std::string& list) {
    std::vector<JobState> out;
    for (std::size_t i = 0; !list.empty() && i <= list.size();) {
        std::size_t j = list.find(',', i);
        if (j == std::string::npos) j = list.size();
        std::string s = list.substr(i, j - i);
        auto st = parse_job_state(s);
        if (!st || !is_terminal(*st))
            return Error{"invalid_param", "state: only finished jobs can be purged; allowed: " +
                                              std::string(kFinal) + " (got \"" + s + "\")"};
        out.push_back(*st);
        i = j + 1;
    }
    return out;
}

Result<ports::PurgeRequest> read_purge(const net::ServerRequest& req) {
    ports::PurgeRequest r;
    if (std::string age = req.query_param("older_than"); !age.empty()) {
        auto d = parse_duration(age);
        if (!d) return Error{"invalid_param", "older_than: " + d.error().message};
        r.older_than_s = *d;
    }
    auto states = final_states(req.query_param("state"));
    if (!states) return states.error();
    r.states = std::move(*states);
    std::string dry = req.query_param("dry_run");
    if (!dry.empty() && dry != "0" && dry != "1")
        return Error{"invalid_param", "dry_run: must be 1 or 0 (got \"" + dry + "\")"};
    r.dry_run = dry == "1";
    return r;
}

}  // namespace

Reply purge(Call& c) {
    auto r = read_purge(c.req);
    if (!r) co_return from_error(r.error());
    auto done = c.ctx.retention.purge(*r);
    if (!done) co_return from_error(done.error());
    co_return json_response(200, wire::purge_json(*done));
}

}  // namespace genq::api
