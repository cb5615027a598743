// Counting provider traffic for /metrics (SPEC §9); rendered by api/status_render.
#pragma once
#include <string>

#include "ports/counters.hpp"

namespace genq::app {

struct Metrics : ports::ProviderCounters {
    void observe_request(const std::string& key, int status, double seconds);
    void observe_error(const std::string& key, double seconds);
};

}  // namespace genq::app
