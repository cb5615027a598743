// Sans-io: finds the input spool's files that no job references and says which to delete. They
// come from a crash between the commit that deleted an input's last job and the file's unlink
// (store/pruner.cpp unlinks after its commit, so the reverse, a job without its input, cannot
// happen), or from a crash in the middle of writing one (a temporary file). A scan runs at
// start-up and after each retention sweep; it lists the spool in pages of at most kPageFiles
// files, a short pause apart, so the event loop serves other work between them. A file modified
// less than kGrace seconds ago is never deleted, referenced or not: an input written now may
// not have its job committed yet (the spool renews the age of a file it reuses for a new job).
// The driver (app/retention_driver) lists and deletes through the QueueStore; this decides.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "ports/retention.hpp"

namespace genq::sched {

enum class SpoolVerdict {
    keep,     // referenced, too young, or not a file genq writes there
    orphan,   // an input (<sha256>) no job references
    partial,  // a temporary file of an input write that never finished (<sha256>.tmpN)
};

// The decision for one file: `now` and `grace` in seconds.
SpoolVerdict judge_spool_file(const ports::SpoolEntry& f, TimePoint now, double grace);

struct SpoolScanReport {
    std::int64_t examined = 0;
    std::int64_t orphans = 0;   // found and handed over to be deleted
    std::int64_t partials = 0;  // the same, temporary files
    int pages = 0;
    double seconds = 0;
};

class SpoolScanner {
public:
    static constexpr int kPageFiles = 256;     // files listed, and checked, per pass
    static constexpr double kPagePause = 0.02;  // seconds between two pages
    static constexpr double kGrace = 3600;      // seconds (see the header comment)

    // A scan is wanted at `now` (start-up, a sweep just ended). One under way goes on: it
    // covers the files the sweep could have left.
    void request(TimePoint now);
    bool scanning() const { return phase_ != Phase::idle; }
    // When step() is next worth calling (+inf when idle).
    TimePoint next_at() const;

    struct Step {
        bool from_start = false;
        int limit = kPageFiles;
    };
    // The page to list at `now`; nullopt when idle or before next_at().
    std::optional<Step> step(TimePoint now);

    struct Decision {
        std::vector<std::string> remove;  // delete these (the store checks the reference again)
        std::optional<SpoolScanReport> finished;  // the scan ended with this page
    };
    // A page listed: which of its files go (a file that could not be removed is seen again by
    // the next scan).
    Decision on_page(const ports::SpoolPage& page, TimePoint now);

private:
    enum class Phase { idle, first, next };
    Phase phase_ = Phase::idle;
    TimePoint next_at_ = 0;
    TimePoint started_ = 0;
    SpoolScanReport report_;
};

}  // namespace genq::sched
