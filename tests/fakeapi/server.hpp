// The network half of genq-fakeapi (Beast + OpenSSL), kept behind one function so that only
// server.cpp pays the Beast compile time.
#pragma once

#include "fakeapi.hpp"

namespace fakeapi {

// Listens, writes the port file, serves until SIGTERM/SIGINT; returns the exit code.
// Throws std::exception on set-up failures (certificates, address in use, ...).
int run_server(const Options& options);

}  // namespace fakeapi
