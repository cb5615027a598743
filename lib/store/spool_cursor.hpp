// The spool directory's listing, a page at a time, for the orphan scan: an open directory
// stream kept between pages (one descriptor), so a scan reads each entry once however many
// pages it takes. Entries created or removed while a scan goes on may or may not be listed
// (POSIX readdir); every other entry is listed exactly once.
#pragma once
#include <string>
#include <vector>

#include "core/result.hpp"

namespace genq::store {

class SpoolCursor {
public:
    struct File {
        std::string name;
        double mtime_s = 0;
    };

    explicit SpoolCursor(std::string dir) : dir_(std::move(dir)) {}
    ~SpoolCursor();
    SpoolCursor(const SpoolCursor&) = delete;
    SpoolCursor& operator=(const SpoolCursor&) = delete;

    // The next at most `limit` regular files (from the first when `from_start`); `end` is set
    // once the listing is done. Directories and other kinds are skipped (never genq's inputs).
    std::vector<File> next(bool from_start, int limit, bool& end);
    // Deletes `name` in the directory; whether it went.
    bool remove(const std::string& name) const;

private:
    std::string dir_;
    void* stream_ = nullptr;  // DIR*, kept out of the header
};

}  // namespace genq::store
