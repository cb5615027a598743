// Request pipeline of the stand-in: control endpoints, authentication, the limiter, payment,
// fault injection, then the endpoint itself. Also the counters, /__stats and the log.
#include "provider.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace fakeapi {
namespace {

using nlohmann::json;

constexpr std::array kSubmits{
    SubmitEndpoint{"/v2beta/image-to-video", "video", true, true},
    SubmitEndpoint{"/v2alpha/generation/image-to-video", "video-v2alpha", true, true},
    SubmitEndpoint{"/v2alpha/generation/stable-image/upscale", "upscale", true, false},
    SubmitEndpoint{"/v2beta/stable-image/upscale/creative", "upscale-creative", true, false},
    SubmitEndpoint{"/v2alpha/generation/stable-image/inpaint", "inpaint", false, false},
    SubmitEndpoint{"/v2beta/stable-image/edit/inpaint", "inpaint-v2beta", false, false},
    SubmitEndpoint{"/v2beta/stable-image/generate/ultra", "ultra", false, false},
    SubmitEndpoint{"/v2beta/stable-image/generate/core", "core", false, false},
    SubmitEndpoint{"/v2beta/stable-image/generate/sd3", "sd3", false, false},
    SubmitEndpoint{"/v2beta/stable-image/upscale/conservative", "upscale-conservative", false,
                   false},
    SubmitEndpoint{"/v2beta/stable-image/upscale/fast", "upscale-fast", false, false},
    SubmitEndpoint{"/v2beta/stable-image/edit/erase", "erase", false, false},
    SubmitEndpoint{"/v2beta/stable-image/edit/outpaint", "outpaint", false, false},
    SubmitEndpoint{"/v2beta/stable-image/edit/search-and-replace", "search-and-replace", false,
                   false},
    SubmitEndpoint{"/v2beta/stable-image/edit/search-and-recolor", "search-and-recolor", false,
                   false},
    SubmitEndpoint{"/v2beta/stable-image/edit/remove-background", "remove-background", false,
                   false},
    SubmitEndpoint{"/v2beta/stable-image/edit/replace-background-and-relight", "relight", true,
                   false},
    SubmitEndpoint{"/v2beta/stable-image/control/sketch", "sketch", false, false},
    SubmitEndpoint{"/v2beta/stable-image/control/structure", "structure", false, false},
    SubmitEndpoint{"/v2beta/stable-image/control/style", "style", false, false},
};

constexpr std::string_view kBalancePath = "/v1/user/balance";

constexpr std::array kPolls{
    PollEndpoint{"/v2beta/image-to-video/result/", true, false},
    PollEndpoint{"/v2alpha/generation/image-to-video/result/", true, false},
    PollEndpoint{"/v2alpha/generation/stable-image/upscale/result/", false, false},
    PollEndpoint{"/v2beta/results/", false, true},
};

std::string path_of(const std::string& target) { return target.substr(0, target.find('?')); }

const char* op_name(Op op) {
    switch (op) {
    case Op::submit:
        return "submit";
    case Op::poll:
        return "poll";
    case Op::balance:
        return "balance";
    default:
        return "other";
    }
}

json optional_json(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

}  // namespace

std::string header_value(const Request& req, const std::string& name) {
    const auto it = req.headers.find(name);
    return it == req.headers.end() ? std::string{} : it->second;
}

Response json_response(int status, const json& body) {
    Response res;
    res.status = status;
    res.headers.emplace_back("content-type", "application/json");
    res.body = body.dump();
    return res;
}

Provider::Provider(Options options) : opt_(std::move(options)) {
    rng_.seed(opt_.seed ? *opt_.seed : std::random_device{}());
    all_keys_ = opt_.keys;
    for (const auto& k : opt_.no_credit_keys) {
        auto it = std::find(all_keys_.begin(), all_keys_.end(), k);
        if (it == all_keys_.end()) {
            it = all_keys_.insert(all_keys_.end(), k);
        }
        no_credit_.insert(static_cast<int>(it - all_keys_.begin()));
    }
    for (std::size_t k = 0; k < all_keys_.size(); ++k) {
        const int key = static_cast<int>(k);
        balance_[key] = no_credit_.count(key) != 0 ? 0.0 : opt_.credits;
    }
    if (!opt_.log_file.empty()) {
        log_ = std::fopen(opt_.log_file.c_str(), "a");
        if (log_ == nullptr) {
            throw std::runtime_error("cannot open log file " + opt_.log_file);
        }
    }
}

Provider::~Provider() {
    if (log_ != nullptr) {
        std::fclose(log_);
    }
}

Response Provider::handle(const Request& req) {
    Call call = classify(req);
    if (call.op == Op::control) {
        return control(call);
    }
    ++counters_.requests;
    counters_.submits += call.op == Op::submit ? 1 : 0;
    counters_.polls += call.op == Op::poll ? 1 : 0;
    call.key = authenticate(req);
    if (!call.key) {
        return finish(call, error(401, "unauthorized", {"missing or invalid API key"}));
    }
    if (call.op == Op::poll) {
        note_poll(call);
    }
    if (auto limited = limit(call)) {
        return finish(call, std::move(*limited));
    }
    if (call.op == Op::balance) {  // counted by the limiter like any request, above
        ++counters_.balance_reads;
        return finish(call, json_response(200, json{{"credits", balance_[*call.key]}}));
    }
    if (no_credit_.count(*call.key) != 0) {
        return finish(call, error(402, "payment_required", {"insufficient credits"}));
    }
    if (call.op == Op::submit || call.op == Op::poll) {
        if (auto fault = inject_fault(call)) {
            return finish(call, std::move(*fault));
        }
    }
    return route(call);
}

Provider::Call Provider::classify(const Request& req) const {
    Call call{req, path_of(req.target)};
    if (call.path.rfind("/__", 0) == 0) {
        call.op = Op::control;
        return call;
    }
    for (const auto& s : kSubmits) {
        if (req.method == "POST" && call.path == s.path) {
            call.op = Op::submit;
            call.submit = &s;
        }
    }
    if (req.method == "GET" && call.path == kBalancePath) {
        call.op = Op::balance;
    }
    for (const auto& p : kPolls) {
        if (req.method == "GET" && call.path.rfind(p.prefix, 0) == 0) {
            call.op = Op::poll;
            call.poll = &p;
            call.gen = call.path.substr(p.prefix.size());
        }
    }
    return call;
}

std::optional<int> Provider::authenticate(const Request& req) const {
    const auto auth = header_value(req, "authorization");
    if (auth.size() < 7 || lower(auth.substr(0, 7)) != "bearer ") {
        return std::nullopt;
    }
    const auto begin = auth.find_first_not_of(' ', 7);
    const auto end = auth.find_last_not_of(' ');
    if (begin == std::string::npos) {
        return std::nullopt;
    }
    const auto token = auth.substr(begin, end + 1 - begin);
    const auto it = std::find(all_keys_.begin(), all_keys_.end(), token);
    if (it == all_keys_.end()) {
        return std::nullopt;
    }
    return static_cast<int>(it - all_keys_.begin());
}

// Exact sliding window on arrival times; every request of the key counts, refused ones too,
// because the provider cannot tell a retry from a new request either.
std::optional<Response> Provider::limit(const Call& call) {
    auto& ks = key_states_[*call.key];
    const double t = call.req.arrival;
    while (!ks.arrivals.empty() && ks.arrivals.front() <= t - opt_.window) {
        ks.arrivals.pop_front();
    }
    ks.arrivals.push_back(t);
    ks.max_in_window = std::max(ks.max_in_window, ks.arrivals.size());
    if (t < ks.locked_until) {
        ++counters_.rate_limited_real;
        if (t >= ks.locked_at + opt_.lockout_grace) {
            ++counters_.requests_in_lockout;
        }
        return error(429, "rate_limit_exceeded",
                     {"key is locked out after exceeding the rate limit; try again later"});
    }
    if (ks.arrivals.size() > opt_.limit) {
        ks.locked_until = t + opt_.lockout;
        ks.locked_at = t;
        ++counters_.rate_limited_real;
        ++counters_.lockouts;
        return error(429, "rate_limit_exceeded",
                     {"you have exceeded the rate limit of " + std::to_string(opt_.limit) +
                      " requests within a " + json(opt_.window).dump() + " second period"});
    }
    return std::nullopt;
}

// Takes a job's price from the key's balance, or answers 402 when it cannot pay: the balance
// goes down as the stand-in charges, and a key runs dry the way a real account does.
std::optional<Response> Provider::charge(int key, double price) {
    double& balance = balance_[key];
    if (balance + 1e-9 < price) {
        ++counters_.refused_for_credits;
        return error(402, "payment_required",
                     {"insufficient credits: the balance is " + json(balance).dump() +
                      ", this request costs " + json(price).dump()});
    }
    balance -= price;
    counters_.charged += price;
    return std::nullopt;
}

// POST /__credits {"key": index, "credits": N}: sets a key's balance (tests drain or refill it).
Response Provider::set_credits(const Request& req) {
    const json body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("key") || !body["key"].is_number_integer() ||
        !body.contains("credits") || !body["credits"].is_number() ||
        body["credits"].get<double>() < 0) {
        return json_response(400, json{{"name", "bad_request"},
                                       {"errors", {"body: {\"key\": index, \"credits\": N >= 0}"}}});
    }
    const int key = body["key"].get<int>();
    if (key < 0 || static_cast<std::size_t>(key) >= all_keys_.size()) {
        return json_response(404, json{{"name", "not_found"}, {"errors", {"no such key index"}}});
    }
    balance_[key] = body["credits"].get<double>();
    return json_response(200, json{{"key", key}, {"credits", balance_[key]}});
}

