// The daemon as a whole: status, the event stream, pause/resume, reload, /metrics, the page.
#include <boost/asio/awaitable.hpp>

#include "api/routes.hpp"
#include "api/status_render.hpp"
#include "api/web_page.hpp"
#include "api/wire.hpp"

namespace genq::api {
namespace {

using net::ServerResponse;

// pause and resume: ?key=NAME (one key) and, for resume only, ?budget=1.
ServerResponse pause_or_resume(Call& c, bool pausing) {
    std::string key = c.req.query_param("key");
    std::string budget = c.req.query_param("budget");
    bool lift = budget == "1" || budget == "true";
    if (!budget.empty() && !lift && budget != "0" && budget != "false")
        return json_error(400, "invalid_param", "budget: must be 1 or 0 (got \"" + budget + "\")");
    if (lift && (pausing || !key.empty()))
        return json_error(400, "invalid_param",
                          "budget=1 lifts the daily cap of the whole daemon: use it with "
                          "POST /v1/resume and no key");
    auto st = pausing ? c.ctx.control.pause(key) : c.ctx.control.resume(key, lift);
    if (!st) return from_error(st.error());
    return json_response(200, wire::status_json(c.ctx.control.status()));
}

}  // namespace

Reply status(Call& c) { co_return json_response(200, wire::status_json(c.ctx.control.status())); }

Reply event_stream(Call&) {
    ServerResponse r;
    r.event_stream = true;
    r.content_type = "text/event-stream";
    // Sent first: a client (genqctl wait) re-reads the jobs it follows when it sees this, so a
    // transition between its first read and the subscription is never missed.
    r.body = "event: hello\ndata: {}\n\n";
    co_return r;
}

Reply pause(Call& c) { co_return pause_or_resume(c, true); }
Reply resume(Call& c) { co_return pause_or_resume(c, false); }

Reply reload(Call& c) {
    auto st = c.ctx.control.reload();
    if (!st) co_return json_error(422, st.error().code, st.error().message);
    co_return json_response(200, {{"reloaded", true}});
}

Reply metrics(Call& c) {
    ServerResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = render_metrics(c.ctx.control.status(), c.ctx.counters);
    co_return r;
}

Reply page(Call&) {
    ServerResponse r;
    r.content_type = "text/html; charset=utf-8";
    r.body = std::string(web_page());
    co_return r;
}

}  // namespace genq::api
