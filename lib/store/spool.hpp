// The input spool: accepted inputs copied into <state_dir>/spool/<sha256>, fsynced before the
// job row commits, so a job never depends on the caller's file (SPEC §5).
#pragma once
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace genq::store {

class Spool {
public:
    explicit Spool(std::string dir) : dir_(std::move(dir)) {}
    Status init();  // creates the directory
    // Stores the bytes (once per content) and returns their sha256. A file reused for new bytes
    // gets a new modification time: the orphan scan spares files younger than its grace, so
    // it cannot take a reused file before the job that reuses it commits. `durable` = false skips the
    // fsyncs: the caller batches many puts and calls sync() once before committing their jobs.
    Result<std::string> put(std::string_view bytes, bool durable = true);
    // Makes every earlier put durable: one syncfs() of the spool's file system.
    Status sync();
    Result<std::string> read(const std::string& sha256) const;
    // Deletes the file of `sha256`; false if it was not there (or could not be removed).
    bool remove(const std::string& sha256) const;
    std::string path(const std::string& sha256) const { return dir_ + "/" + sha256; }
    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
};

}  // namespace genq::store
