// /v1/status and /metrics as text, rendered from the engine's StatusView.
#include <cmath>
#include <fmt/format.h>
#include "app/status_text.hpp"
#include <nlohmann/json.hpp>

#include "app/engine.hpp"
#include "app/metrics.hpp"

namespace genq::app {
namespace {

// Credits are whole numbers in practice: "60", not "60.0", in status output.
nlohmann::json credits_json(double credits) {
    if (std::nearbyint(credits) == credits && std::fabs(credits) < 1e15)
        return static_cast<std::int64_t>(credits);
    return credits;
}

}  // namespace

nlohmann::json render_status(const ports::StatusView& v) {
    nlohmann::json keys = nlohmann::json::array();
    for (const auto& k : v.keys) {
        keys.push_back({
            {"name", k.name},
            {"weight", k.weight},
            {"state", k.state},
            {"locked_until", k.locked_until > 0 ? nlohmann::json(iso8601_ms(static_cast<std::int64_t>(
                                                      k.locked_until * 1000)))
                                                : nlohmann::json(nullptr)},
            {"paused", k.paused},
            {"requests_in_window", k.requests_in_window},
            {"requests_per_window", k.requests_per_window},
            {"in_flight", k.in_flight},
            {"credits_today", k.credits_today},
            {"credits_total", k.credits_total},
        });
    }
    return {{"version", v.version},
            {"uptime_s", v.uptime_s},
            {"paused", v.paused},
            {"counts", v.counts},
            {"keys", keys},
            {"budget",
             {{"daily_credits", credits_json(v.daily_credits)},
              {"spent_today", v.spent_today},
              {"override", v.budget_override}}}};
}

std::string render_metrics(const ports::StatusView& v, const Metrics& m) {
    std::string out = m.render_requests();
    out += "# HELP genq_jobs Jobs by state.\n# TYPE genq_jobs gauge\n";
    for (const auto& [state, n] : v.counts)
        out += fmt::format("genq_jobs{{state=\"{}\"}} {}\n", state, n);
    out += "# HELP genq_key_requests_in_window Requests of the key in the current window.\n";
    out += "# TYPE genq_key_requests_in_window gauge\n";
    for (const auto& k : v.keys)
        out += fmt::format("genq_key_requests_in_window{{key=\"{}\"}} {}\n", k.name,
                           k.requests_in_window);
    out += "# HELP genq_key_in_flight Remote generations under way per key.\n";
    out += "# TYPE genq_key_in_flight gauge\n";
    for (const auto& k : v.keys)
        out += fmt::format("genq_key_in_flight{{key=\"{}\"}} {}\n", k.name, k.in_flight);
    return out;
}

}  // namespace genq::app
