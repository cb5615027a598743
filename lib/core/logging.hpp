// spdlog set-up: text or JSON lines on stderr; under journald (JOURNAL_STREAM set) text lines
// carry <N> syslog priority prefixes and no timestamp (journald adds its own).
#pragma once
#include <string>

namespace genq {

// level: trace|debug|info|warn|error; format: text|json.
void setup_logging(const std::string& level, const std::string& format, bool journald);
void set_log_level(const std::string& level);
bool under_journald();  // JOURNAL_STREAM names our stderr

}  // namespace genq
