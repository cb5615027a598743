// What the control API reads from the queue: jobs, their history and the counts by state. The
// read side of the storage interface, so lib/api depends on this and not on a storage engine.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/job.hpp"

namespace genq::ports {

struct JobEvent {
    std::int64_t seq = 0;
    std::string job_id;
    std::int64_t at = 0;     // ms since the epoch
    std::string from_state;  // "" for creation
    std::string to_state;
    std::string detail;
};

struct JobQuery {
    std::vector<JobState> states;  // empty = all
    std::string kind;              // "" = all
    int limit = 50;
    std::string before;  // cursor: ids strictly older (smaller) than this
};

class JobReader {
public:
    virtual ~JobReader() = default;
    virtual std::optional<Job> get(std::string_view id) = 0;
    // Ids starting with `prefix` (case-insensitive), at most `limit`.
    virtual std::vector<std::string> ids_with_prefix(std::string_view prefix, int limit) = 0;
    virtual std::vector<Job> list(const JobQuery& q) = 0;  // newest first
    virtual std::vector<JobEvent> events(std::string_view id) = 0;
    virtual std::vector<JobEvent> events_since(std::int64_t seq, int limit) = 0;
    virtual std::map<std::string, std::int64_t> counts_by_state() = 0;
};

}  // namespace genq::ports
