// genqctl status [ID]: the daemon's summary, or one job.
#include <algorithm>
#include <cstdio>

#include <cmath>

#include "core/clock.hpp"
#include "ctl.hpp"

namespace genqctl {
namespace {

namespace wire = genq::api::wire;

std::string dash(const std::string& s) { return s.empty() ? "-" : s; }
// Numbers as the JSON shows them (1.0 stays "1.0").
std::string number(const nlohmann::json& v) { return v.dump(); }
std::string when(std::int64_t ms) { return local_time(ms); }

void print_job(const genq::Job& j, const genq::ports::StatusView* status) {
    auto row = [](const char* k, const std::string& v) { std::printf("%-14s %s\n", k, v.c_str()); };
    row("id", j.id);
    row("kind", j.kind);
    row("state", state_colour(std::string(genq::to_string(j.state))));
    if (j.state == genq::JobState::queued) row("waiting", wait_words(j, status));
    row("input", j.input_name + " (" + std::to_string(j.input_width) + "x" +
                     std::to_string(j.input_height) + ", " + std::to_string(j.input_bytes) +
                     " bytes)");
    row("params", j.params.dump());
    row("key", dash(j.key_name));
    row("remote id", dash(j.remote_id));
    row("attempts", std::to_string(j.attempts));
    row("polls", std::to_string(j.polls));
    row("created", when(j.created_at));
    row("updated", when(j.updated_at));
    row("finished", j.finished_at ? when(*j.finished_at) : "-");
    row("output", dash(j.output));
    row("finish reason", dash(j.finish_reason));
    row("seed", dash(j.seed));
    if (!j.error_code.empty()) row("error", j.error_code + ": " + j.error_message);
}

void print_summary(const genq::ports::StatusView& s) {
    std::printf("genqd %s, up %s s%s\n", s.version.c_str(), number(s.uptime_s).c_str(),
                s.paused ? ", submissions PAUSED" : "");
    // In the order of a job's life, not alphabetical.
    std::vector<std::pair<std::string, std::int64_t>> by_life(s.counts.begin(), s.counts.end());
    std::stable_sort(by_life.begin(), by_life.end(), [](const auto& a, const auto& b) {
        return lifecycle_rank(a.first) < lifecycle_rank(b.first);
    });
    std::string counts;
    for (const auto& [state, n] : by_life)
        counts += (counts.empty() ? "" : ", ") + state + " " + std::to_string(n);
    std::printf("jobs: %s\n", counts.c_str());
    if (s.state_disk.full)
        std::printf("STATE DISK FULL since %s: %s (%lld change(s) of running jobs waiting to "
                    "be written)\n",
                    when(std::llround(s.state_disk.since * 1000)).c_str(),
                    s.state_disk.message.c_str(), static_cast<long long>(s.state_disk.unsaved));
    if (s.daily_credits > 0) {
        auto budget = wire::status_json(s)["budget"];  // the cap as the daemon shows it
        std::printf("budget: %s of %s credits today%s\n", std::to_string(s.spent_today).c_str(),
                    number(budget["daily_credits"]).c_str(),
                    s.budget_override ? " (cap lifted until reload)" : "");
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& k : s.keys)
        rows.push_back({k.name, k.state,
                        std::to_string(k.requests_in_window) + "/" +
                            std::to_string(k.requests_per_window),
                        std::to_string(k.in_flight), std::to_string(k.credits_today),
                        std::to_string(k.credits_total),
                        k.locked_until > 0 ? when(std::llround(k.locked_until * 1000)) : "-"});
    std::puts("");
    print_table({"KEY", "STATE", "WINDOW", "IN FLIGHT", "CREDITS TODAY", "TOTAL", "LOCKED UNTIL"},
                rows);
    if (s.nodes.empty()) return;  // the embedded store: one node, this one
    std::vector<std::vector<std::string>> nodes;
    for (const auto& n : s.nodes) {
        char age[32];
        std::snprintf(age, sizeof age, "%.1f s ago", n.heartbeat_age_s);
        nodes.push_back({n.name + (n.name == s.node ? " (this)" : ""), n.alive ? "alive" : "dead",
                         age, std::to_string(n.generations)});
    }
    std::puts("");
    print_table({"NODE", "STATE", "LAST HEARTBEAT", "GENERATIONS"}, nodes);
}

// A queued job's reason needs the daemon's state as well.
void show_job(Ctl& ctl, const genq::Job& j) {
    std::optional<genq::ports::StatusView> status;
    if (j.state == genq::JobState::queued)
        status = parsed(wire::parse_status(ctl.call_json("GET", "/v1/status")));
    print_job(j, status ? &*status : nullptr);
}

}  // namespace

void add_status(CLI::App& app, Ctl& ctl, Runner& run) {
    auto id = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("status", "daemon summary, or one job");
    cmd->add_option("id", *id, "job id");
    cmd->callback([&ctl, &run, id] {
        run = [&ctl, id] {
            auto j =
                ctl.call_json("GET", id->empty() ? "/v1/status" : "/v1/jobs/" + url_segment(*id));
            if (ctl.json)
                std::printf("%s\n", j.dump(2).c_str());
            else if (id->empty())
                print_summary(parsed(wire::parse_status(j)));
            else
                show_job(ctl, parsed(wire::parse_job(j)));
            return kOk;
        };
    });
}

}  // namespace genqctl
