// genqctl status [ID]: the daemon's summary, or one job.
#include <cstdio>

#include "ctl.hpp"

namespace genqctl {
namespace {

std::string text(const nlohmann::json& v) {
    if (v.is_null()) return "-";
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
}

void print_job(const nlohmann::json& j) {
    auto row = [](const char* k, const std::string& v) { std::printf("%-14s %s\n", k, v.c_str()); };
    row("id", text(j["id"]));
    row("kind", text(j["kind"]));
    row("state", text(j["state"]));
    if (!j["wait_reason"].is_null()) row("waiting for", text(j["wait_reason"]));
    row("input", text(j["input"]["name"]) + " (" + text(j["input"]["width"]) + "x" +
                     text(j["input"]["height"]) + ", " + text(j["input"]["bytes"]) + " bytes)");
    row("params", j["params"].dump());
    row("key", text(j["key"]));
    row("remote id", text(j["remote_id"]));
    row("attempts", text(j["attempts"]));
    row("polls", text(j["polls"]));
    row("created", text(j["created_at"]));
    row("updated", text(j["updated_at"]));
    row("finished", text(j["finished_at"]));
    row("output", text(j["output"]));
    row("finish reason", text(j["finish_reason"]));
    row("seed", text(j["seed"]));
    if (!j["error"].is_null())
        row("error", text(j["error"]["code"]) + ": " + text(j["error"]["message"]));
}

void print_summary(const nlohmann::json& s) {
    std::printf("genqd %s, up %s s%s\n", text(s["version"]).c_str(), text(s["uptime_s"]).c_str(),
                s["paused"].get<bool>() ? ", submissions PAUSED" : "");
    std::string counts;
    for (const auto& [state, n] : s["counts"].items())
        counts += (counts.empty() ? "" : ", ") + state + " " + text(n);
    std::printf("jobs: %s\n", counts.c_str());
    const auto& b = s["budget"];
    if (b["daily_credits"].get<double>() > 0)
        std::printf("budget: %s of %s credits today%s\n", text(b["spent_today"]).c_str(),
                    text(b["daily_credits"]).c_str(),
                    b["override"].get<bool>() ? " (cap lifted until reload)" : "");
    std::vector<std::vector<std::string>> rows;
    for (const auto& k : s["keys"])
        rows.push_back({text(k["name"]), text(k["state"]),
                        text(k["requests_in_window"]) + "/" + text(k["requests_per_window"]),
                        text(k["in_flight"]), text(k["credits_today"]), text(k["credits_total"]),
                        text(k["locked_until"])});
    std::puts("");
    print_table({"KEY", "STATE", "WINDOW", "IN FLIGHT", "CREDITS TODAY", "TOTAL", "LOCKED UNTIL"},
                rows);
}

}  // namespace

void add_status(CLI::App& app, Ctl& ctl, Runner& run) {
    auto id = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("status", "daemon summary, or one job");
    cmd->add_option("id", *id, "job id");
    cmd->callback([&ctl, &run, id] {
        run = [&ctl, id] {
            auto j =
                ctl.call_json("GET", id->empty() ? "/v1/status" : "/v1/jobs/" + url_encode(*id));
            if (ctl.json)
                std::printf("%s\n", j.dump(2).c_str());
            else if (id->empty())
                print_summary(j);
            else
                print_job(j);
            return kOk;
        };
    });
}

}  // namespace genqctl
