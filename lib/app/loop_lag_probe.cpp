#include "app/loop_lag_probe.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include "ports/counters.hpp"

namespace genq::app {
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kRecentSpan = 60;  // seconds per bin of the recent maximum

double seconds_since_epoch(Clock::time_point t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

struct LoopLagProbe::Impl {
    Impl(boost::asio::io_context& io, ports::LoopLag& o, double p)
        : timer(io), out(o),
          period(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(p))) {}

    void arm() {
        due = Clock::now() + period;
        timer.expires_at(due);
        timer.async_wait([this](const boost::system::error_code& ec) {
            if (ec || !running) return;
            auto now = Clock::now();
            double lag = std::chrono::duration<double>(now - due).count();
            record(out, bin, lag < 0 ? 0 : lag, seconds_since_epoch(now));
            arm();
        });
    }

    boost::asio::steady_timer timer;
    ports::LoopLag& out;
    Clock::duration period;
    Clock::time_point due{};
    Bin bin;
    bool running = false;
};

LoopLagProbe::LoopLagProbe(boost::asio::io_context& io, ports::LoopLag& out, double period_s)
    : impl_(std::make_unique<Impl>(io, out, period_s)) {}

LoopLagProbe::~LoopLagProbe() = default;

void LoopLagProbe::start() {
    if (impl_->running) return;
    impl_->running = true;
    impl_->arm();
}

void LoopLagProbe::stop() {
    impl_->running = false;
    impl_->timer.cancel();
}

// The recent maximum is kept in bins of kRecentSpan: out.recent_max is the larger of the bin
// being filled and the one before it (when that was the previous span), so a stall stays
// visible for one to two spans.
void LoopLagProbe::record(ports::LoopLag& out, Bin& bin, double lag_s, double now_s) {
    for (std::size_t i = 0; i < ports::LoopLag::kBuckets.size(); ++i)
        if (lag_s <= ports::LoopLag::kBuckets[i]) ++out.buckets[i];
    ++out.count;
    out.sum += lag_s;
    if (lag_s > out.max) out.max = lag_s;
    double index = static_cast<double>(static_cast<long long>(now_s / kRecentSpan));
    if (index != bin.index) {
        out.recent_max = index == bin.index + 1 ? bin.max : 0;
        bin.index = index;
        bin.max = 0;
    }
    if (lag_s > bin.max) bin.max = lag_s;
    if (bin.max > out.recent_max) out.recent_max = bin.max;
}

}  // namespace genq::app
