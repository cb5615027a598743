// genqd as a library function, so tests and the entry point boot the same daemon.
#pragma once
#include "core/config.hpp"

namespace genq::app {

// Runs until SIGTERM/SIGINT. Returns the process exit code: 0 clean stop, 1 runtime failure
// (state directory, database, socket), 2 configuration that does not validate (secrets).
int run_daemon(const ConfigLocation& where, const Environment& env, Config config);

}  // namespace genq::app
