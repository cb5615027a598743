// genqd: the daemon's entry point. Parses the command line, loads and validates the
// configuration, then hands over to genq::app::run_daemon. It never forks.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>

#include "app/config_check.hpp"
#include "app/daemon.hpp"
#include "core/config.hpp"
#include "core/key_advice.hpp"
#include "core/logging.hpp"

namespace {

// Exit 2 with every problem listed: file, key and reason for each.
// Under journald (JOURNAL_STREAM) each line carries the error priority prefix "<3>".
int report_problems(const std::vector<genq::ConfigProblem>& problems) {
    const char* prio = genq::under_journald() ? "<3>" : "";
    for (const auto& p : problems)
        std::fprintf(stderr, "%sgenqd: %s\n", prio, p.to_string().c_str());
    return 2;
}

int check_secrets(const genq::Config& config, const genq::Environment& env) {
    int bad = 0;
    for (const auto& key : config.keys) {
        auto secret = genq::load_key_secret(key, env);
        if (!secret) {
            std::fprintf(stderr, "%sgenqd: %s\n", genq::under_journald() ? "<3>" : "",
                         genq::key_problem_report(key, secret.error()).c_str());
            ++bad;
        }
    }
    return bad;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"genqd: queue Stability AI generations reliably, within the provider's limits"};
    std::string config_path;
    bool check_only = false;
    bool version = false;
    cli.add_option("--config", config_path, "configuration file (TOML)");
    cli.add_flag("--check-config", check_only, "validate the configuration and exit");
    cli.add_flag("--version", version, "print the version and exit");
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = cli.exit(e);
        return rc == 0 ? 0 : 2;
    }
    if (version) {
        std::printf("genqd %s\n", GENQ_VERSION);
        return 0;
    }
    auto env = genq::current_environment();
    auto where = genq::locate_config(config_path, env);
    auto load = genq::app::load_checked_config(where, env);
    if (!load.problems.empty()) return report_problems(load.problems);
    if (check_only) {
        if (check_secrets(load.config, env) > 0) return 2;
        if (where.path.empty() || ::access(where.path.c_str(), F_OK) != 0)
            std::printf("no configuration file%s; defaults: configuration is valid\n",
                        where.path.empty() ? "" : (" (looked for " + where.path + ")").c_str());
        else
            std::printf("%s: configuration is valid\n", where.path.c_str());
        return 0;
    }
    genq::setup_logging(load.config.log_level, load.config.log_format, genq::under_journald());
    return genq::app::run_daemon(where, env, std::move(load.config));
}
