// The state disk's decision (sched::DiskState) on a manual clock: a write without space makes
// it full once, probes are due a period apart while full, and a probe that fits clears it.
#include <doctest/doctest.h>

#include <cmath>

#include "core/clock.hpp"
#include "sched/disk_state.hpp"

namespace genq::test {
namespace {

using sched::DiskChange;
using sched::DiskState;

TEST_SUITE("state disk") {
    TEST_CASE("clear at start: no probe, nothing to report") {
        DiskState d(2);
        CHECK_FALSE(d.full());
        CHECK_FALSE(d.probe_due(1e9));
        CHECK(std::isinf(d.next_probe()));
        CHECK(d.since() == 0);
        CHECK(d.on_probe(true, 10) == DiskChange::none);
    }

    TEST_CASE("the first failure makes it full, later ones are counted but not reported") {
        ManualClock clock(1000);
        DiskState d(2);
        CHECK(d.on_no_space("commit of job a", clock.now()) == DiskChange::became_full);
        CHECK(d.full());
        CHECK(d.since() == 1000);
        CHECK(d.what() == "commit of job a");
        for (int i = 0; i < 50; ++i) {
            clock.advance(0.1);
            CHECK(d.on_no_space("commit of job b", clock.now()) == DiskChange::none);
        }
        CHECK(d.what() == "commit of job a");  // the write that began the episode
        CHECK(d.failures() == 51);
        CHECK(d.episodes() == 1);
    }

    TEST_CASE("probes are due a period apart while full; a probe without room keeps it full") {
        ManualClock clock(1000);
        DiskState d(2);
        d.on_no_space("x", clock.now());
        CHECK_FALSE(d.probe_due(clock.now()));
        CHECK(d.next_probe() == 1002);
        clock.set(1001.9);
        CHECK_FALSE(d.probe_due(clock.now()));
        clock.set(1002);
        REQUIRE(d.probe_due(clock.now()));
        CHECK(d.on_probe(false, clock.now()) == DiskChange::none);
        CHECK(d.full());
        CHECK(d.next_probe() == 1004);
        CHECK_FALSE(d.probe_due(1003));
    }

    TEST_CASE("a probe with room clears it once; a new failure begins a new episode") {
        ManualClock clock(1000);
        DiskState d(5);
        d.on_no_space("x", clock.now());
        clock.advance(5);
        CHECK(d.on_probe(true, clock.now()) == DiskChange::became_clear);
        CHECK_FALSE(d.full());
        CHECK(d.since() == 0);
        CHECK(d.what().empty());
        CHECK(d.on_probe(true, clock.now()) == DiskChange::none);  // reported once
        clock.advance(60);
        CHECK(d.on_no_space("y", clock.now()) == DiskChange::became_full);
        CHECK(d.since() == 1065);
        CHECK(d.episodes() == 2);
        CHECK(d.next_probe() == 1070);
    }
}

}  // namespace
}  // namespace genq::test
