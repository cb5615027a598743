// Retention for the embedded store: deletes finished jobs, their events and the spool files no
// remaining job uses, in short transactions of a bounded number of jobs, so the event loop is
// never held for long; keeps the credits of what it deleted per key and UTC day (the daily
// budget and the totals in /v1/status go on counting them). The WAL checkpoint after a sweep is
// the checkpoint thread's (store/wal_checkpointer.*).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ports/retention.hpp"
#include "store/spool_cursor.hpp"

namespace genq::store {

class Database;
class Spool;

class Pruner {
public:
    Pruner(Database& db, Spool& spool);

    ports::PruneCount prune(const ports::PruneQuery& q);
    ports::PruneCount count(const ports::PruneQuery& q);
    std::int64_t forget_answers(std::int64_t before_ms);
    // Adds the credits of pruned jobs finished in UTC days starting at or after `since_ms`.
    void add_pruned_credits(std::map<std::string, std::int64_t>& out, std::int64_t since_ms);
    // The orphan scan's listing and deletion (QueueStore::spool_page, remove_spool_file).
    ports::SpoolPage spool_page(bool from_start, int limit);
    bool remove_spool_file(const std::string& name);

private:
    struct Doomed {
        std::string id;
        std::string key;
        std::int64_t cost = 0;
        std::int64_t finished_at = 0;
    };
    ports::PruneCount delete_jobs(const std::vector<Doomed>& doomed);
    bool input_used(const std::string& sha);
    Database& db_;
    Spool& spool_;
    SpoolCursor cursor_;
};

}  // namespace genq::store
