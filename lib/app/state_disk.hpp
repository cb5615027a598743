// The state directory's file system as the daemon watches it: the decision is sched::DiskState
// (a write without space -> full; a probe that fits -> clear); this driver logs each change
// once, probes on a timer while full and tells the engine, intake and watcher. The daemon stays
// up throughout: new submissions are refused with 503, work under way keeps its state, and what
// could not be written is written when space returns (no restart).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ports/state_disk.hpp"

namespace boost::asio {
class io_context;
}
namespace genq {
class Clock;
}

namespace genq::app {

// Whether `dir` has room for writes again: at least kProbeFree bytes free (statvfs) and a
// kProbeBytes file written, fsynced and removed there.
bool room_for_writes(const std::string& dir);

class StateDiskMonitor final : public ports::StateDisk {
public:
    StateDiskMonitor(boost::asio::io_context& io, std::string dir, const Clock& clock,
                     double probe_every = 2);
    ~StateDiskMonitor() override;

    bool full() const override;
    Error refusal() const override;
    void no_space(const std::string& what) override;
    void on_change(std::function<void(bool full)> f) override;

    // Another store that a write can find full (the shared store's database server): the
    // probe then passes only when `room()` says it takes a write again too.
    void add_probe(std::function<bool()> room);
    // Whether the episode began on the shared store's disk rather than the state directory's.
    bool shared() const;

    const std::string& dir() const;
    TimePoint since() const;          // 0 when clear
    const std::string& what() const;  // the write that found no space
    std::uint64_t failures() const;   // writes that found no space, over the process's life
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace genq::app
