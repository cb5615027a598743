// The provider's behaviour, without any I/O: authentication, the per-key sliding-window limiter,
// fault injection, the endpoints, counters and the request log. Single-threaded by design (the
// server runs one io_context thread), so nothing here locks.
#pragma once

#include "fakeapi.hpp"
#include "media.hpp"
#include "video_maker.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace fakeapi {

struct Generation {
    std::string id;
    int key = 0;
    std::string kind;
    std::string format;  // mp4 | png | jpeg | webp
    double created_at = 0;
    double ready_at = 0;
    std::string finish_reason = "SUCCESS";
    std::uint64_t seed = 0;          // reported to the client
    std::uint64_t content_seed = 0;  // makes the result bytes
    std::string input_sha256;
    nlohmann::json params;
    std::optional<std::string> result_sha256;
    int downloads = 0;
    std::string served_form;     // "bytes" | "json": how the last result was asked for
    double last_poll_sent = -1;  // when the previous poll's answer went out, for early_polls
};

struct KeyState {
    std::deque<double> arrivals;  // inside the current window, oldest first
    double locked_until = 0;
    double locked_at = 0;  // when the current lock-out began
    std::size_t max_in_window = 0;
};

struct Counters {
    std::uint64_t requests = 0;
    std::uint64_t submits = 0;
    std::uint64_t submits_accepted = 0;
    std::uint64_t polls = 0;
    std::uint64_t results_served = 0;
    std::uint64_t rate_limited_real = 0;
    std::uint64_t rate_limited_injected = 0;
    std::uint64_t lockouts = 0;
    std::uint64_t requests_in_lockout = 0;  // arrivals during a lock-out, after --lockout-grace
    std::uint64_t early_polls = 0;
    std::uint64_t tls_handshakes = 0;
    std::uint64_t connections = 0;
    std::uint64_t balance_reads = 0;
    std::uint64_t refused_for_credits = 0;
    double charged = 0;
    std::map<int, std::uint64_t> status_counts;
    std::map<std::string, std::uint64_t> faults;
};

struct SubmitEndpoint {
    std::string_view path;
    std::string_view kind;  // genq's name of the operation (SPEC section 3)
    bool async;
    bool video;
};

struct PollEndpoint {
    std::string_view prefix;  // followed by the generation id
    bool video;               // serves video generations, else image ones
    bool any;                 // serves every kind (/v2beta/results/{id})
};

std::string header_value(const Request& req, const std::string& name);
Response json_response(int status, const nlohmann::json& body);

class Provider {
public:
    explicit Provider(Options options);
    ~Provider();
    Provider(const Provider&) = delete;
    Provider& operator=(const Provider&) = delete;

    Response handle(const Request& req);
    // An answer for a request the HTTP parser refused (garbage, oversized body).
    Response protocol_error(int status, std::string_view name, std::string_view why,
                            double arrival);
    // Called just before the answer is written (or dropped): logs and counts it. Before, not
    // after, so that a client that has the answer also finds it in the log and counters.
    void delivering(const Record& record, Outcome outcome);
    // Called once the write finished; `sent_at` times early polls, a failure uncounts a result.
    void delivered(const Record& record, Outcome outcome, bool ok, double sent_at);

    bool roll_tls_fault();
    void on_connection() { ++counters_.connections; }
    void on_handshake() { ++counters_.tls_handshakes; }

private:
    struct Call {
        Call(const Request& r, std::string p) : req(r), path(std::move(p)) {}
        const Request& req;
        std::string path;
        Op op = Op::other;
        const SubmitEndpoint* submit = nullptr;
        const PollEndpoint* poll = nullptr;
        std::string gen;
        std::optional<int> key;
        std::optional<std::string> fault;
    };

    Call classify(const Request& req) const;
    std::optional<int> authenticate(const Request& req) const;
    Response control(const Call& call);
    Response finish(const Call& call, Response res) const;
    Response error(int status, std::string_view name, std::vector<std::string> errors);
    std::optional<Response> limit(const Call& call);
    std::optional<Response> inject_fault(Call& call);
    void note_poll(const Call& call);
    std::optional<Response> charge(int key, double price);
    Response set_credits(const Request& req);
    Response route(Call& call);

    // endpoints.cpp
    Response submit(Call& call);
    Response poll(Call& call);
    Response accept_generation(Call& call, Generation gen);
    Response serve_result(Call& call, Generation& gen);
    std::optional<Response> magic_seed(std::uint64_t seed, const std::string& image_sha);
    std::string video_result(const Generation& gen);

    nlohmann::json stats_json() const;
    nlohmann::json generations_json() const;
    void log(const Record& record, Outcome outcome);
    Generation* own_generation(const Record& record);

    Options opt_;
    std::vector<std::string> all_keys_;  // --keys then --no-credit-keys not already listed
    std::set<int> no_credit_;
    std::map<int, double> balance_;  // credits left per key index
    std::map<int, KeyState> key_states_;
    std::map<std::string, Generation> gens_;
    std::set<std::string> failed_once_;  // image sha256s that already got their magic 500
    Counters counters_;
    std::mt19937_64 rng_;
    std::FILE* log_ = nullptr;
    VideoMaker videos_{opt_.videos == "zoom"};  // after opt_: initialised from it
};

}  // namespace fakeapi
