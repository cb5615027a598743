// genqctl list: jobs, newest first.
#include <cstdio>

#include "core/clock.hpp"
#include "ctl.hpp"

namespace genqctl {
namespace {

struct ListOptions {
    std::vector<std::string> states;
    std::string kind;
    int limit = 50;
};

std::string dash(const std::string& s) { return s.empty() ? "-" : s; }

std::string outcome(const genq::Job& j, const genq::ports::StatusView* status) {
    if (!j.error_code.empty()) return j.error_code + ": " + j.error_message;
    if (!j.output.empty()) return j.output;
    if (j.state == genq::JobState::queued) return "waiting: " + wait_words(j, status);
    return j.input_name;
}

int run_list(Ctl& ctl, const ListOptions& o) {
    std::string q = "/v1/jobs?limit=" + std::to_string(o.limit);
    if (!o.states.empty()) {
        std::string s;
        for (const auto& st : o.states) s += (s.empty() ? "" : ",") + st;
        q += "&state=" + url_segment(s);
    }
    if (!o.kind.empty()) q += "&kind=" + url_segment(o.kind);
    auto j = ctl.call_json("GET", q);
    if (ctl.json) {
        std::printf("%s\n", j.dump(2).c_str());
        return kOk;
    }
    auto page = parsed(genq::api::wire::parse_page(j));
    // Why queued jobs wait depends on the daemon's state too (paused, keys locked).
    std::optional<genq::ports::StatusView> status;
    for (const auto& job : page.jobs)
        if (job.state == genq::JobState::queued && !status)
            status = parsed(genq::api::wire::parse_status(ctl.call_json("GET", "/v1/status")));
    std::vector<std::vector<std::string>> rows;
    for (const auto& job : page.jobs)
        rows.push_back({job.id, job.kind, std::string(genq::to_string(job.state)),
                        dash(job.key_name), std::to_string(job.attempts),
                        std::to_string(job.polls), local_time(job.created_at),
                        outcome(job, status ? &*status : nullptr)});
    TableStyle style;
    style.state_col = 2;
    style.path_cols = {7};  // an output path keeps its file name; messages are cut at the end
    print_table(
        {"ID", "KIND", "STATE", "KEY", "TRIES", "POLLS", "CREATED", "INPUT / OUTPUT / ERROR"},
        rows, style);
    return kOk;
}

}  // namespace

void add_list(CLI::App& app, Ctl& ctl, Runner& run) {
    auto o = std::make_shared<ListOptions>();
    auto* cmd = app.add_subcommand("list", "list jobs, newest first");
    cmd->add_option("--state", o->states,
                    "only these states (repeatable): queued, submitting, running, succeeded, failed, canceled");
    cmd->add_option("--kind", o->kind, "only this kind");
    cmd->add_option("--limit", o->limit, "at most N jobs (1..1000)")->check(CLI::Range(1, 1000));
    cmd->callback([&ctl, &run, o] { run = [&ctl, o] { return run_list(ctl, *o); }; });
}

}  // namespace genqctl
