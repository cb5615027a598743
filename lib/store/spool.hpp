// The input spool: accepted inputs copied into <state_dir>/spool/<sha256>, fsynced before the
// job row commits, so a job never depends on the caller's file (SPEC §5).
#pragma once
#include <string>
#include <string_view>
#include <map>
#include <mutex>
#include <vector>

#include "core/result.hpp"

namespace genq::store {

class Spool {
public:
    explicit Spool(std::string dir) : dir_(std::move(dir)) {}
    // Creates the directory and syncs its file system once: a file a killed process renamed
    // into place before its sync is made durable before put() trusts an existing file.
    Status init();
    // Stores the bytes (once per content) and returns their sha256. A file reused for new bytes
    // gets a new modification time: the orphan scan spares files younger than its grace, so
    // it cannot take a reused file before the job that reuses it commits. `durable` = false skips the
    // fsyncs: the caller batches many puts and syncs them before committing their jobs.
    Result<std::string> put(std::string_view bytes, bool durable = true);
    // Makes every earlier put durable, here and now (see take_unsynced for the parts).
    // (It was one syncfs() per batch: the whole file system, other programs' writes included.)
    Status sync();
    // The files put without their fsync since the last take, now "being synced": a put that
    // finds one of them lists it again, so its batch syncs it too and never trusts a sync
    // still under way. Empty: nothing to sync.
    std::vector<std::string> take_unsynced();
    // An fsync of each file, then of the spool directory (their names); a file deleted
    // meanwhile (retention) needs none. Any thread: it touches no member but the name.
    Status fsync_files(const std::vector<std::string>& paths) const;
    // After fsync_files of what take_unsynced gave (any thread): failed ones are listed again.
    void finish_sync(const std::vector<std::string>& paths, bool synced);
    // Files written by put(durable = false) and not yet synced.
    std::size_t unsynced() const;
    Result<std::string> read(const std::string& sha256) const;
    // Deletes the file of `sha256`; false if it was not there (or could not be removed).
    bool remove(const std::string& sha256) const;
    std::string path(const std::string& sha256) const { return dir_ + "/" + sha256; }
    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
    // The loop puts and takes, a worker thread finishes: the lists are shared.
    mutable std::mutex mu_;
    std::vector<std::string> unsynced_;   // paths put without their fsync
    std::map<std::string, int> syncing_;  // taken, their fsync under way (how many times)
};

}  // namespace genq::store
