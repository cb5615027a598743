#include "app/config_check.hpp"

#include <string>

#include "provider/image_fit.hpp"
#include "provider/operation.hpp"
#include "provider/validate.hpp"

namespace genq::app {
namespace {

// A watch's params are the base every dropped file starts from; a file's sidecar may add the
// fields a job requires (a prompt, say) or override any of them. So each field given is checked
// exactly as a job's would be, while presence (required fields, "search_prompt when mode is
// search") is left to the job.
provider::Operation without_presence_rules(provider::Operation op) {
    for (auto& f : op.fields) f.required = false;
    return op;
}

// "cfg_scale: must be ..." -> "cfg_scale"
std::string field_of(const std::string& message) {
    return message.substr(0, message.find(':'));
}

void check_watch(const Config& c, std::size_t i, std::vector<ConfigProblem>& out) {
    const WatchConfig& w = c.watches[i];
    const std::string prefix = "watch[" + std::to_string(i) + "]";
    const provider::Operation* op = provider::find_operation(w.kind);
    if (!op) {
        out.push_back({c.file, prefix + ".kind",
                       "unknown kind \"" + w.kind + "\"; allowed: " + provider::operation_names()});
        return;
    }
    // `fit` is genq's own (the image is fitted before it is spooled), not a field of the kind.
    nlohmann::json params = w.params;
    if (params.contains("fit")) {
        const auto& f = params["fit"];
        if (!f.is_string() || !provider::parse_fit_mode(f.get<std::string>()))
            out.push_back({c.file, prefix + ".params.fit",
                           "must be \"crop\" or \"pad\" (got " + f.dump() + ")"});
        params.erase("fit");
    }
    auto checked = provider::validate_params(without_presence_rules(*op), params);
    if (checked) return;
    const std::string& message = checked.error().message;
    const std::string field = field_of(message);
    const bool given = params.contains(field);
    // A field the watch does not give is only named by a presence rule ("search_prompt: required
    // when mode is search"), which a sidecar can still satisfy.
    if (!given && message.find("required") != std::string::npos) return;
    std::string reason = given ? message.substr(field.size()) : message;
    while (!reason.empty() && (reason.front() == ':' || reason.front() == ' ')) reason.erase(0, 1);
    out.push_back({c.file, prefix + ".params" + (given ? "." + field : std::string()),
                   reason + " (kind " + w.kind + ")"});
}

}  // namespace

std::vector<ConfigProblem> check_config_uses(const Config& config) {
    std::vector<ConfigProblem> out;
    for (std::size_t i = 0; i < config.watches.size(); ++i) check_watch(config, i, out);
    return out;
}

ConfigLoad load_checked_config(const ConfigLocation& where, const Environment& env) {
    ConfigLoad load = load_config(where, env);
    if (load.problems.empty()) load.problems = check_config_uses(load.config);
    return load;
}

}  // namespace genq::app
