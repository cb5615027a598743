// The embedded store's durability threads (issue 12): the WAL checkpointer (the loop's
// connection never checkpoints, the thread keeps the WAL bounded, TRUNCATE on request), the WAL
// syncer (group commit off the loop) and the spool's sync of only what it wrote.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "core/clock.hpp"
#include "core/files.hpp"
#include "core/ids.hpp"
#include "store/database.hpp"
#include "store/job_store.hpp"
#include "store/migrations.hpp"
#include "store/spool.hpp"
#include "store/wal_checkpointer.hpp"
#include "store/wal_syncer.hpp"
#include "temp_dir.hpp"

using namespace genq;
using namespace genq::store;

namespace {

using TempDir = genq::test::TempDir;

std::unique_ptr<Database> open_db(const std::string& dir) {
    auto db = Database::open(dir + "/genq.db");
    REQUIRE(db.ok());
    REQUIRE(migrate(**db).ok());
    return std::move(db).value();
}

Job make_job(int n) {
    Job j;
    j.id = new_job_id(now_ms());
    j.kind = "video";
    j.params = {{"seed", n}, {"cfg_scale", 1.8}};
    j.input_name = "in" + std::to_string(n) + ".png";
    j.input_sha256 = sha256_hex(j.input_name);
    j.input_width = 1024;
    j.input_height = 576;
    j.input_bytes = 10;
    j.created_at = j.updated_at = now_ms();
    return j;
}

std::int64_t file_size(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_size) : -1;
}

// Waits for `cond` (a thread's work), at most 60 s: a loaded machine is slow, not wrong.
template <class F>
bool eventually(F cond) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!cond()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

constexpr std::int64_t kPage = 4096;

}  // namespace

TEST_SUITE("wal threads") {
    TEST_CASE("with the hook installed the loop's connection never checkpoints") {
        TempDir t;
        auto db = open_db(t.path);
        // A threshold never reached: nobody checkpoints, so the WAL grows past SQLite's own
        // automatic checkpoint (1,000 pages), which would otherwise have reset it.
        auto cp = WalCheckpointer::start(db->handle(), t.path + "/genq.db", 1 << 30);
        REQUIRE(cp.ok());
        JobStore jobs(*db);
        for (int i = 0; i < 400; ++i) {
            std::vector<Job> batch;
            for (int k = 0; k < 10; ++k) batch.push_back(make_job(i * 10 + k));
            jobs.insert_many(batch, "test", Durability::relaxed);
        }
        CHECK(file_size(t.path + "/genq.db-wal") > 1000 * kPage);
        CHECK((*cp)->stats().checkpoints == 0);
    }

    TEST_CASE("the checkpoint thread keeps the WAL bounded and truncates it on request") {
        TempDir t;
        auto db = open_db(t.path);
        constexpr int kThreshold = 64;
        auto cp = WalCheckpointer::start(db->handle(), t.path + "/genq.db", kThreshold);
        REQUIRE(cp.ok());
        JobStore jobs(*db);
        std::int64_t largest = 0;
        for (int i = 0; i < 300; ++i) {
            std::vector<Job> batch;
            for (int k = 0; k < 10; ++k) batch.push_back(make_job(i * 10 + k));
            jobs.insert_many(batch, "test");  // full: an fsync each, as the loop's commits
            largest = std::max(largest, file_size(t.path + "/genq.db-wal"));
            // The loop between two commits serves requests: here a millisecond of it (without
            // any gap the writer's lock is never free, which no event loop does).
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        const std::string wal = t.path + "/genq.db-wal";
        INFO("largest WAL " << largest << " bytes, stats max frames "
                            << (*cp)->stats().max_wal_frames);
        CHECK((*cp)->stats().checkpoints > 0);
        // Far fewer pages than the writes made (the test above: over 1,000), and at most the
        // restart bound (4 x the threshold) plus what the commits during a restart add.
        CHECK(largest <= (8 * kThreshold) * kPage);
        // Every row is there, and after the TRUNCATE (everything copied back) a new connection
        // reads them all from the database file.
        CHECK(jobs.counts_by_state()["queued"] == 3000);

        (*cp)->request_truncate();
        CHECK(eventually([&] { return (*cp)->stats().truncates >= 1; }));
        CHECK(file_size(wal) == 0);
        auto again = open_db(t.path);
        CHECK(JobStore(*again).counts_by_state()["queued"] == 3000);
    }

    TEST_CASE("the WAL syncer answers every waiter, many with one fdatasync") {
        TempDir t;
        auto db = open_db(t.path);
        JobStore jobs(*db);
        jobs.insert_many({make_job(1)}, "test", Durability::relaxed);
        WalSyncer syncer(t.path + "/genq.db-wal");
        std::atomic<int> ok{0}, failed{0};
        constexpr int kWaiters = 100;
        for (int i = 0; i < kWaiters; ++i)
            syncer.after_commits([&](Status st) { (st ? ok : failed).fetch_add(1); });
        CHECK(eventually([&] { return ok + failed == kWaiters; }));
        CHECK(ok == kWaiters);
        CHECK(syncer.syncs() >= 1);
        // Waiters queued while a sync runs share the next one: far fewer syncs than waiters.
        CHECK(syncer.syncs() <= kWaiters / 2);
    }

    TEST_CASE("the WAL syncer with no WAL file has nothing to sync") {
        TempDir t;
        WalSyncer syncer(t.path + "/missing.db-wal");
        std::atomic<int> ok{0};
        syncer.after_commits([&](Status st) {
            if (st) ok = 1;
        });
        CHECK(eventually([&] { return ok == 1; }));
    }

    TEST_CASE("the spool syncs only the files it wrote since the last sync") {
        TempDir t;
        Spool spool(t.path + "/spool");
        REQUIRE(spool.init().ok());
        CHECK(spool.sync().ok());  // nothing written: nothing to do
        auto a = spool.put("first bytes", false);
        REQUIRE(a.ok());
        CHECK(spool.unsynced() == 1);
        auto same = spool.put("first bytes", false);  // the same content: no new file
        CHECK(spool.unsynced() == 1);
        auto b = spool.put("second bytes", false);
        CHECK(spool.unsynced() == 2);
        CHECK(spool.sync().ok());
        CHECK(spool.unsynced() == 0);
        CHECK(spool.read(*a).value() == "first bytes");
        CHECK(spool.remove(*b));
        auto c = spool.put("third bytes", false);
        CHECK(spool.remove(*c));  // deleted before its sync (retention): nothing to sync
        CHECK(spool.sync().ok());
        CHECK(spool.unsynced() == 0);
        auto d = spool.put("fourth bytes", true);  // durable at once: never listed
        CHECK(spool.unsynced() == 0);
    }
}
