// Retention: what pruning finished jobs asks of the store and what it reports, and the purge the
// control API offers (genqctl purge). Plain data; the store implements the pruning, the daemon's
// sweeper (sched/retention_sweeper + app/retention_driver) decides when it runs.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/job.hpp"
#include "core/result.hpp"

namespace genq::ports {

struct PruneQuery {
    std::int64_t finished_before_ms = 0;  // jobs whose finished_at is earlier than this
    std::vector<JobState> states;         // among succeeded, failed, canceled; empty = all three
    int limit = 1000;                     // at most this many jobs in one (short) transaction
    // The shared store keeps an unreferenced input stored less than this many seconds ago:
    // another node may have stored it and not yet committed the job that uses it. The embedded
    // store has no such race (one process stores an input and commits its job in one step).
    double input_grace_s = 0;
};

struct PruneCount {
    std::int64_t jobs = 0;
    std::int64_t events = 0;
    std::int64_t inputs = 0;  // spool files (embedded store) or input rows (shared store)
    PruneCount& operator+=(const PruneCount& o) {
        jobs += o.jobs;
        events += o.events;
        inputs += o.inputs;
        return *this;
    }
};

// One file of the embedded store's input spool, as the orphan scan sees it (sched/spool_scanner).
struct SpoolEntry {
    std::string name;
    double mtime_s = 0;       // its last modification, seconds since the epoch
    bool referenced = false;  // a job's input_sha256 or mask_sha256 names it
};

// A page of the spool's listing: the next files after the previous page's, `end` when the
// listing is done.
struct SpoolPage {
    std::vector<SpoolEntry> entries;
    bool end = true;
};

// One step of giving the database's free pages back (QueueStore::reclaim_space).
struct ReclaimStep {
    std::int64_t freed = 0;      // pages given back by this step
    std::int64_t free_left = 0;  // pages still free inside the file
};

struct PurgeRequest {
    // Finished at least this long ago (0 = every finished job); nullopt = the configured
    // [retention] finished_jobs.
    std::optional<double> older_than_s;
    std::vector<JobState> states;
    bool dry_run = false;
};

struct PurgeResult {
    PruneCount removed;  // or, for a dry run, what would be removed
    bool dry_run = false;
    bool more = false;  // stopped after its share of batches: ask again for the rest
};

class Retention {
public:
    virtual ~Retention() = default;
    // Error code invalid_param (a state that is not final, no age given while the configured
    // one is 0).
    virtual Result<PurgeResult> purge(const PurgeRequest& r) = 0;
};

}  // namespace genq::ports