// Counts a poll of a known generation that comes sooner than --poll-interval after the answer to
// the previous poll went out, whatever this poll is answered.
void Provider::note_poll(const Call& call) {
    const auto it = gens_.find(call.gen);
    if (it == gens_.end() || it->second.key != *call.key) {
        return;
    }
    const auto& g = it->second;
    if (g.last_poll_sent >= 0 && call.req.arrival - g.last_poll_sent < opt_.poll_interval) {
        ++counters_.early_polls;
    }
}

// One uniform draw picks at most one fault, so each rate holds exactly (they must sum to <= 1).
std::optional<Response> Provider::inject_fault(Call& call) {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    double edge = 0;
    const std::array<std::pair<const char*, double>, 5> faults{{{"5xx", opt_.fault_5xx},
                                                                {"drop", opt_.fault_drop},
                                                                {"truncate", opt_.fault_truncate},
                                                                {"429", opt_.fault_429},
                                                                {"slow", opt_.fault_slow}}};
    for (const auto& [name, rate] : faults) {
        edge += rate;
        if (u < edge) {
            call.fault = name;
            break;
        }
    }
    if (!call.fault) {
        return std::nullopt;
    }
    ++counters_.faults[*call.fault];
    if (*call.fault == "5xx") {
        static constexpr std::array codes{500, 502, 503};
        const int code = codes[std::uniform_int_distribution<std::size_t>(0, 2)(rng_)];
        return error(code, code == 500 ? "internal_error" : "service_unavailable",
                     {"injected server error"});
    }
    if (*call.fault == "429") {
        ++counters_.rate_limited_injected;
        if (opt_.fault_429_lockout) {  // the key rests as after a real violation
            auto& ks = key_states_[*call.key];
            ks.locked_at = call.req.arrival;
            ks.locked_until = call.req.arrival + opt_.lockout;
        }
        return error(429, "rate_limit_exceeded", {"injected rate limit"});
    }
    if (*call.fault == "drop") {
        Response res;
        res.delivery = Delivery::drop;
        return res;
    }
    return std::nullopt;  // truncate and slow apply to the real answer, see route()
}

