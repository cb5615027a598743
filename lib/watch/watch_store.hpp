// The watch_files table: every watched file turned into a job (directory, original name,
// content hash), where it sits now, and its job. The key (dir, name, sha256) is what makes one
// drop one job, also across restarts. Writes go inside the caller's transaction.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "watch/watch_policy.hpp"

namespace genq::store {
class Database;
}

namespace genq::watch {

struct WatchRecord {
    std::string dir;     // the watched directory, normalised
    std::string name;    // the name it was dropped under
    std::string sha256;
    std::string job_id;  // "" = claimed, job not known to be committed yet
    Place place = Place::processing;
    std::string stored;  // its name inside dir/<place>/
    std::int64_t at = 0;
};

class WatchStore {
public:
    explicit WatchStore(store::Database& db) : db_(db) {}

    std::optional<WatchRecord> find(const std::string& dir, const std::string& name,
                                    const std::string& sha256);
    std::optional<WatchRecord> by_job(const std::string& job_id);
    std::vector<WatchRecord> in_place(const std::string& dir, Place place);

    void put(const WatchRecord& r);  // insert or replace
    void erase(const WatchRecord& r);

    // After a crash between the claim and its update: the watch job made from this claim, if
    // its commit happened (same name and content, created after the claim, owned by no row).
    std::optional<std::string> orphan_job(const WatchRecord& claim);

private:
    store::Database& db_;
};

}  // namespace genq::watch
