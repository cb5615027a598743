#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "core/clock.hpp"
#include "core/files.hpp"
#include "core/ids.hpp"
#include "store/database.hpp"
#include "store/job_store.hpp"
#include "store/migrations.hpp"
#include "store/send_log.hpp"
#include "store/spool.hpp"
#include "temp_dir.hpp"
#include "test_db.hpp"

using namespace genq;
using namespace genq::store;

namespace {

using genq::test::TempDir;

using genq::test::open_db;

Job make_job(const std::string& name, int priority = 0) {
    Job j;
    j.id = new_job_id(now_ms());
    j.kind = "video";
    j.priority = priority;
    j.params = {{"seed", 0}, {"cfg_scale", 1.8}, {"motion_bucket_id", 127}};
    j.input_name = name;
    j.input_sha256 = sha256_hex(name);
    j.input_width = 1024;
    j.input_height = 576;
    j.input_bytes = 10;
    j.created_at = j.updated_at = now_ms();
    return j;
}

}  // namespace

TEST_SUITE("store") {
    TEST_CASE("migrations apply once and record the version") {
        TempDir t;
        auto db = open_db(t.path);
        int v = schema_version(*db);
        CHECK(v == embedded_migrations().back().version);
        CHECK(migrate(*db).ok());  // idempotent
        CHECK(schema_version(*db) == v);
        db->exec("PRAGMA user_version = 999");
        auto st = migrate(*db);
        REQUIRE_FALSE(st.ok());
        CHECK(st.error().code == "db_too_new");
    }

    TEST_CASE("a file that is not a database is refused with a clear error") {
        TempDir t;
        REQUIRE(write_file_durably(t.path + "/genq.db", std::string(4096, 'x')).ok());
        auto db = Database::open(t.path + "/genq.db");
        REQUIRE_FALSE(db.ok());
        CHECK(db.error().code == "db_open");
        CHECK(db.error().message.find("genq.db") != std::string::npos);
    }

    TEST_CASE("insert, get, transitions with history, and a stale transition refused") {
        TempDir t;
        auto db = open_db(t.path);
        JobStore jobs(*db);
        Job j = make_job("cat.png");
        jobs.insert(j, "accepted");
        auto got = jobs.get(j.id);
        REQUIRE(got);
        CHECK(got->params["cfg_scale"] == 1.8);
        CHECK(got->state == JobState::queued);

        Job a = *got;
        a.key_name = "main";
        a.attempts = 1;
        CHECK(jobs.transition(a, JobState::submitting, "attempt 1", Durability::full, now_ms()));
        CHECK(a.state == JobState::submitting);
        Job stale = *got;  // still believes it is queued
        CHECK_FALSE(jobs.transition(stale, JobState::canceled, "late", Durability::full, now_ms()));
        a.remote_id = std::string(64, 'a');
        CHECK(jobs.transition(a, JobState::running, "accepted", Durability::full, now_ms()));
        auto events = jobs.events(j.id);
        REQUIRE(events.size() == 3);
        CHECK(events[0].to_state == "queued");
        CHECK(events[2].from_state == "submitting");
        CHECK(events[2].to_state == "running");
        CHECK(jobs.get(j.id)->remote_id == std::string(64, 'a'));
    }

    TEST_CASE("queue order: priority, then first in first out; backoff respected") {
        TempDir t;
        auto db = open_db(t.path);
        JobStore jobs(*db);
        Job low = make_job("low");
        jobs.insert(low, "");
        Job high = make_job("high", 5);
        jobs.insert(high, "");
        Job later = make_job("later");
        later.not_before_s = now() + 100;
        jobs.insert(later, "");
        auto next = jobs.next_queued(now(), 10);
        REQUIRE(next.size() == 2);
        CHECK(next[0].input_name == "high");
        CHECK(next[1].input_name == "low");
        CHECK(jobs.next_queued_wake(now()) == doctest::Approx(later.not_before_s));
    }

    TEST_CASE("the last poll's time survives in the row; ids found by a prefix in either case") {
        TempDir t;
        auto db = open_db(t.path);
        JobStore jobs(*db);
        Job j = make_job("x");
        jobs.insert(j, "");
        j.last_poll_s = 1234.5;
        jobs.save_progress(j, Durability::relaxed);
        CHECK(jobs.get(j.id)->last_poll_s == doctest::Approx(1234.5));
        std::string upper;
        for (char c : j.id.substr(0, 6)) upper += static_cast<char>(std::toupper(c));
        auto found = jobs.ids_with_prefix(upper, 5);
        REQUIRE(found.size() == 1);
        CHECK(found[0] == j.id);
        CHECK(jobs.ids_with_prefix("zzzzzzzz", 5).empty());
    }

    TEST_CASE("listing pages with a cursor, filters by state and kind") {
        TempDir t;
        auto db = open_db(t.path);
        JobStore jobs(*db);
        std::vector<std::string> ids;
        for (int i = 0; i < 5; ++i) {
            Job j = make_job("img" + std::to_string(i));
            jobs.insert(j, "");
            ids.push_back(j.id);
        }
        JobQuery q;
        q.limit = 2;
        auto page1 = jobs.list(q);
        REQUIRE(page1.size() == 2);
        CHECK(page1[0].id == ids[4]);
        q.before = page1.back().id;
        auto page2 = jobs.list(q);
        REQUIRE(page2.size() == 2);
        CHECK(page2[0].id == ids[2]);
        q = JobQuery{};
        q.states = {JobState::running};
        CHECK(jobs.list(q).empty());
        q.states = {JobState::queued, JobState::running};
        q.kind = "video";
        CHECK(jobs.list(q).size() == 5);
        CHECK(jobs.counts_by_state()["queued"] == 5);
    }

    TEST_CASE("output names are reserved per job") {
        TempDir t;
        auto db = open_db(t.path);
        JobStore jobs(*db);
        Job j = make_job("a");
        j.output = t.path + "/a.mp4";
        jobs.insert(j, "");
        CHECK(jobs.output_reserved(t.path + "/a.mp4", "other"));
        CHECK_FALSE(jobs.output_reserved(t.path + "/a.mp4", j.id));
    }

    TEST_CASE("the send log keeps the limiter's memory across a reopen") {
        TempDir t;
        {
            auto db = open_db(t.path);
            SendLog log(*db);
            log.record("main", 100.5);
            log.record("main", 101.5);
            log.record("other", 101.0);
            log.save_lockout("main", 160);
        }
        auto db = open_db(t.path);
        SendLog log(*db);
        CHECK(log.since("main", 101) == std::vector<double>{101.5});
        CHECK(log.since("main", 0).size() == 2);
        CHECK(log.lockout("main") == 160);
        CHECK(log.lockout("none") == 0);
        log.prune(101.2);
        CHECK(log.since("main", 0) == std::vector<double>{101.5});
    }

    TEST_CASE("the spool is content-addressed and durable") {
        TempDir t;
        Spool spool(t.path + "/spool");
        REQUIRE(spool.init().ok());
        auto a = spool.put("hello");
        REQUIRE(a.ok());
        CHECK(*a == sha256_hex("hello"));
        auto again = spool.put("hello");
        CHECK(*again == *a);
        CHECK(*spool.read(*a) == "hello");
    }

    TEST_CASE("file names are sanitised and cannot leave the directory") {
        CHECK(sanitize_stem("../../etc/passwd") == "passwd");
        CHECK(sanitize_stem("..hidden") == "hidden");
        CHECK(sanitize_stem("a b/c d") == "c_d");
        CHECK(sanitize_stem("") == "output");
        CHECK(sanitize_stem("\xff\xfe") == "__");
        CHECK(sanitize_stem(std::string(300, 'a')).size() == 100);
    }

    TEST_CASE("job ids sort by creation time") {
        auto a = new_job_id(1000);
        auto b = new_job_id(1000);
        auto c = new_job_id(2000);
        CHECK(a < b);
        CHECK(b < c);
        CHECK(looks_like_job_id(a));
        CHECK_FALSE(looks_like_job_id("../etc"));
    }
}
