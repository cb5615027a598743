// genqctl: the control client. Talks to genqd only through the control socket.
#include <cstdio>

#include "completion.hpp"
#include "core/config.hpp"
#include "ctl.hpp"

namespace {

// --socket, else $GENQ_SOCKET, else the socket the configuration names (SPEC §1-2).
std::string default_socket() {
    auto env = genq::current_environment();
    auto load = genq::load_config(genq::locate_config("", env), env);
    return load.config.socket;
}

// `genqctl help [COMMAND]`: the same text as --help, for the program or one command.
void add_help(CLI::App& app, genqctl::Runner& run) {
    auto topic = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("help", "show help for genqctl or one command");
    cmd->add_option("command", *topic, "a command");
    cmd->callback([&app, &run, topic] {
        run = [&app, topic] {
            if (topic->empty()) {
                // app.help() would show the help of the command parsed last: "help" itself.
                std::fputs(app.get_formatter()->make_help(&app, "genqctl", CLI::AppFormatMode::Normal)
                               .c_str(),
                           stdout);
                return int{genqctl::kOk};
            }
            for (auto* sub : app.get_subcommands({}))
                if (sub->get_name() == *topic && *topic != "help") {
                    std::fputs(sub->help().c_str(), stdout);
                    return int{genqctl::kOk};
                }
            throw genqctl::ExitError{genqctl::kUsage, "help: no command \"" + *topic +
                                                          "\"; see genqctl help"};
        };
    });
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"genqctl: control genqd over its socket"};
    app.require_subcommand(0, 1);
    genqctl::Ctl ctl;
    genqctl::Runner run;
    bool version = false;
    app.add_option("--socket", ctl.socket,
                   "control socket (default: $GENQ_SOCKET or the config's)");
    app.add_flag("--json", ctl.json, "machine-readable output (one JSON document)");
    app.add_flag("--version", version, "print genqctl's version and exit");
    genqctl::add_submit(app, ctl, run);
    genqctl::add_status(app, ctl, run);
    genqctl::add_list(app, ctl, run);
    genqctl::add_wait(app, ctl, run);
    genqctl::add_job_actions(app, ctl, run);
    genqctl::add_daemon_actions(app, ctl, run);
    genqctl::add_purge(app, ctl, run);
    add_help(app, run);
    genqctl::add_completion(app, run);
    // Global options are accepted after the command too (SPEC §6): a command passes the options
    // it does not know to the program.
    for (auto* sub : app.get_subcommands({})) sub->fallthrough();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : genqctl::kUsage;
    }
    if (version) {
        std::printf("genqctl %s\n", GENQ_VERSION);
        return genqctl::kOk;
    }
    if (!run) {
        std::fputs(app.help().c_str(), stderr);
        return genqctl::kUsage;
    }
    if (ctl.socket.empty()) ctl.socket = default_socket();
    try {
        return run();
    } catch (const genqctl::ExitError& e) {
        std::fprintf(stderr, "genqctl: %s\n", e.message.c_str());
        return e.code;
    }
}