Response Provider::route(Call& call) {
    Response res;
    if (call.op == Op::submit) {
        res = submit(call);
    } else if (call.op == Op::poll) {
        res = poll(call);
    } else {
        res = error(404, "not_found", {"no such endpoint: " + call.req.method + " " + call.path});
    }
    if (call.fault == std::optional<std::string>("truncate")) {
        res.delivery = Delivery::truncate;
    } else if (call.fault == std::optional<std::string>("slow")) {
        res.delay = opt_.slow_seconds;
    }
    return finish(call, std::move(res));
}

Response Provider::finish(const Call& call, Response res) const {
    auto& r = res.record;
    r.t = call.req.arrival;
    r.key = call.key;
    r.method = call.req.method;
    r.path = call.path;
    r.status = res.status;
    r.op = call.op;
    r.fault = call.fault;
    if (call.op == Op::poll) {
        r.gen = call.gen;
    }
    return res;
}

Response Provider::error(int status, std::string_view name, std::vector<std::string> errors) {
    const json body{{"id", hex_id(rng_, 32)}, {"name", name}, {"errors", std::move(errors)}};
    return json_response(status, body);
}

Response Provider::protocol_error(int status, std::string_view name, std::string_view why,
                                  double arrival) {
    ++counters_.requests;
    Response res = error(status, name, {std::string(why)});
    res.close = true;
    res.record.t = arrival;
    res.record.status = status;
    return res;
}

Response Provider::control(const Call& call) {
    Response res;
    if (call.req.method == "GET" && call.path == "/__stats") {
        res = json_response(200, stats_json());
    } else if (call.req.method == "GET" && call.path == "/__generations") {
        res = json_response(200, generations_json());
    } else if (call.req.method == "POST" && call.path == "/__credits") {
        res = set_credits(call.req);
    } else if (call.req.method == "POST" && call.path == "/__reset") {
        counters_ = Counters{};
        key_states_.clear();
        for (auto& [id, g] : gens_) {
            g.last_poll_sent = -1;
        }
        res = json_response(200, json{{"reset", true}});
    } else {
        res = json_response(404, json{{"name", "not_found"}});
    }
    res.record.op = Op::control;
    return res;
}

