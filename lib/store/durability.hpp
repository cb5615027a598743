// How hard a commit insists on reaching the disk.
#pragma once

namespace genq::store {

// `relaxed` commits (progress counters, the limiter's send log) skip the fsync: they survive a
// killed process (the WAL is in the page cache) and become durable with the next `full` commit,
// which syncs the whole WAL.
enum class Durability { full, relaxed };

}  // namespace genq::store
