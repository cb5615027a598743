// genqctl pause | resume | keys | reload: actions on the daemon.
#include <cstdio>

#include <cmath>

#include "core/clock.hpp"
#include "ctl.hpp"

namespace genqctl {
namespace {

int run_keys(Ctl& ctl) {
    auto s = ctl.call_json("GET", "/v1/status");
    if (ctl.json) {
        std::printf("%s\n", s["keys"].dump(2).c_str());
        return kOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& k : parsed(genq::api::wire::parse_status(s)).keys)
        rows.push_back({k.name, nlohmann::json(k.weight).dump(), k.state,
                        std::to_string(k.requests_in_window) + "/" +
                            std::to_string(k.requests_per_window),
                        std::to_string(k.in_flight), std::to_string(k.credits_today),
                        k.balance ? nlohmann::json(*k.balance).dump() : "-",
                        k.locked_until > 0 ? genq::iso8601_ms(std::llround(k.locked_until * 1000))
                                           : "-"});
    print_table({"KEY", "WEIGHT", "STATE", "WINDOW", "IN FLIGHT", "CREDITS TODAY", "BALANCE",
                 "LOCKED UNTIL"},
                rows);
    return kOk;
}

int run_pause(Ctl& ctl, bool pause, const std::string& key, bool budget) {
    std::string target = pause ? "/v1/pause" : "/v1/resume";
    std::string q;
    if (!key.empty()) q += "key=" + url_segment(key);
    if (budget) q += std::string(q.empty() ? "" : "&") + "budget=1";
    auto s = ctl.call_json("POST", target + (q.empty() ? "" : "?" + q));
    if (ctl.json)
        std::printf("%s\n", s.dump(2).c_str());
    else
        std::printf("%s %s\n", pause ? "paused" : "resumed",
                    key.empty() ? "all submissions" : ("key " + key).c_str());
    return kOk;
}

}  // namespace

void add_daemon_actions(CLI::App& app, Ctl& ctl, Runner& run) {
    for (bool pause : {true, false}) {
        auto key = std::make_shared<std::string>();
        auto budget = std::make_shared<bool>(false);
        auto* cmd = app.add_subcommand(pause ? "pause" : "resume",
                                       pause ? "stop submitting new work (polling goes on)"
                                             : "submit again; clears out_of_credits");
        cmd->add_option("--key", *key, "only this key");
        if (!pause) cmd->add_flag("--budget", *budget, "lift today's credit cap until reload");
        cmd->callback([&ctl, &run, key, budget, pause] {
            run = [&ctl, key, budget, pause] { return run_pause(ctl, pause, *key, *budget); };
        });
    }
    app.add_subcommand("keys", "API keys and their budgets")->callback([&ctl, &run] {
        run = [&ctl] { return run_keys(ctl); };
    });
    app.add_subcommand("reload", "re-read the configuration (as SIGHUP)")->callback([&ctl, &run] {
        run = [&ctl] {
            auto r = ctl.call("POST", "/v1/reload");
            if (r.status >= 400) throw ExitError{kFailed, Ctl::error_of(r)};
            if (!ctl.json)
                std::printf("configuration reloaded\n");
            else
                std::printf("%s\n", r.body.c_str());
            return kOk;
        };
    });
}

}  // namespace genqctl
