// The limiter's memory on disk: one row per request sent, per key, kept for one window. Written
// with relaxed durability (survives a killed process; a power cut outlasts any window anyway).
#pragma once
#include <string_view>
#include <vector>

#include "core/clock.hpp"

namespace genq::store {

class Database;

class SendLog {
public:
    explicit SendLog(Database& db) : db_(db) {}
    void record(std::string_view key, TimePoint t);
    std::vector<TimePoint> since(std::string_view key, TimePoint from);
    void prune(TimePoint before);

    // 429 lock-outs, kept across restarts.
    void save_lockout(std::string_view key, TimePoint until);
    TimePoint lockout(std::string_view key);

private:
    Database& db_;
};

}  // namespace genq::store
