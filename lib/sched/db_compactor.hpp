// Sans-io: when the database file gives back the pages a retention sweep freed. SQLite keeps
// deleted rows' pages on a free list; with auto_vacuum=INCREMENTAL, `PRAGMA incremental_vacuum(N)`
// moves up to N pages from the end of the file into those holes and cuts the end off. After a
// sweep that deleted something, the compactor asks for steps of kPagesPerStep pages, a short
// pause apart so the event loop serves other work between them (each step is one short
// transaction of a few milliseconds), until the free list is (nearly) empty; then a checkpoint,
// which is when a WAL database's file really shrinks. The driver (app/retention_driver)
// performs the steps through the QueueStore.
#pragma once
#include <cstdint>
#include <optional>

#include "core/clock.hpp"

namespace genq::sched {

struct CompactReport {
    std::int64_t pages_freed = 0;  // given back to the file system
    int steps = 0;
    double seconds = 0;
};

class DbCompactor {
public:
    static constexpr int kPagesPerStep = 128;     // 512 KiB of 4 KiB pages
    static constexpr double kStepPause = 0.02;    // seconds between two steps
    static constexpr std::int64_t kMinFree = 16;  // fewer free pages are not worth a step
    static constexpr int kMaxSteps = 100000;      // a bound, whatever the store answers

    // A sweep deleted something at `now`: compact soon. One under way goes on.
    void request(TimePoint now);
    bool compacting() const { return active_; }
    // When step() is next worth calling (+inf when idle).
    TimePoint next_at() const;
    // The pages to free at `now`; nullopt when idle or before next_at().
    std::optional<int> step(TimePoint now);

    struct Outcome {
        bool checkpoint = false;  // the compaction ended: checkpoint, so the file shrinks
        std::optional<CompactReport> finished;
    };
    // A step's answer: the pages it freed and the free pages left.
    Outcome on_step(std::int64_t freed, std::int64_t free_left, TimePoint now);

private:
    bool active_ = false;
    TimePoint next_at_ = 0;
    TimePoint started_ = 0;
    CompactReport report_;
};

}  // namespace genq::sched
