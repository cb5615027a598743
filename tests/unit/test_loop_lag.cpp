// The event loop's lag probe (issue 12): a stalled loop shows as lag, in the histogram, the
// maximum and the recent maximum /metrics exports.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <thread>

#include "app/loop_lag_probe.hpp"
#include "ports/counters.hpp"

using genq::app::LoopLagProbe;
using genq::ports::LoopLag;

TEST_SUITE("loop lag probe") {
    TEST_CASE("lags fill the histogram cumulatively, the maximum and the recent maximum") {
        LoopLag l;
        LoopLagProbe::Bin bin;
        LoopLagProbe::record(l, bin, 0.0005, 10);
        LoopLagProbe::record(l, bin, 0.03, 11);
        LoopLagProbe::record(l, bin, 0.004, 12);
        CHECK(l.count == 3);
        CHECK(l.buckets[0] == 1);  // <= 1 ms
        CHECK(l.buckets[2] == 2);  // <= 5 ms
        CHECK(l.buckets[4] == 2);  // <= 20 ms
        CHECK(l.buckets[5] == 3);  // <= 50 ms
        CHECK(l.max == doctest::Approx(0.03));
        CHECK(l.recent_max == doctest::Approx(0.03));
        CHECK(l.sum == doctest::Approx(0.0345));
    }

    TEST_CASE("the recent maximum forgets a stall after one to two minutes, the maximum never") {
        LoopLag l;
        LoopLagProbe::Bin bin;
        LoopLagProbe::record(l, bin, 0.2, 5);     // bin 0
        LoopLagProbe::record(l, bin, 0.001, 70);  // bin 1: the previous bin still counts
        CHECK(l.recent_max == doctest::Approx(0.2));
        LoopLagProbe::record(l, bin, 0.002, 130);  // bin 2
        CHECK(l.recent_max == doctest::Approx(0.002));
        LoopLagProbe::record(l, bin, 0.001, 400);  // a gap of bins: nothing recent
        CHECK(l.recent_max == doctest::Approx(0.001));
        CHECK(l.max == doctest::Approx(0.2));
    }

    TEST_CASE("a handler that blocks the loop for 60 ms shows as a lag over 40 ms") {
        boost::asio::io_context io;
        LoopLag l;
        LoopLagProbe probe(io, l, 0.01);
        probe.start();
        boost::asio::steady_timer later(io);
        later.expires_after(std::chrono::milliseconds(25));
        later.async_wait([](const boost::system::error_code&) {
            // The stall under test: the loop's only thread busy, as a long statement would be.
            std::this_thread::sleep_for(std::chrono::milliseconds(60));
        });
        // Run until the probe has seen the stall (bounded: 5 s), then stop it.
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (l.max < 0.04 && std::chrono::steady_clock::now() < deadline)
            io.run_for(std::chrono::milliseconds(20));
        probe.stop();
        io.run_for(std::chrono::milliseconds(20));
        CHECK(l.max > 0.04);  // the stall less one period, with room for timing jitter
        CHECK(l.max < 2.0);
        CHECK(l.count >= 2);
        CHECK(l.buckets[4] < l.count);  // at least one firing later than 20 ms
    }
}
