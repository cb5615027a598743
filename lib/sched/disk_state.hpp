// Whether the state directory's file system has room, decided without I/O: a write that found no
// space (SQLITE_FULL, ENOSPC) makes it full; while full, a probe is due every `probe_every`
// seconds (the driver writes a small file there and reports whether it fit), and a probe that
// fits makes it clear again. Each change is reported once, so the driver logs one line per
// episode however many writes fail meanwhile. Time is a parameter, as in the job machine.
#pragma once
#include <cstdint>
#include <string>

#include "core/clock.hpp"

namespace genq::sched {

enum class DiskChange { none, became_full, became_clear };

class DiskState {
public:
    explicit DiskState(double probe_every = 2) : probe_every_(probe_every) {}

    // A write found no space. `what` says which (kept for the status until it clears).
    DiskChange on_no_space(const std::string& what, TimePoint now);
    // Whether the driver should probe now (only while full).
    bool probe_due(TimePoint now) const { return full_ && now >= next_probe_; }
    // The probe's outcome: room for a write again, or not (the next probe a period later).
    DiskChange on_probe(bool room, TimePoint now);

    bool full() const { return full_; }
    // When the current episode began (0 when clear), and the write that began it.
    TimePoint since() const { return full_ ? since_ : 0; }
    const std::string& what() const { return what_; }
    // The next probe (+inf when clear).
    TimePoint next_probe() const;
    // Writes refused or failed for lack of space, over the process's life.
    std::uint64_t failures() const { return failures_; }
    std::uint64_t episodes() const { return episodes_; }

private:
    double probe_every_;
    bool full_ = false;
    TimePoint since_ = 0;
    TimePoint next_probe_ = 0;
    std::string what_;
    std::uint64_t failures_ = 0;
    std::uint64_t episodes_ = 0;
};

}  // namespace genq::sched
