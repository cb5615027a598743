// The configuration as genqd uses it: load_config's checks, plus those core cannot make because
// the rule belongs to a layer above it (a watch's params are checked by the provider's validator
// for that watch's kind). `--check-config`, start-up and reload all load through here, so a
// config one of them accepts is one the others accept and the running code can use.
#pragma once
#include <vector>

#include "core/config.hpp"

namespace genq::app {

// load_config, then check_config_uses when the file itself was valid.
ConfigLoad load_checked_config(const ConfigLocation& where, const Environment& env);

// The checks above core, on an otherwise valid config. Each problem names the file and key, e.g.
// "genq.toml: watch[0].params.cfg_scale: must be a number from 0 to 10 (got 50)".
std::vector<ConfigProblem> check_config_uses(const Config& config);

}  // namespace genq::app
