// The store's memory of Idempotency-Key answers (ports::IdempotencyLog, schema 0005): found within
// the window, not after it, kept across a reopen, replaced by key, pruned by age.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "store/sqlite_queue_store.hpp"
#include "temp_dir.hpp"

namespace {

using genq::test::TempDir;

constexpr std::int64_t kDay = 24LL * 3600 * 1000;

}  // namespace

TEST_SUITE("idempotency log") {
    TEST_CASE("an answer is found within its window, kept across a reopen, pruned after") {
        TempDir t;
        const std::int64_t t0 = 1764583200000;
        {
            auto opened = genq::store::SqliteQueueStore::open(t.path);
            REQUIRE(opened.ok());
            genq::ports::IdempotencyLog& log = **opened;
            CHECK_FALSE(log.find_answer("k1", 0).has_value());
            log.remember_answer("k1", {"hash-1", "{\"id\":\"a\"}", t0}, t0 - kDay);
            auto a = log.find_answer("k1", t0 - kDay);
            REQUIRE(a.has_value());
            CHECK(a->request_hash == "hash-1");
            CHECK(a->body == "{\"id\":\"a\"}");
            CHECK(a->at_ms == t0);
            CHECK_FALSE(log.find_answer("k1", t0 + 1).has_value());  // older than the window
            CHECK_FALSE(log.find_answer("k2", 0).has_value());
        }
        auto reopened = genq::store::SqliteQueueStore::open(t.path);
        REQUIRE(reopened.ok());
        genq::ports::IdempotencyLog& log = **reopened;
        REQUIRE(log.find_answer("k1", 0).has_value());  // durable
        // A day later a new answer prunes the old one, whatever its key.
        log.remember_answer("k2", {"hash-2", "{}", t0 + kDay + 1}, t0 + 1);
        CHECK_FALSE(log.find_answer("k1", 0).has_value());
        CHECK(log.find_answer("k2", 0)->request_hash == "hash-2");
    }
}
