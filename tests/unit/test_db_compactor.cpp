// The database file gives back what retention frees: the compactor's steps on a manual clock
// (sched::DbCompactor), the start-up conversion's decision, and SQLite itself: a new database
// is incremental, an old one is converted by one VACUUM, and bounded steps shrink the file.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "core/clock.hpp"
#include "sched/db_compactor.hpp"
#include "temp_dir.hpp"
#include "store/auto_vacuum.hpp"
#include "store/database.hpp"

namespace genq::test {
namespace {

using sched::DbCompactor;

std::int64_t pragma(store::Database& db, const char* sql) {
    auto st = db.prepare(sql);
    return st->step() ? st->int64(0) : -1;
}

// Rows of 1 KB, then most of them deleted: their pages go to the free list.
void fill_and_delete(store::Database& db) {
    db.exec("CREATE TABLE t (x BLOB)");
    db.exec("BEGIN");
    db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8000) "
            "INSERT INTO t SELECT randomblob(1000) FROM n");
    db.exec("COMMIT");
    db.exec("DELETE FROM t WHERE rowid > 500");
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

TEST_SUITE("db compactor") {
    TEST_CASE("steps a pause apart until the free list is (nearly) empty, then a checkpoint") {
        ManualClock clock(1000);
        DbCompactor c;
        CHECK_FALSE(c.step(clock.now()));
        CHECK(std::isinf(c.next_at()));
        c.request(clock.now());
        REQUIRE(c.step(clock.now()) == DbCompactor::kPagesPerStep);
        auto o = c.on_step(128, 300, clock.now());
        CHECK_FALSE(o.finished);
        CHECK_FALSE(c.step(clock.now()));  // the loop serves other work first
        c.request(clock.now());            // another sweep meanwhile: the same compaction
        clock.advance(DbCompactor::kStepPause);
        REQUIRE(c.step(clock.now()));
        o = c.on_step(128, 172, clock.now());
        CHECK_FALSE(o.finished);
        clock.advance(DbCompactor::kStepPause);
        REQUIRE(c.step(clock.now()));
        o = c.on_step(128, 10, clock.now());  // fewer than kMinFree left: done
        REQUIRE(o.finished);
        CHECK(o.checkpoint);
        CHECK(o.finished->pages_freed == 384);
        CHECK(o.finished->steps == 3);
        CHECK(o.finished->seconds == doctest::Approx(2 * DbCompactor::kStepPause));
        CHECK_FALSE(c.compacting());
    }

    TEST_CASE("a store that frees nothing ends it at once, with no checkpoint") {
        ManualClock clock(1000);
        DbCompactor c;
        c.request(clock.now());
        REQUIRE(c.step(clock.now()));
        auto o = c.on_step(0, 5000, clock.now());  // auto_vacuum off: pages stay free
        REQUIRE(o.finished);
        CHECK_FALSE(o.checkpoint);
        CHECK_FALSE(c.compacting());
    }

    TEST_CASE("a VACUUM at start-up only for a small file with room for its copy") {
        const std::int64_t mib = 1024 * 1024;
        CHECK(store::startup_vacuum_is_cheap(2 * mib, 10 * 1024 * mib));
        CHECK(store::startup_vacuum_is_cheap(32 * mib, 200 * mib));
        CHECK_FALSE(store::startup_vacuum_is_cheap(33 * mib, 10 * 1024 * mib));  // too slow
        CHECK_FALSE(store::startup_vacuum_is_cheap(20 * mib, 90 * mib));  // no room for the copy
    }

    TEST_CASE("a new database is incremental; bounded steps shrink its file") {
        TempDir t("genq-vacuum");
        auto opened = store::Database::open(t.path + "/genq.db");
        REQUIRE(opened.ok());
        auto& db = **opened;
        CHECK(pragma(db, "PRAGMA auto_vacuum") == 2);
        fill_and_delete(db);
        std::int64_t free_before = pragma(db, "PRAGMA freelist_count");
        REQUIRE(free_before > 1000);
        auto size_before = std::filesystem::file_size(t.path + "/genq.db");
        auto step = store::incremental_vacuum_step(db, 128);
        CHECK(step.freed > 64);
        CHECK(step.freed <= 128);  // bounded
        CHECK(step.free_left == free_before - step.freed);
        int steps = 1;
        while (step.free_left > 0 && steps < 1000) {
            step = store::incremental_vacuum_step(db, 128);
            ++steps;
        }
        CHECK(step.free_left == 0);
        CHECK(steps <= free_before / 64 + 1);
        db.exec("PRAGMA wal_checkpoint(TRUNCATE)");  // where a WAL database's file shrinks
        auto size_after = std::filesystem::file_size(t.path + "/genq.db");
        CHECK(size_after < size_before / 4);
        CHECK(pragma(db, "SELECT count(*) FROM t") == 500);
        CHECK(store::incremental_vacuum_step(db, 128).freed == 0);  // nothing left to give
    }

    TEST_CASE("an old database (auto_vacuum none) is converted once, when small") {
        TempDir t("genq-vacuum");
        const std::string path = t.path + "/genq.db";
        {
            auto opened = store::Database::open(path);
            REQUIRE(opened.ok());
            (*opened)->exec("PRAGMA auto_vacuum=NONE");
            (*opened)->exec("VACUUM");  // as an older genq made it
            CHECK(pragma(**opened, "PRAGMA auto_vacuum") == 0);
            fill_and_delete(**opened);
            // With auto_vacuum off, a step frees nothing.
            CHECK(store::incremental_vacuum_step(**opened, 128).freed == 0);
        }
        auto opened = store::Database::open(path);
        REQUIRE(opened.ok());
        CHECK(pragma(**opened, "PRAGMA auto_vacuum") == 0);  // open alone changes nothing
        store::convert_to_incremental_vacuum(**opened, path);
        CHECK(pragma(**opened, "PRAGMA auto_vacuum") == 2);
        CHECK(pragma(**opened, "PRAGMA freelist_count") == 0);  // the VACUUM compacted it too
        CHECK(pragma(**opened, "SELECT count(*) FROM t") == 500);
        auto check = (*opened)->prepare("PRAGMA integrity_check");
        REQUIRE(check->step());
        CHECK(check->text(0) == "ok");
    }
}

}  // namespace
}  // namespace genq::test
