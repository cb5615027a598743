// genqctl cancel | retry | output | events: actions on jobs by id.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "core/clock.hpp"
#include "core/files.hpp"
#include "ctl.hpp"

namespace genqctl {
namespace {

int act_on_each(Ctl& ctl, const std::vector<std::string>& ids, const std::string& action) {
    int rc = kOk;
    nlohmann::json out = nlohmann::json::array();
    for (const auto& id : ids) {
        auto r = ctl.call("POST", "/v1/jobs/" + url_segment(id) + "/" + action);
        if (r.status >= 400) {
            std::fprintf(stderr, "genqctl: %s: %s\n", id.c_str(), Ctl::error_of(r).c_str());
            rc = kFailed;
            continue;
        }
        auto j = nlohmann::json::parse(r.body, nullptr, false);
        out.push_back(j);
        auto job = genq::api::wire::parse_job(j);
        if (!ctl.json)
            std::printf("%s %s\n", job ? job->id.c_str() : id.c_str(),
                        job ? std::string(genq::to_string(job->state)).c_str() : "?");
    }
    if (ctl.json) std::printf("%s\n", out.dump(2).c_str());
    return rc;
}

int run_output(Ctl& ctl, const std::string& id, const std::string& file) {
    auto r = ctl.call("GET", "/v1/jobs/" + url_segment(id) + "/output");
    if (r.status != 200) throw ExitError{kFailed, Ctl::error_of(r)};
    if (file.empty() || file == "-") {
        if (stdout_is_tty())
            throw ExitError{kUsage, "refusing to write binary output to a terminal; use -o FILE"};
        if (ctl.json)
            throw ExitError{kUsage, "--json and output to stdout do not mix; use -o FILE"};
        std::fwrite(r.body.data(), 1, r.body.size(), stdout);
        return kOk;
    }
    auto st = genq::write_file_durably(file, r.body);
    if (!st) throw ExitError{kFailed, st.error().message};
    if (ctl.json)
        print_json({{"id", id}, {"file", file}, {"bytes", r.body.size()},
                    {"content_type", std::string(genq::net::find_header(r.headers, "content-type"))}});
    else
        std::fprintf(stderr, "wrote %zu bytes to %s\n", r.body.size(), file.c_str());
    return kOk;
}

int run_events(Ctl& ctl, const std::string& id) {
    auto j = ctl.call_json("GET", "/v1/jobs/" + url_segment(id) + "/events");
    if (ctl.json) {
        std::printf("%s\n", j.dump(2).c_str());
        return kOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : parsed(genq::api::wire::parse_events(j)))
        rows.push_back({local_time(e.at), e.from_state.empty() ? "-" : e.from_state,
                        e.to_state, e.detail});
    print_table({"AT", "FROM", "TO", "DETAIL"}, rows);
    return kOk;
}

}  // namespace

void add_job_actions(CLI::App& app, Ctl& ctl, Runner& run) {
    for (const char* action : {"cancel", "retry"}) {
        auto ids = std::make_shared<std::vector<std::string>>();
        auto* cmd =
            app.add_subcommand(action, std::string(action) == "cancel"
                                           ? "cancel jobs (a running generation is abandoned)"
                                           : "requeue failed or canceled jobs");
        cmd->add_option("ids", *ids, "job ids (any unique prefix)")->required();
        std::string name = action;
        cmd->callback([&ctl, &run, ids, name] {
            run = [&ctl, ids, name] { return act_on_each(ctl, *ids, name); };
        });
    }
    auto out_id = std::make_shared<std::string>();
    auto out_file = std::make_shared<std::string>();
    auto* out = app.add_subcommand("output", "fetch a job's result");
    out->add_option("id", *out_id, "job id")->required();
    out->add_option("-o,--output", *out_file, "write to FILE (default: stdout)");
    out->callback([&ctl, &run, out_id, out_file] {
        run = [&ctl, out_id, out_file] { return run_output(ctl, *out_id, *out_file); };
    });
    auto ev_id = std::make_shared<std::string>();
    auto* ev = app.add_subcommand("events", "a job's history");
    ev->add_option("id", *ev_id, "job id")->required();
    ev->callback([&ctl, &run, ev_id] { run = [&ctl, ev_id] { return run_events(ctl, *ev_id); }; });
}

}  // namespace genqctl
