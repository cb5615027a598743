// What every genqctl command shares: the connection to genqd, output mode, exit codes (SPEC §6:
// 0 success, 1 a job failed or the daemon refused, 2 usage, 3 daemon unreachable).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "api/wire.hpp"
#include "net/unix_client.hpp"

namespace genqctl {

enum Exit { kOk = 0, kFailed = 1, kUsage = 2, kUnreachable = 3 };

// Thrown to end the program with a code after printing the message to stderr.
struct ExitError {
    int code;
    std::string message;
};

struct Ctl {
    std::string socket;
    bool json = false;
    std::unique_ptr<genq::net::UnixHttpClient> client;

    genq::net::UnixHttpClient& conn();
    // Sends a request; exits 3 when genqd is unreachable. Returns status and parsed body.
    genq::net::HttpResponse call(const std::string& method, const std::string& target,
                                 std::string body = {}, std::string content_type = {});
    nlohmann::json call_json(const std::string& method, const std::string& target);
    // The daemon's error message of a failed answer.
    static std::string error_of(const genq::net::HttpResponse& r);
};

bool stdout_is_tty();
int terminal_width();                                      // 80 when unknown
std::string fit(const std::string& s, std::size_t width);  // cut with "…"
void print_table(const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows);

// A wire parser's result, or exit 1: "genqd sent a malformed answer: <what>".
template <class T>
T parsed(genq::Result<T> r) {
    if (!r) throw ExitError{kFailed, "genqd sent a " + r.error().message};
    return std::move(*r);
}

// One URL path segment or query value (ids, key names): the API's one encoder.
using genq::api::wire::url_segment;

// One function per command file registers its subcommand; the callback runs it.
using Runner = std::function<int()>;
void add_submit(CLI::App& app, Ctl& ctl, Runner& run);
void add_status(CLI::App& app, Ctl& ctl, Runner& run);
void add_list(CLI::App& app, Ctl& ctl, Runner& run);
void add_wait(CLI::App& app, Ctl& ctl, Runner& run);
void add_job_actions(CLI::App& app, Ctl& ctl, Runner& run);     // cancel, retry, output, events
void add_daemon_actions(CLI::App& app, Ctl& ctl, Runner& run);  // pause, resume, keys, reload

// Used by submit --wait and wait: follows the jobs until all are final; 0 if all succeeded.
int wait_for_jobs(Ctl& ctl, const std::vector<std::string>& ids, double timeout);

}  // namespace genqctl
