#include "api/wire.hpp"

#include <cmath>
#include <ctime>

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "core/clock.hpp"
#include "net/http_types.hpp"

namespace genq::api::wire {
namespace {

Error bad(const std::string& what) { return Error{"bad_answer", "malformed answer: " + what}; }

json text_or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

// Daily credits are whole numbers in practice: shown without a fraction when they are.
json credits_json(double credits) {
    if (std::nearbyint(credits) == credits && std::fabs(credits) < 1e15)
        return static_cast<std::int64_t>(credits);
    return credits;
}

// "2026-11-21T10:00:00.123Z" -> ms since the epoch (the form iso8601_ms writes).
std::optional<std::int64_t> parse_iso8601_ms(const std::string& s) {
    std::tm tm{};
    int ms = 0;
    char z = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &tm.tm_year, &tm.tm_mon,
                    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &z) != 8 ||
        z != 'Z')
        return std::nullopt;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<std::int64_t>(::timegm(&tm)) * 1000 + ms;
}

// Field readers: a missing or mistyped field is an error naming it (the first one is kept);
// null reads as empty.
struct Reader {
    const json& j;
    std::string where;
    std::optional<Error> error;

    void fail(const std::string& what) {
        if (!error) error = bad(what);
    }
    const json* at(const char* name) {
        if (!j.is_object()) {
            // where is "" or "input.", "keys[]." ...
            fail((where.empty() ? std::string("the answer") : where.substr(0, where.size() - 1)) +
                 " is not an object");
            return nullptr;
        }
        auto it = j.find(name);
        if (it == j.end()) {
            fail(where + name + " missing");
            return nullptr;
        }
        return &*it;
    }
    // The field, when present, not null and of the wanted kind.
    template <class Is>
    const json* typed(const char* name, Is is, const char* kind) {
        const json* v = at(name);
        if (!v || v->is_null()) return nullptr;
        if (!is(*v)) {
            fail(where + name + " is not " + kind);
            return nullptr;
        }
        return v;
    }
    std::string text(const char* name) {
        const json* v = typed(name, [](const json& x) { return x.is_string(); }, "a string");
        return v ? v->get<std::string>() : std::string();
    }
    template <class T>
    T number(const char* name) {
        const json* v = typed(name, [](const json& x) { return x.is_number(); }, "a number");
        return v ? v->get<T>() : T{};
    }
    bool flag(const char* name) {
        const json* v = typed(name, [](const json& x) { return x.is_boolean(); }, "a boolean");
        if (!v && !error) fail(where + name + " is not a boolean");
        return v && v->get<bool>();
    }
    std::int64_t time_ms(const char* name) {
        std::string s = text(name);
        if (s.empty()) return 0;
        auto ms = parse_iso8601_ms(s);
        if (!ms) fail(where + name + " is not a time");
        return ms.value_or(0);
    }
};

void read_input(Reader& r, Job& job) {
    const json* in = r.at("input");
    if (!in) return;
    Reader ri{*in, "input.", std::nullopt};
    job.input_name = ri.text("name");
    job.input_sha256 = ri.text("sha256");
    job.input_width = ri.number<int>("width");
    job.input_height = ri.number<int>("height");
    job.input_bytes = ri.number<std::int64_t>("bytes");
    // --fit's fields are newer than the rest: a daemon without them sends neither.
    if (in->is_object() && in->contains("fit")) {
        job.fit = ri.text("fit");
        const json* o = ri.at("original");
        if (o && o->is_object()) {
            Reader ro{*o, "input.original.", std::nullopt};
            job.original_width = ro.number<int>("width");
            job.original_height = ro.number<int>("height");
            if (ro.error && !ri.error) ri.error = ro.error;
        }
    }
    if (ri.error && !r.error) r.error = ri.error;
}

void read_error(Reader& r, Job& job) {
    const json* e = r.at("error");
    if (!e || e->is_null()) return;
    Reader re{*e, "error.", std::nullopt};
    job.error_code = re.text("code");
    job.error_message = re.text("message");
    if (re.error && !r.error) r.error = re.error;
}

}  // namespace

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json job_json(const Job& job) { return genq::to_json(job); }

Result<Job> parse_job(const json& j) {
    Reader r{j, "", std::nullopt};
    Job job;
    job.id = r.text("id");
    job.kind = r.text("kind");
    auto state = parse_job_state(r.text("state"));
    if (!state) r.fail("state is not a job state");
    if (state) job.state = *state;
    job.priority = r.number<int>("priority");
    if (const json* p = r.at("params")) job.params = *p;
    read_input(r, job);
    job.key_name = r.text("key");
    job.remote_id = r.text("remote_id");
    job.attempts = r.number<int>("attempts");
    job.polls = r.number<int>("polls");
    job.created_at = r.time_ms("created_at");
    job.updated_at = r.time_ms("updated_at");
    if (const json* f = r.at("finished_at"); f && !f->is_null())
        job.finished_at = r.time_ms("finished_at");
    job.output = r.text("output");
    job.finish_reason = r.text("finish_reason");
    job.seed = r.text("seed");
    read_error(r, job);
    job.source = r.text("source");
    if (const json* u = r.at("uid"); u && u->is_number_integer()) job.uid = u->get<std::int64_t>();
    job.wait_reason = r.text("wait_reason");
    job.cost = r.number<int>("cost");
    // Newer than the rest (shared stores): a daemon without it sends no "node".
    if (r.j.is_object() && r.j.contains("node") && r.j["node"].is_string())
        job.node = r.j["node"].get<std::string>();
    if (r.error) return *r.error;
    return job;
}

