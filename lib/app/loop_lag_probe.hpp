// A timer that measures how late the event loop runs it (issue 12: the loop never blocked more
// than 20 ms). Every period it records `fired - scheduled` into ports::LoopLag, shown in
// /metrics. A stall of S shows as a lag between S - period and S.
#pragma once
#include <memory>

namespace boost::asio {
class io_context;
}

namespace genq::ports {
struct LoopLag;
}

namespace genq::app {

class LoopLagProbe {
public:
    // `period_s` 0.01: 100 wake-ups a second, a few microseconds of CPU each.
    LoopLagProbe(boost::asio::io_context& io, ports::LoopLag& out, double period_s = 0.01);
    ~LoopLagProbe();
    LoopLagProbe(const LoopLagProbe&) = delete;
    LoopLagProbe& operator=(const LoopLagProbe&) = delete;
    void start();
    void stop();

    // The bin of the recent maximum being filled.
    struct Bin {
        double index = -1;
        double max = 0;
    };
    // Folds one measured lag into `out` (kept apart from the timer so it can be unit-tested).
    static void record(ports::LoopLag& out, Bin& bin, double lag_s, double now_s);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace genq::app
