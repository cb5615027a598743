// /metrics in the Prometheus text format (SPEC §9), rendered from the daemon's status view and
// its traffic counters: deciding is the engine's business, rendering the API's. The status JSON
// is wire::status_json.
#pragma once
#include <string>

#include "ports/control.hpp"
#include "ports/counters.hpp"

namespace genq::api {

std::string render_metrics(const ports::StatusView& status, const ports::ProviderCounters& c);

}  // namespace genq::api
