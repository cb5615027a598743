// The [retention] table: how long finished jobs are kept and how often the sweeper prunes them.
// Durations are parsed here, by the code the daemon's sweeper and `genqctl purge --older-than`
// both use, so the config file and the command line accept the same words.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace genq {

struct RetentionConfig {
    // Seconds after which a succeeded, failed or canceled job and its events are deleted
    // (0 = kept forever). The default keeps a month of history.
    double finished_jobs = 30 * 86400.0;
    double sweep_every = 600;  // seconds between sweeps
    int batch = 1000;          // jobs deleted per transaction (each one is short)
};

// "90s", "10m", "12h", "30d", "2w" (a number, possibly fractional, and one unit), or "0".
// Error: what is allowed, e.g. `must be a duration like "30d", "12h", "10m" or "90s" (got "3x")`.
Result<double> parse_duration(std::string_view text);

// How a duration of `seconds` is shown back ("30d", "10m", "2s"; "0" = off).
std::string format_duration(double seconds);

}  // namespace genq
