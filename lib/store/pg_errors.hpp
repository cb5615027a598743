// What a failed PostgreSQL statement means for genq, from its SQLSTATE (no libpq type here):
// a lost connection is "unavailable" (wait, reconnect, try again); 53100 disk_full is the shared
// store's disk full, handled as the state disk full is (hold what cannot be written, 503 for new
// work, write it once a probe finds room); everything else is an error that stops the node.
// 53200 out_of_memory and the rest of class 53 (insufficient resources) are not space that a
// probe can see come back: they stay errors, and systemd restarts the node (Restart=on-failure).
#pragma once
#include <string_view>

namespace genq::store {

enum class PgFailure { unavailable, disk_full, error };

// `sqlstate`: the five characters of PG_DIAG_SQLSTATE ("" when libpq had none); `connected`:
// whether the connection is still up after the failure.
PgFailure classify_pg_failure(std::string_view sqlstate, bool connected);

// The start of a DiskFullError's message when it came from PostgreSQL: the state disk's
// monitor names the shared store's disk, not the state directory, when it sees it.
inline constexpr std::string_view kPgDiskFull = "PostgreSQL: the database server's disk is full";

}  // namespace genq::store
