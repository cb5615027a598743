// genq-fakeapi: command line. See server.cpp (network) and provider.cpp (behaviour).
#include "server.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

namespace {

void add_fault_options(CLI::App& app, fakeapi::Options& o) {
    const auto rate = CLI::Range(0.0, 1.0);
    app.add_option("--fault-5xx", o.fault_5xx, "rate of injected 500/502/503")->check(rate);
    app.add_option("--fault-drop", o.fault_drop, "rate of connections closed unanswered")
        ->check(rate);
    app.add_option("--fault-truncate", o.fault_truncate, "rate of answers cut after half the body")
        ->check(rate);
    app.add_option("--fault-429", o.fault_429, "rate of injected 429 (no lockout)")->check(rate);
    app.add_flag("--fault-429-lockout", o.fault_429_lockout,
                 "an injected 429 locks the key out for --lockout seconds");
    app.add_option("--lockout-grace", o.lockout_grace,
                   "requests arriving this soon after a lock-out began are not counted in "
                   "requests_in_lockout (they were on their way)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--fault-slow", o.fault_slow, "rate of answers delayed --slow-seconds")
        ->check(rate);
    app.add_option("--slow-seconds", o.slow_seconds, "delay of a slow answer")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--fault-tls", o.fault_tls, "rate of new connections whose TLS handshake fails")
        ->check(rate);
}

void add_options(CLI::App& app, fakeapi::Options& o) {
    app.add_option("--listen", o.listen, "loopback HOST:PORT (port 0: any)")->capture_default_str();
    app.add_option("--cert", o.cert, "server certificate chain (PEM)")->required();
    app.add_option("--key", o.key, "server private key (PEM)")->required();
    app.add_option("--port-file", o.port_file, "file that receives the bound port");
    app.add_option("--log", o.log_file, "JSON-lines request log");
    app.add_option("--keys", o.keys, "valid API keys")->delimiter(',');
    app.add_option("--no-credit-keys", o.no_credit_keys, "valid keys without credits (402)")
        ->delimiter(',');
    app.add_option("--credits", o.credits, "starting balance of each key (credits)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--limit", o.limit, "requests per window per key")->check(CLI::PositiveNumber);
    app.add_option("--window", o.window, "window length (s)")->check(CLI::PositiveNumber);
    app.add_option("--lockout", o.lockout, "lockout after a violation (s)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--poll-interval", o.poll_interval, "polls sooner than this count as early")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--gen-time", o.gen_time, "generation time (s)")->check(CLI::NonNegativeNumber);
    app.add_option("--gen-jitter", o.gen_jitter, "relative jitter of the generation time")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--video-bytes", o.video_bytes,
                   "minimum size of a video result (padded with a free box)");
    app.add_option("--videos", o.videos,
                   "builtin: a small built-in clip; zoom: a two-second zoom into the submitted "
                   "image, encoded by ffmpeg (the built-in clip when ffmpeg is missing or fails)")
        ->check(CLI::IsMember({"builtin", "zoom"}))
        ->capture_default_str();
    add_fault_options(app, o);
}

}  // namespace

int main(int argc, char** argv) {
    fakeapi::Options options;
    CLI::App app{"genq-fakeapi: HTTPS stand-in for the Stability AI API (tests only)"};
    add_options(app, options);
    std::uint64_t seed = 0;
    auto* seed_option = app.add_option("--seed", seed, "RNG seed (default: random)");
    CLI11_PARSE(app, argc, argv);
    if (seed_option->count() > 0) {
        options.seed = seed;
    }
    const double request_faults = options.fault_5xx + options.fault_drop +
                                  options.fault_truncate + options.fault_429 + options.fault_slow;
    if (request_faults > 1.0 + 1e-9) {
        std::fprintf(stderr, "genq-fakeapi: the request fault rates must sum to at most 1\n");
        return 2;
    }
    try {
        return fakeapi::run_server(options);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "genq-fakeapi: %s\n", e.what());
        return 1;
    }
}
