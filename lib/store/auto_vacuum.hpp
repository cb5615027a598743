// The database file gives back what retention frees. New databases are created with
// auto_vacuum=INCREMENTAL (Database::open sets it before the first table exists); an existing
// one made before that is converted at start-up by one VACUUM, which rewrites the whole file,
// only when that is cheap: a small file and room for the copy. Otherwise it stays as it was
// (its file stops growing once retention runs, as freed pages are reused, but never shrinks)
// and the log says how to convert it offline. After a sweep, incremental_vacuum_step gives
// pages back in bounded steps (sched/db_compactor decides when).
#pragma once
#include <cstdint>
#include <string>

namespace genq::store {

class Database;

// A VACUUM at start-up only below this size: about 1 s per 16 MiB on a loaded 2-core machine,
// before READY=1 (systemd's start timeout is 90 s, but a start should not wait seconds), and
// its copy is built in memory (temp_store=MEMORY): at most this much, once.
constexpr std::int64_t kStartupVacuumMaxBytes = 32LL * 1024 * 1024;

// The decision: the file's size, and the bytes free on its file system. A VACUUM writes a
// copy of the database into the WAL before the checkpoint puts it in place: it needs about
// twice the file's size, plus a margin for the work that follows.
bool startup_vacuum_is_cheap(std::int64_t db_bytes, std::int64_t free_bytes);

// Converts `db` (the file at `path`) to auto_vacuum=INCREMENTAL when it is not already and
// the conversion is cheap; logs what it did, or why not. A failure (no space after all) is
// logged and leaves the database as it was: the VACUUM is one transaction.
void convert_to_incremental_vacuum(Database& db, const std::string& path);

struct VacuumStep {
    std::int64_t freed = 0;      // pages given back by this step
    std::int64_t free_left = 0;  // pages still on the free list
};

// One short transaction: up to `pages` free pages cut off the end of the file (relaxed
// durability: a crash loses at most the step, and the pages stay free). The file shrinks on
// disk at the next checkpoint. With auto_vacuum off it frees nothing.
VacuumStep incremental_vacuum_step(Database& db, int pages);

}  // namespace genq::store
