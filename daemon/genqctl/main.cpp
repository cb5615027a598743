// genqctl: the control client. Talks to genqd only through the control socket.
#include <cstdio>

#include "core/config.hpp"
#include "ctl.hpp"

namespace {

// --socket, else $GENQ_SOCKET, else the socket the configuration names (SPEC §1-2).
std::string default_socket() {
    auto env = genq::current_environment();
    auto load = genq::load_config(genq::locate_config("", env), env);
    return load.config.socket;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"genqctl: control genqd over its socket"};
    app.require_subcommand(1);
    genqctl::Ctl ctl;
    genqctl::Runner run;
    app.add_option("--socket", ctl.socket,
                   "control socket (default: $GENQ_SOCKET or the config's)");
    app.add_flag("--json", ctl.json, "machine-readable output");
    genqctl::add_submit(app, ctl, run);
    genqctl::add_status(app, ctl, run);
    genqctl::add_list(app, ctl, run);
    genqctl::add_wait(app, ctl, run);
    genqctl::add_job_actions(app, ctl, run);
    genqctl::add_daemon_actions(app, ctl, run);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : genqctl::kUsage;
    }
    if (ctl.socket.empty()) ctl.socket = default_socket();
    try {
        return run ? run() : genqctl::kUsage;
    } catch (const genqctl::ExitError& e) {
        std::fprintf(stderr, "genqctl: %s\n", e.message.c_str());
        return e.code;
    }
}
