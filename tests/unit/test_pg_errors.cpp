// What a failed PostgreSQL statement means (store/pg_errors): 53100 disk_full is the shared
// store's disk full, held like the state disk full; a lost connection is unavailable; the rest,
// out_of_memory (53200) included, are errors that stop the node.
#include <doctest/doctest.h>

#include "store/pg_errors.hpp"

namespace genq::test {
namespace {

using store::classify_pg_failure;
using store::PgFailure;

TEST_SUITE("pg errors") {
    TEST_CASE("disk_full is held like the state disk full, whatever the statement") {
        CHECK(classify_pg_failure("53100", true) == PgFailure::disk_full);
    }

    TEST_CASE("a connection that went away is unavailable, whatever the SQLSTATE said") {
        CHECK(classify_pg_failure("", false) == PgFailure::unavailable);
        CHECK(classify_pg_failure("53100", false) == PgFailure::unavailable);
        CHECK(classify_pg_failure("57P01", false) == PgFailure::unavailable);
    }

    TEST_CASE("other failures stop the node: out of memory, limits, bugs, constraints") {
        for (const char* s : {"53200", "53000", "53300", "53400", "23505", "42P01", "40001", ""})
            CHECK_MESSAGE(classify_pg_failure(s, true) == PgFailure::error, s);
    }
}

}  // namespace
}  // namespace genq::test
