// The one-line STATUS= genqd gives systemd (shown by `systemctl status genqd`), decided without
// I/O from what the daemon knows: the queue's counts normally; a condition an operator must act
// on first, named with where and what is held (a full state disk, an unreachable shared store),
// so the line alone says what is wrong. The daemon sends it every few seconds and at once when
// a condition begins or clears.
#pragma once
#include <cstdint>
#include <string>

namespace genq::app {

struct StatusFacts {
    // The queue's counts; not known while the shared store cannot be read.
    bool counts_known = true;
    std::int64_t queued = 0;  // queued + submitting
    std::int64_t running = 0;
    std::int64_t succeeded = 0;
    std::int64_t failed = 0;
    bool store_unreachable = false;  // the shared store (PostgreSQL) cannot be reached
    bool disk_full = false;          // the state directory's file system has no room
    std::string disk_dir;
    bool shared_disk = false;  // the full disk is the shared store's (PostgreSQL's), not disk_dir's
    std::int64_t held = 0;  // changes of jobs kept in memory until space returns
};

std::string status_line(const StatusFacts& f);

}  // namespace genq::app
