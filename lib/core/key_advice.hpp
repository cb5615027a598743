// What a user reads when an API key cannot be read: where the key is configured (file, line,
// field), what is wrong, and the commands that fix it (README "Put the API key into a
// credential"). Used at start-up, on reload and by genqd --check-config.
#pragma once
#include <string>

#include "core/config.hpp"
#include "core/result.hpp"

namespace genq {

// "<origin>: <error>; to fix: <advice>", e.g.
// "/etc/genq/genq.toml:7: keys[0].file: key \"main\": cannot read file /k: No such file or
//  directory; to fix: create it with: install -m 600 /dev/null /k and put the key in it ..."
std::string key_problem_report(const KeyConfig& key, const Error& error);

}  // namespace genq
