// genqctl purge [--older-than DURATION] [--state S]... [--dry-run]: finished jobs, their events
// and the spool files nothing else uses, deleted now (POST /v1/purge). Result files in the
// output directory are never touched.
#include <cstdio>

#include "core/retention_config.hpp"
#include "ctl.hpp"

namespace genqctl {
namespace {

struct PurgeArgs {
    std::string older_than;
    std::vector<std::string> states;
    bool dry_run = false;
};

std::string target_of(const PurgeArgs& a) {
    std::string q;
    auto add = [&q](const std::string& k, const std::string& v) {
        q += (q.empty() ? "?" : "&") + k + "=" + url_segment(v);
    };
    if (!a.older_than.empty()) add("older_than", a.older_than);
    if (!a.states.empty()) {
        std::string list;
        for (const auto& s : a.states) list += (list.empty() ? "" : ",") + s;
        add("state", list);
    }
    if (a.dry_run) add("dry_run", "1");
    return "/v1/purge" + q;
}

int run_purge(Ctl& ctl, const PurgeArgs& a) {
    if (!a.older_than.empty())
        if (auto d = genq::parse_duration(a.older_than); !d)
            throw ExitError{kUsage, "--older-than: " + d.error().message};
    genq::ports::PurgeResult total;
    total.dry_run = a.dry_run;
    // genqd deletes a bounded share per request and says `more`: ask until it is done.
    for (bool more = true; more;) {
        auto r = ctl.call("POST", target_of(a));
        if (r.status >= 400) throw ExitError{kFailed, Ctl::error_of(r)};
        auto one = parsed(genq::api::wire::parse_purge(
            nlohmann::json::parse(r.body, nullptr, false)));
        total.removed += one.removed;
        more = one.more && !a.dry_run;
    }
    if (ctl.json) {
        print_json(genq::api::wire::purge_json(total));
        return kOk;
    }
    std::printf("%s %lld job(s), %lld event(s), %lld spool file(s)\n",
                a.dry_run ? "would remove" : "removed",
                static_cast<long long>(total.removed.jobs),
                static_cast<long long>(total.removed.events),
                static_cast<long long>(total.removed.inputs));
    return kOk;
}

}  // namespace

void add_purge(CLI::App& app, Ctl& ctl, Runner& run) {
    auto a = std::make_shared<PurgeArgs>();
    auto* cmd = app.add_subcommand(
        "purge", "delete finished jobs, their events and unused spool files now (results stay)");
    cmd->add_option("--older-than", a->older_than,
                    "finished at least this long ago: 30d, 12h, 10m, 90s, 0 = all (default: "
                    "[retention] finished_jobs)");
    cmd->add_option("--state", a->states, "only jobs in this state (repeat or comma-separate)")
        ->delimiter(',')
        ->check(CLI::IsMember({"succeeded", "failed", "canceled"}));
    cmd->add_flag("--dry-run", a->dry_run, "count what would be removed; change nothing");
    cmd->callback([&ctl, &run, a] { run = [&ctl, a] { return run_purge(ctl, *a); }; });
}

}  // namespace genqctl
