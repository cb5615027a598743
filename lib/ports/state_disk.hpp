// Whether the state directory's file system has room for writes (the database, its WAL, the
// spool), as the front doors and the engine need it: new work is refused while it is full, and
// what could not be written waits for the space to return. Implemented by app/state_disk.*.
#pragma once
#include <functional>
#include <string>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace genq::ports {

class StateDisk {
public:
    virtual ~StateDisk() = default;
    virtual bool full() const = 0;
    // What a new submission hears while full: code state_disk_full (503), naming the directory.
    virtual Error refusal() const = 0;
    // A write found no space; `what` says which.
    virtual void no_space(const std::string& what) = 0;
    // Runs `f(full)` on each change: true when the disk became full, false when space returned.
    virtual void on_change(std::function<void(bool full)> f) = 0;
};

}  // namespace genq::ports