std::string error_body(const ErrorBody& e) { return net::error_body(e.code, e.error); }

std::optional<ErrorBody> parse_error(std::string_view body) {
    auto j = json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("error") || !j["error"].is_string()) return std::nullopt;
    ErrorBody e{j["error"].get<std::string>(), ""};
    if (j.contains("code") && j["code"].is_string()) e.code = j["code"].get<std::string>();
    return e;
}

json page_json(const JobPage& page) {
    json jobs = json::array();
    for (const auto& job : page.jobs) jobs.push_back(job_json(job));
    return {{"jobs", std::move(jobs)}, {"next", text_or_null(page.next)}};
}

Result<JobPage> parse_page(const json& j) {
    if (!j.is_object() || !j.contains("jobs") || !j["jobs"].is_array()) return bad("jobs missing");
    JobPage page;
    for (const auto& item : j["jobs"]) {
        auto job = parse_job(item);
        if (!job) return job.error();
        page.jobs.push_back(std::move(*job));
    }
    if (j.contains("next") && j["next"].is_string()) page.next = j["next"].get<std::string>();
    return page;
}

json events_json(const std::string& job_id, const std::vector<ports::JobEvent>& events) {
    json out = json::array();
    for (const auto& e : events)
        out.push_back({{"seq", e.seq},
                       {"at", iso8601_ms(e.at)},
                       {"from", text_or_null(e.from_state)},
                       {"to", e.to_state},
                       {"detail", e.detail}});
    return {{"job", job_id}, {"events", std::move(out)}};
}

Result<std::vector<ports::JobEvent>> parse_events(const json& j) {
    if (!j.is_object() || !j.contains("events") || !j["events"].is_array())
        return bad("events missing");
    std::vector<ports::JobEvent> out;
    for (const auto& item : j["events"]) {
        Reader r{item, "events[].", std::nullopt};
        ports::JobEvent e;
        e.job_id = j.value("job", "");
        e.seq = r.number<std::int64_t>("seq");
        e.at = r.time_ms("at");
        e.from_state = r.text("from");
        e.to_state = r.text("to");
        e.detail = r.text("detail");
        if (r.error) return *r.error;
        out.push_back(std::move(e));
    }
    return out;
}

namespace {

json key_json(const ports::KeyView& k) {
    return {{"name", k.name},
            {"weight", k.weight},
            {"state", k.state},
            {"locked_until",
             k.locked_until > 0 ? json(iso8601_ms(std::llround(k.locked_until * 1000))) : json()},
            {"paused", k.paused},
            {"requests_in_window", k.requests_in_window},
            {"requests_per_window", k.requests_per_window},
            {"in_flight", k.in_flight},
            {"credits_today", k.credits_today},
            {"credits_total", k.credits_total},
            {"balance", k.balance ? json(*k.balance) : json()}};
}

Result<ports::KeyView> parse_key(const json& j) {
    Reader r{j, "keys[].", std::nullopt};
    ports::KeyView k;
    k.name = r.text("name");
    k.weight = r.number<double>("weight");
    k.state = r.text("state");
    k.locked_until = static_cast<double>(r.time_ms("locked_until")) / 1000;
    k.paused = r.flag("paused");
    k.requests_in_window = r.number<int>("requests_in_window");
    k.requests_per_window = r.number<int>("requests_per_window");
    k.in_flight = r.number<int>("in_flight");
    k.credits_today = r.number<std::int64_t>("credits_today");
    k.credits_total = r.number<std::int64_t>("credits_total");
    // Newer than the rest: a daemon without it sends no "balance".
    if (j.is_object() && j.contains("balance") && !j["balance"].is_null())
        k.balance = r.number<double>("balance");
    if (r.error) return *r.error;
    return k;
}

}  // namespace

namespace {

json state_disk_json(const ports::StateDiskView& d) {
    return {{"full", d.full},
            {"dir", d.dir},
            {"since", d.since > 0 ? json(iso8601_ms(std::llround(d.since * 1000))) : json()},
            {"message", d.full ? json(d.message) : json()},
            {"unsaved", d.unsaved}};
}

}  // namespace

