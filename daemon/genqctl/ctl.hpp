// What every genqctl command shares: the connection to genqd, output mode, exit codes (SPEC §6:
// 0 success, 1 a job failed or the daemon refused, 2 usage, 3 daemon unreachable, 4 wait timed
// out with jobs unfinished), and how tables, times and states are shown.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "api/wire.hpp"
#include "net/unix_client.hpp"

namespace genqctl {

enum Exit { kOk = 0, kFailed = 1, kUsage = 2, kUnreachable = 3, kTimedOut = 4 };

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
                                 std::string body = {}, std::string content_type = {},
                                 const genq::net::Headers& headers = {});
    nlohmann::json call_json(const std::string& method, const std::string& target);
    // The daemon's error message of a failed answer.
    static std::string error_of(const genq::net::HttpResponse& r);
};

bool stdout_is_tty();
int terminal_width();                                      // 80 when unknown
std::string fit(const std::string& s, std::size_t width);  // cut with "~"
// A path cut from the left, so the file name survives: "~/cats/tabby.png".
std::string fit_path(const std::string& s, std::size_t width);
// Colour only on a terminal, and never when NO_COLOR is set (no-color.org) or TERM is dumb.
bool use_colour();
std::string paint(const std::string& s, const char* sgr);  // sgr e.g. "32" (green)
std::string state_colour(const std::string& state);        // the state, painted by its meaning
// Local time with its zone: "2026-12-01 09:42:15 UTC".
std::string local_time(std::int64_t ms);
// A state's place in a job's life (queued first, canceled last); unknown states after all.
int lifecycle_rank(const std::string& state);
// Cells of `path_cols` that hold an absolute path are cut from the left (the file name survives),
// the others from the right;
// the `state_col` is coloured after padding.
struct TableStyle {
    std::vector<std::size_t> path_cols;
    int state_col = -1;
};
void print_table(const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows, const TableStyle& style = {});

// Why a queued job waits, in words: the job's own reason (budget, backoff, key) or, when it has
// none, what the daemon's status says (paused, its key paused or locked until T, no usable key).
std::string wait_words(const genq::Job& job, const genq::ports::StatusView* status);
// Prints one JSON document (the --json contract: one per command).
void print_json(const nlohmann::json& j);
// Ids given on the command line are resolved by genqd (any unique prefix, either case).

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
void add_purge(CLI::App& app, Ctl& ctl, Runner& run);

// Used by submit --wait and wait: follows the jobs until all are final or `timeout` (s, 0 =
// none) passes. code: 0 all succeeded, 1 one did not, 4 timed out with jobs unfinished; jobs:
// each job's last JSON by id. `show`: progress on stdout (a live view on a terminal).
struct WaitResult {
    int code = kOk;
    std::vector<std::string> ids;  // full ids, in the order given
    std::map<std::string, nlohmann::json> jobs;
};
WaitResult wait_for_jobs(Ctl& ctl, const std::vector<std::string>& ids, double timeout, bool show);

}  // namespace genqctl
