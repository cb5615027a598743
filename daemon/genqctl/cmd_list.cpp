// genqctl list: jobs, newest first.
#include <cstdio>

#include "ctl.hpp"

namespace genqctl {
namespace {

struct ListOptions {
    std::vector<std::string> states;
    std::string kind;
    int limit = 50;
};

std::string cell(const nlohmann::json& v) {
    if (v.is_null()) return "-";
    return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string outcome(const nlohmann::json& j) {
    if (!j["error"].is_null()) return cell(j["error"]["code"]) + ": " + cell(j["error"]["message"]);
    if (!j["output"].is_null()) return cell(j["output"]);
    if (!j["wait_reason"].is_null()) return "waiting: " + cell(j["wait_reason"]);
    return cell(j["input"]["name"]);
}

int run_list(Ctl& ctl, const ListOptions& o) {
    std::string q = "/v1/jobs?limit=" + std::to_string(o.limit);
    if (!o.states.empty()) {
        std::string s;
        for (const auto& st : o.states) s += (s.empty() ? "" : ",") + st;
        q += "&state=" + url_encode(s);
    }
    if (!o.kind.empty()) q += "&kind=" + url_encode(o.kind);
    auto j = ctl.call_json("GET", q);
    if (ctl.json) {
        std::printf("%s\n", j.dump(2).c_str());
        return kOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& job : j["jobs"])
        rows.push_back({cell(job["id"]), cell(job["kind"]), cell(job["state"]), cell(job["key"]),
                        cell(job["attempts"]), cell(job["polls"]),
                        cell(job["created_at"]).substr(0, 19), outcome(job)});
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
