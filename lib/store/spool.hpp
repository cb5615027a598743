// The input spool: accepted inputs copied into <state_dir>/spool/<sha256>, fsynced before the
// job row commits, so a job never depends on the caller's file (SPEC §5).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace genq::store {

class Spool {
public:
    explicit Spool(std::string dir) : dir_(std::move(dir)) {}
    // Creates the directory and syncs its file system once: a file a killed process renamed
    // into place before its sync is made durable before put() trusts an existing file.
    Status init();
    // Stores the bytes (once per content) and returns their sha256. `durable` = false skips the
    // fsyncs: the caller batches many puts and calls sync() once before committing their jobs.
    Result<std::string> put(std::string_view bytes, bool durable = true);
    // Makes every earlier put durable: an fsync of each file written since the last sync, then
    // one of the directory (their names). Nothing written since: nothing to do, no system call.
    // (It was one syncfs() per batch: the whole file system, other programs' writes included.)
    Status sync();
    // Files written by put(durable = false) and not yet synced.
    std::size_t unsynced() const { return unsynced_.size(); }
    Result<std::string> read(const std::string& sha256) const;
    // Deletes the file of `sha256`; false if it was not there (or could not be removed).
    bool remove(const std::string& sha256) const;
    std::string path(const std::string& sha256) const { return dir_ + "/" + sha256; }

private:
    std::string dir_;
    std::vector<std::string> unsynced_;  // paths put without their fsync
};

}  // namespace genq::store
