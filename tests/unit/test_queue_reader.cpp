// The queue's read side as the control API sees it (ports::JobReader), from the SQLite store:
// jobs newest first, events, counts, ids found by a prefix in either case.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "store/sqlite_queue_store.hpp"
#include "temp_dir.hpp"

namespace {

using genq::test::TempDir;

genq::Job job_at(std::int64_t ms) {
    genq::Job j;
    j.id = genq::new_job_id(ms);
    j.kind = "video";
    j.input_name = "in.png";
    j.input_sha256 = std::string(64, 'a');
    j.created_at = j.updated_at = ms;
    return j;
}

TEST_SUITE("queue reader") {
    TEST_CASE("list, get, events and counts; ids_with_prefix finds the oldest of many") {
        TempDir t;
        auto opened = genq::store::SqliteQueueStore::open(t.path);
        REQUIRE(opened.ok());
        auto& store = **opened;
        // 1200 jobs a millisecond apart.
        std::vector<genq::Job> jobs;
        const std::int64_t t0 = 1764583200000;
        for (int i = 0; i < 1200; ++i) jobs.push_back(job_at(t0 + i));
        store.insert(jobs, "test");
        genq::ports::JobReader& reader = store;

        genq::ports::JobQuery q;
        q.limit = 10;
        auto page = reader.list(q);
        REQUIRE(page.size() == 10);
        CHECK(page[0].id == jobs.back().id);  // newest first
        CHECK(reader.get(jobs[0].id)->id == jobs[0].id);
        auto events = reader.events(jobs[0].id);
        REQUIRE(events.size() == 1);
        CHECK(events[0].to_state == "queued");
        CHECK(events[0].detail == "test");
        CHECK(reader.events_since(0, 5).size() == 5);
        CHECK(reader.counts_by_state()["queued"] == 1200);

        // The oldest job's id, in upper case: found although it is on the last page.
        std::string prefix = jobs[0].id.substr(0, 10);
        for (auto& c : prefix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        auto ids = reader.ids_with_prefix(prefix, 2000);
        CHECK(std::find(ids.begin(), ids.end(), jobs[0].id) != ids.end());
        for (const auto& id : ids) CHECK(id.size() == jobs[0].id.size());
        CHECK(reader.ids_with_prefix(jobs[0].id.substr(0, 6), 3).size() <= 3);
        CHECK(reader.ids_with_prefix("zzzzzzzzzz", 5).empty());
    }
}

}  // namespace
