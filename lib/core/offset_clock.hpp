// A clock running a fixed offset from another one. genqd uses it for one purpose only: the
// multi-node tests run a node whose clock is off by GENQ_TEST_CLOCK_OFFSET_S seconds (its
// engine and its shared store see that clock; TLS and log stamps keep the system's), to show
// that nothing several nodes share depends on their clocks agreeing (SPEC §11).
#pragma once
#include "core/clock.hpp"

namespace genq {

class OffsetClock final : public Clock {
public:
    OffsetClock(const Clock& base, double offset_s) : base_(base), offset_(offset_s) {}
    TimePoint now() const override { return base_.now() + offset_; }
    double offset() const { return offset_; }

private:
    const Clock& base_;
    double offset_;
};

}  // namespace genq
