// Running generations waiting for their next poll, per key, earliest first.
#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "core/clock.hpp"

namespace genq::sched {

class PollQueue {
public:
    void schedule(std::string_view key, std::string_view job_id, TimePoint due);
    void remove(std::string_view job_id);
    bool contains(std::string_view job_id) const { return index_.count(std::string(job_id)) > 0; }

    // The earliest entry of `key`, if any.
    std::optional<std::pair<TimePoint, std::string>> peek(std::string_view key) const;
    void pop(std::string_view key);
    std::size_t size() const { return index_.size(); }

private:
    using Entry = std::pair<TimePoint, std::string>;
    std::map<std::string, std::set<Entry>, std::less<>> by_key_;
    std::map<std::string, std::pair<std::string, TimePoint>, std::less<>> index_;  // id -> key, due
};

}  // namespace genq::sched
