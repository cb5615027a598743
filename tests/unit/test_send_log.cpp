// The limiter's send log keeps a send in memory until the next commit on the database or a
// flush (issue 12): nothing is lost to a reader, a commit carries it, a reopen finds it.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "store/database.hpp"
#include "store/migrations.hpp"
#include "store/send_log.hpp"
#include "temp_dir.hpp"
#include "test_db.hpp"

using namespace genq;
using namespace genq::store;

namespace {

using genq::test::TempDir;

using genq::test::open_db;

std::int64_t rows(Database& db) {
    auto st = db.prepare("SELECT count(*) FROM key_sends");
    st->step();
    return st->int64(0);
}

}  // namespace

TEST_SUITE("send log") {
    TEST_CASE("a send waits for the next commit, which writes it with its own changes") {
        TempDir dir;
        auto db = open_db(dir.path);
        SendLog log(*db);
        log.record("main", 100.5);
        log.record("main", 100.7);
        CHECK(rows(*db) == 0);
        {
            Transaction tx(*db);  // any commit, e.g. the transition the request belongs to
            db->exec("INSERT INTO key_status (name, status, updated_at) VALUES ('x', 'active', 1)");
            tx.commit();
        }
        CHECK(rows(*db) == 2);
    }

    TEST_CASE("a rolled-back transaction keeps the sends for the next one") {
        TempDir dir;
        auto db = open_db(dir.path);
        SendLog log(*db);
        log.record("main", 1);
        { Transaction tx(*db); }  // never committed
        CHECK(rows(*db) == 0);
        log.flush();
        CHECK(rows(*db) == 1);
    }

    TEST_CASE("readers, pruning and closing see every send recorded") {
        TempDir dir;
        {
            auto db = open_db(dir.path);
            SendLog log(*db);
            log.record("main", 10);
            log.record("other", 11);
            CHECK(log.since("main", 0) == std::vector<double>{10});
            log.record("main", 12);
            log.prune(11);
            CHECK(log.since("main", 0) == std::vector<double>{12});
            log.record("main", 13);
        }  // closed with a send still kept: written on the way out
        auto db = open_db(dir.path);
        SendLog log(*db);
        CHECK(log.since("main", 0) == std::vector<double>{12, 13});
        CHECK(log.since("other", 0) == std::vector<double>{11});
    }
}
