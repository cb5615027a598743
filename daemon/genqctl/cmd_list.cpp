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

std::string outcome(const genq::Job& j) {
    if (!j.error_code.empty()) return j.error_code + ": " + j.error_message;
    if (!j.output.empty()) return j.output;
    if (!j.wait_reason.empty()) return "waiting: " + j.wait_reason;
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
    std::vector<std::vector<std::string>> rows;
    for (const auto& job : parsed(genq::api::wire::parse_page(j)).jobs)
        rows.push_back({job.id, job.kind, std::string(genq::to_string(job.state)),
                        dash(job.key_name), std::to_string(job.attempts),
                        std::to_string(job.polls), genq::iso8601_ms(job.created_at).substr(0, 19),
                        outcome(job)});
    print_table(
        {"ID", "KIND", "STATE", "KEY", "TRIES", "POLLS", "CREATED", "INPUT / OUTPUT / ERROR"},
        rows);
    return kOk;
}

}  // namespace

void add_list(CLI::App& app, Ctl& ctl, Runner& run) {
    auto o = std::make_shared<ListOptions>();
    auto* cmd = app.add_subcommand("list", "list jobs, newest first");
    cmd->add_option("--state", o->states, "only these states (repeatable)");
    cmd->add_option("--kind", o->kind, "only this kind");
    cmd->add_option("--limit", o->limit, "at most N jobs (1..1000)")->check(CLI::Range(1, 1000));
    cmd->callback([&ctl, &run, o] { run = [&ctl, o] { return run_list(ctl, *o); }; });
}

}  // namespace genqctl