json status_json(const ports::StatusView& s) {
    json keys = json::array();
    for (const auto& k : s.keys) keys.push_back(key_json(k));
    json nodes = json::array();
    for (const auto& n : s.nodes)
        nodes.push_back({{"name", n.name},
                         {"alive", n.alive},
                         {"heartbeat_age_s", std::round(n.heartbeat_age_s * 10) / 10},
                         {"generations", n.generations}});
    return {{"version", s.version},
            {"uptime_s", std::round(s.uptime_s * 10) / 10},
            {"paused", s.paused},
            {"counts", s.counts},
            {"keys", std::move(keys)},
            {"budget",
             {{"daily_credits", credits_json(s.daily_credits)},
              {"spent_today", s.spent_today},
              {"override", s.budget_override}}},
            {"node", s.node.empty() ? json() : json(s.node)},
            {"nodes", std::move(nodes)},
            {"state_disk", state_disk_json(s.state_disk)}};
}

Result<ports::StatusView> parse_status(const json& j) {
    Reader r{j, "", std::nullopt};
    ports::StatusView s;
    s.version = r.text("version");
    s.uptime_s = r.number<double>("uptime_s");
    s.paused = r.flag("paused");
    if (const json* c = r.at("counts"); c && c->is_object())
        for (const auto& [state, n] : c->items())
            s.counts[state] = n.is_number() ? n.get<std::int64_t>() : 0;
    if (const json* keys = r.at("keys"); keys && keys->is_array())
        for (const auto& item : *keys) {
            auto k = parse_key(item);
            if (!k) return k.error();
            s.keys.push_back(std::move(*k));
        }
    if (const json* b = r.at("budget")) {
        Reader rb{*b, "budget.", std::nullopt};
        s.daily_credits = rb.number<double>("daily_credits");
        s.spent_today = rb.number<std::int64_t>("spent_today");
        s.budget_override = rb.flag("override");
        if (rb.error && !r.error) r.error = rb.error;
    }
    // Newer than the rest (shared stores): absent from older daemons' answers.
    if (j.is_object() && j.contains("node") && j["node"].is_string())
        s.node = j["node"].get<std::string>();
    if (j.is_object() && j.contains("nodes") && j["nodes"].is_array())
        for (const auto& item : j["nodes"]) {
            Reader rn{item, "nodes[].", std::nullopt};
            ports::NodeView n;
            n.name = rn.text("name");
            n.alive = rn.flag("alive");
            n.heartbeat_age_s = rn.number<double>("heartbeat_age_s");
            n.generations = rn.number<int>("generations");
            if (rn.error) return *rn.error;
            s.nodes.push_back(std::move(n));
        }
    // Newer than the rest: a daemon without it sends no "state_disk".
    if (j.is_object() && j.contains("state_disk") && j["state_disk"].is_object()) {
        Reader rd{j["state_disk"], "state_disk.", std::nullopt};
        s.state_disk.full = rd.flag("full");
        s.state_disk.dir = rd.text("dir");
        s.state_disk.since = static_cast<double>(rd.time_ms("since")) / 1000;
        if (s.state_disk.full) s.state_disk.message = rd.text("message");
        s.state_disk.unsaved = rd.number<std::int64_t>("unsaved");
        if (rd.error && !r.error) r.error = rd.error;
    }
    if (r.error) return *r.error;
    return s;
}

json purge_json(const ports::PurgeResult& r) {
    return {{"dry_run", r.dry_run},
            {"more", r.more},
            {"removed",
             {{"jobs", r.removed.jobs}, {"events", r.removed.events}, {"inputs", r.removed.inputs}}}};
}

Result<ports::PurgeResult> parse_purge(const json& j) {
    Reader r{j, "", std::nullopt};
    ports::PurgeResult out;
    out.dry_run = r.flag("dry_run");
    out.more = r.flag("more");
    if (const json* removed = r.at("removed")) {
        Reader rr{*removed, "removed.", std::nullopt};
        out.removed.jobs = rr.number<std::int64_t>("jobs");
        out.removed.events = rr.number<std::int64_t>("events");
        out.removed.inputs = rr.number<std::int64_t>("inputs");
        if (rr.error && !r.error) r.error = rr.error;
    }
    if (r.error) return *r.error;
    return out;
}

json batch_json(const std::vector<BatchItem>& items) {
    json out = json::array();
    for (const auto& item : items) {
        if (item.job)
            out.push_back({{"name", item.name}, {"job", job_json(*item.job)}});
        else
            out.push_back(
                {{"name", item.name}, {"error", item.error.error}, {"code", item.error.code}});
    }
    return {{"results", std::move(out)}};
}

Result<std::vector<BatchItem>> parse_batch(const json& j) {
    if (!j.is_object() || !j.contains("results") || !j["results"].is_array())
        return bad("results missing");
    std::vector<BatchItem> out;
    for (const auto& item : j["results"]) {
        Reader r{item, "results[].", std::nullopt};
        BatchItem b;
        b.name = r.text("name");
        if (item.is_object() && item.contains("job")) {
            auto job = parse_job(item["job"]);
            if (!job) return job.error();
            b.job = std::move(*job);
        } else {
            b.error.error = r.text("error");
            b.error.code = item.is_object() ? item.value("code", "") : "";
        }
        if (r.error) return *r.error;
        out.push_back(std::move(b));
    }
    return out;
}

std::string url_segment(std::string_view s) {
    return boost::urls::encode(s, boost::urls::unreserved_chars);
}

}  // namespace genq::api::wire