bool Provider::roll_tls_fault() {
    if (opt_.fault_tls <= 0 ||
        std::uniform_real_distribution<double>(0.0, 1.0)(rng_) >= opt_.fault_tls) {
        return false;
    }
    ++counters_.faults["tls"];
    return true;
}

void Provider::delivering(const Record& record, Outcome outcome) {
    if (record.op == Op::control) {
        return;
    }
    if (outcome != Outcome::dropped) {
        ++counters_.status_counts[record.status];
    }
    Generation* g = own_generation(record);
    if (g != nullptr && record.sha256 && outcome == Outcome::sent) {
        ++g->downloads;
        ++counters_.results_served;
    }
    log(record, outcome);
}

void Provider::delivered(const Record& record, Outcome outcome, bool ok, double sent_at) {
    Generation* g = own_generation(record);
    if (g == nullptr || record.op == Op::control) {
        return;
    }
    if (ok && record.op == Op::poll) {
        g->last_poll_sent = sent_at;
    }
    if (!ok && record.sha256 && outcome == Outcome::sent) {
        --g->downloads;
        --counters_.results_served;
    }
}

Generation* Provider::own_generation(const Record& record) {
    const auto it = record.gen ? gens_.find(*record.gen) : gens_.end();
    return it != gens_.end() && record.key == it->second.key ? &it->second : nullptr;
}

void Provider::log(const Record& record, Outcome outcome) {
    if (log_ == nullptr) {
        return;
    }
    const json line{
        {"t", record.t},
        {"key", record.key ? json(*record.key) : json(nullptr)},
        {"method", record.method},
        {"path", record.path},
        {"status", outcome == Outcome::dropped ? json(nullptr) : json(record.status)},
        {"op", op_name(record.op)},
        {"gen", optional_json(record.gen)},
        {"fault", optional_json(record.fault)},
        {"sha256", outcome == Outcome::sent ? optional_json(record.sha256) : json(nullptr)},
    };
    const auto text = line.dump() + "\n";
    std::fputs(text.c_str(), log_);
    std::fflush(log_);  // tests read the log while the server runs
}

nlohmann::json Provider::stats_json() const {
    json status = json::object();
    for (const auto& [code, n] : counters_.status_counts) {
        status[std::to_string(code)] = n;
    }
    json max_in_window = json::array();
    for (std::size_t k = 0; k < all_keys_.size(); ++k) {
        const auto it = key_states_.find(static_cast<int>(k));
        max_in_window.push_back(it == key_states_.end() ? 0 : it->second.max_in_window);
    }
    json faults = json::object();
    for (const char* name : {"5xx", "drop", "truncate", "429", "slow", "tls"}) {
        const auto it = counters_.faults.find(name);
        faults[name] = it == counters_.faults.end() ? 0 : it->second;
    }
    json credits = json::array();
    for (std::size_t k = 0; k < all_keys_.size(); ++k) {
        const auto it = balance_.find(static_cast<int>(k));
        credits.push_back(it == balance_.end() ? 0.0 : it->second);
    }
    const auto& c = counters_;
    return json{{"requests", c.requests},
                {"credits", credits},
                {"charged", c.charged},
                {"balance_reads", c.balance_reads},
                {"refused_for_credits", c.refused_for_credits},
                {"submits", c.submits},
                {"submits_accepted", c.submits_accepted},
                {"polls", c.polls},
                {"results_served", c.results_served},
                {"status_counts", status},
                {"rate_limited_real", c.rate_limited_real},
                {"rate_limited_injected", c.rate_limited_injected},
                {"lockouts", c.lockouts},
                {"requests_in_lockout", c.requests_in_lockout},
                {"early_polls", c.early_polls},
                {"max_in_window", max_in_window},
                {"faults", faults},
                {"tls_handshakes", c.tls_handshakes},
                {"connections", c.connections},
                {"generations", gens_.size()}};
}

nlohmann::json Provider::generations_json() const {
    json out = json::object();
    for (const auto& [id, g] : gens_) {
        out[id] = json{{"key_index", g.key},
                       {"kind", g.kind},
                       {"format", g.format},
                       {"sha256", optional_json(g.result_sha256)},
                       {"finish_reason", g.finish_reason},
                       {"seed", g.seed},
                       {"downloads", g.downloads},
                       {"served_form", g.served_form},
                       {"input_sha256", g.input_sha256},
                       {"params", g.params},
                       {"created_at", g.created_at},
                       {"ready_at", g.ready_at}};
    }
    return out;
}

}  // namespace fakeapi
