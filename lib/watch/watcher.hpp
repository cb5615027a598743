// Watched directories (SPEC §7): inotify on the daemon's own event loop (one thread). Files that
// finish arriving (IN_CLOSE_WRITE, IN_MOVED_TO) are read, checked against what was already
// turned into jobs, and queued through the Intake in batches; the file then moves to
// processing/, and to done/ or failed/ when its job ends. Asio stays in watcher.cpp.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "core/config.hpp"
#include "store/job.hpp"

namespace boost::asio {
class io_context;
}
namespace genq::ports {
class Intake;
class StateDisk;
}
namespace genq::store {
class Database;
class QueueStore;
}  // namespace genq::store

namespace genq::watch {

class Watcher {
public:
    Watcher(boost::asio::io_context& io, store::Database& db, store::QueueStore& jobs,
            ports::Intake& intake);
    ~Watcher();
    Watcher(const Watcher&) = delete;
    Watcher& operator=(const Watcher&) = delete;

    // At start-up and on every reload: starts new watches (creates the directory, finishes
    // moves of jobs that ended while genqd was down, rescans), stops removed ones (their files
    // stay where they are; queued jobs run on) and takes new kinds and params. Never fails: a
    // directory that cannot be used is logged and skipped, and retried on the next reload.
    void configure(const std::vector<WatchConfig>& watches);

    // While the state directory is full, files are left where they are (nothing is read,
    // claimed or moved) and taken in order once space returns.
    void set_state_disk(ports::StateDisk& disk);

    // For Engine::add_listener: moves a watched job's file to done/ or failed/ when the job
    // ends, and back to processing/ when a failed job is retried.
    void on_transition(const Job& job, JobState from);

    void stop();
    std::size_t active_watches() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace genq::watch
