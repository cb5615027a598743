// genq-fakeapi: an HTTPS stand-in for the Stability AI API, for tests and the demo.
// This header holds the plain types shared by the sans-io provider logic (provider.cpp,
// endpoints.cpp) and the network half (server.cpp), so only server.cpp pulls in Beast.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fakeapi {

struct Options {
    std::string listen = "127.0.0.1:0";
    std::string cert;
    std::string key;
    std::string port_file;
    std::string log_file;
    std::vector<std::string> keys;
    std::vector<std::string> no_credit_keys;
    double credits = 1000000;  // each key's starting balance; every success is charged its price
    std::size_t limit = 150;
    double window = 10;
    double lockout = 60;
    double poll_interval = 10;
    double gen_time = 3.5;
    double gen_jitter = 0.25;
    std::size_t video_bytes = 200000;
    std::string videos = "builtin";  // builtin | zoom (ffmpeg, from the submitted image)
    std::optional<std::uint64_t> seed;
    double fault_5xx = 0;
    double fault_drop = 0;
    double fault_truncate = 0;
    double fault_429 = 0;
    bool fault_429_lockout = false;  // an injected 429 locks the key out as a real one does
    double lockout_grace = 0;  // requests this soon after a lock-out began were already on their way
    double fault_slow = 0;
    double fault_tls = 0;
    double slow_seconds = 5;
};

struct Request {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;
    double arrival = 0;  // epoch seconds (CLOCK_REALTIME) when the request was fully read
    bool keep_alive = true;
};

enum class Op { submit, poll, balance, other, control };

// What one request leaves in the log and the counters once its answer has gone out.
struct Record {
    double t = 0;
    std::optional<int> key;
    std::string method;
    std::string path;
    int status = 0;
    Op op = Op::other;
    std::optional<std::string> gen;
    std::optional<std::string> fault;
    std::optional<std::string> sha256;  // of the result bytes, when this answer carries a result
};

enum class Delivery { normal, drop, truncate };
enum class Outcome { sent, truncated, dropped };

struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    Delivery delivery = Delivery::normal;
    double delay = 0;    // seconds to wait before answering (the "slow" fault)
    bool close = false;  // close the connection after this answer
    Record record;
};

}  // namespace fakeapi
