// The limiter's memory on disk: one row per request sent, per key, kept for one window. Written
// with relaxed durability (survives a killed process; a power cut outlasts any window anyway).
// A send is kept in memory until the next commit on the database (usually the transition the
// request belongs to) or flush(), which the engine runs at the end of the loop turn: one
// transaction per request was a sixth of the commits per job.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"

namespace genq::store {

class Database;

class SendLog {
public:
    explicit SendLog(Database& db);
    ~SendLog();
    SendLog(const SendLog&) = delete;
    SendLog& operator=(const SendLog&) = delete;
    void record(std::string_view key, TimePoint t);
    // Writes what record() kept, in a transaction of its own if none is open.
    void flush();
    std::vector<TimePoint> since(std::string_view key, TimePoint from);
    void prune(TimePoint before);

    // 429 lock-outs, kept across restarts.
    void save_lockout(std::string_view key, TimePoint until);
    TimePoint lockout(std::string_view key);

private:
    void write_pending();  // inside an open transaction
    Database& db_;
    std::vector<std::pair<std::string, TimePoint>> pending_;
};

}  // namespace genq::store
