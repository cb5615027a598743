// DbClockOffset: the database's clock from a node whose clock is off, and conversions that
// lean to the safe side by the measurement's uncertainty.
#include <doctest/doctest.h>

#include "store/db_clock_offset.hpp"

using genq::store::DbClockOffset;

TEST_SUITE("db clock offset") {
    TEST_CASE("the offset is the round trip's midpoint; conversions lean later, now earlier") {
        DbClockOffset c;
        // The node runs 40 s ahead of the database; a 20 ms round trip.
        c.sample(1040.00, 1000.01, 1040.02);
        CHECK(c.offset() == doctest::Approx(-40.0));
        CHECK(c.uncertainty() == doctest::Approx(0.01));
        CHECK(c.deadline_to_db(1050) == doctest::Approx(1010.01));
        CHECK(c.deadline_to_node(1010) == doctest::Approx(1050.01));
        CHECK(c.now_to_db(1050) == doctest::Approx(1009.99));
        CHECK(c.deadline_to_db(0) == 0);  // "none" stays none
        CHECK(c.deadline_to_node(0) == 0);
    }

    TEST_CASE("the best of the recent round trips is used; old samples age out") {
        DbClockOffset c;
        c.sample(100.0, 100.5, 101.0);    // a slow round trip: offset 0, +-0.5
        c.sample(200.0, 210.0, 200.002);  // a fast one: offset 9.999
        CHECK(c.offset() == doctest::Approx(9.999));
        CHECK(c.uncertainty() == doctest::Approx(0.001));
        for (int i = 0; i < 8; ++i) c.sample(300.0 + i, 300.0 + i + 0.015, 300.01 + i);
        CHECK(c.offset() == doctest::Approx(0.01));  // the fast one is no longer among the 8
        CHECK(c.uncertainty() == doctest::Approx(0.005));
    }

    TEST_CASE("a deadline written by one node and read by another is never early") {
        DbClockOffset a, b;  // a is 3 s behind the database, b 30 s ahead
        a.sample(97.000, 100.004, 97.010);   // true offset +3, midpoint error -1 ms
        b.sample(130.000, 100.001, 130.004);  // true offset -30, midpoint error -1 ms
        double real_deadline = 200;          // in the database's (true) time
        double written = a.deadline_to_db(real_deadline - 3);
        double read = b.deadline_to_node(written);
        CHECK(read >= real_deadline + 30);  // b's clock shows the true time + 30
        CHECK(read < real_deadline + 30 + 0.02);
    }
}
