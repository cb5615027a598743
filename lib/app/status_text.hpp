// /v1/status (JSON) and /metrics (Prometheus text) from the engine's live view.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "ports/control.hpp"

namespace genq::app {

struct Metrics;

nlohmann::json render_status(const ports::StatusView& v);
std::string render_metrics(const ports::StatusView& v, const Metrics& m);

}  // namespace genq::app
