// Group commit for the embedded store, off the event loop: a submission's rows commit on the
// loop without their fsync (synchronous=NORMAL: written to the WAL, in the page cache), and this
// thread then runs one fdatasync of the WAL file for every commit made before it started. The
// submitters are answered only after it (SPEC §5: an answer means durable), so an answer is as
// durable as a synchronous=FULL commit, while the loop goes on serving others meanwhile and
// many submissions share one fsync.
//
// Why a second descriptor of the WAL works: fdatasync flushes the file's (the inode's) dirty
// pages whichever descriptor names it, and the WAL file is never replaced while the store's
// connections are open (a checkpoint reuses or truncates it in place).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/result.hpp"

namespace genq::store {

class WalSyncer {
public:
    // Called on the syncer's thread.
    using Done = std::function<void(Status)>;

    explicit WalSyncer(std::string wal_path);
    // Finishes the syncs asked for (their callers hear), then stops.
    ~WalSyncer();
    WalSyncer(const WalSyncer&) = delete;
    WalSyncer& operator=(const WalSyncer&) = delete;

    // `done` runs once everything written to the WAL before this call is on disk (or the sync
    // failed: the error, with code no_space or io_error).
    void after_commits(Done done);
    std::int64_t syncs() const;  // fdatasync calls made (tests: many commits share one)

private:
    void run();
    Status sync_once() const;

    std::string path_;
    mutable std::mutex mu_;
    std::condition_variable wake_;
    std::vector<Done> waiting_;
    bool stop_ = false;
    std::int64_t syncs_ = 0;
    std::thread thread_;  // last: started once everything above is set
};

}  // namespace genq::store
