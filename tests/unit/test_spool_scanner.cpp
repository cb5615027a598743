// The orphan scan of the input spool: the decision for one file (sched::judge_spool_file), the
// scan's pages on a manual clock (sched::SpoolScanner), and the SQLite store's listing and
// deletion under them: an input no job uses and an unfinished write go, a referenced input, a
// young file and a file genq did not write stay.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "sched/spool_scanner.hpp"
#include "temp_dir.hpp"
#include "store/sqlite_queue_store.hpp"

namespace genq::test {
namespace {

using sched::SpoolScanner;
using sched::SpoolVerdict;

const std::string kSha(64, 'a');
constexpr double kNow = 1764583200;

ports::SpoolEntry entry(const std::string& name, double age, bool referenced = false) {
    return {name, kNow - age, referenced};
}

SpoolVerdict judge(const ports::SpoolEntry& e) {
    return sched::judge_spool_file(e, kNow, SpoolScanner::kGrace);
}

void set_age(const std::string& path, double age_s) {
    struct timespec times[2];
    auto t = static_cast<std::time_t>(std::time(nullptr) - static_cast<std::time_t>(age_s));
    times[0] = {t, 0};
    times[1] = {t, 0};
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

Job job_with(const std::string& sha) {
    Job j;
    j.id = new_job_id(static_cast<std::int64_t>(kNow * 1000));
    j.kind = "video";
    j.input_name = "in.png";
    j.input_sha256 = sha;
    j.created_at = j.updated_at = static_cast<std::int64_t>(kNow * 1000);
    return j;
}

// The daemon's loop, without its timer: every page, as RetentionDriver performs it.
sched::SpoolScanReport scan(store::QueueStore& store, SpoolScanner& s, ManualClock& clock,
                            int& removed) {
    s.request(clock.now());
    for (int guard = 0; guard < 1000; ++guard) {
        auto step = s.step(clock.now());
        if (!step) {
            clock.set(s.next_at());
            continue;
        }
        auto d = s.on_page(store.spool_page(step->from_start, 2), clock.now());
        for (const auto& name : d.remove) removed += store.remove_spool_file(name) ? 1 : 0;
        if (d.finished) return *d.finished;
    }
    FAIL("the scan did not end");
    return {};
}

TEST_SUITE("spool scan") {
    TEST_CASE("an input no job references goes once older than the grace") {
        CHECK(judge(entry(kSha, 2 * 3600)) == SpoolVerdict::orphan);
        CHECK(judge(entry(kSha, 2 * 3600, true)) == SpoolVerdict::keep);  // a job uses it
        CHECK(judge(entry(kSha, 60)) == SpoolVerdict::keep);  // maybe its job commits now
        CHECK(judge(entry(kSha, SpoolScanner::kGrace - 1)) == SpoolVerdict::keep);
        CHECK(judge(entry(kSha, SpoolScanner::kGrace + 1)) == SpoolVerdict::orphan);
        // A file modified in the future (the clock set back) is young, not old.
        CHECK(judge(entry(kSha, -3600)) == SpoolVerdict::keep);
    }

    TEST_CASE("an unfinished write's temporary file goes; names genq does not write stay") {
        CHECK(judge(entry(kSha + ".tmp123456", 7200)) == SpoolVerdict::partial);
        CHECK(judge(entry("." + kSha + ".tmp42", 7200)) == SpoolVerdict::partial);
        CHECK(judge(entry(kSha + ".tmp42", 60)) == SpoolVerdict::keep);  // being written
        for (const char* name : {"notes.txt", ".genq-space-probe", "", ".tmp1"})
            CHECK_MESSAGE(judge(entry(name, 7200)) == SpoolVerdict::keep, name);
        CHECK(judge(entry(std::string(64, 'A'), 7200)) == SpoolVerdict::keep);  // not our hex
        CHECK(judge(entry(std::string(63, 'a'), 7200)) == SpoolVerdict::keep);
        CHECK(judge(entry(kSha + ".tmp", 7200)) == SpoolVerdict::keep);
        CHECK(judge(entry(kSha + ".tmp12x", 7200)) == SpoolVerdict::keep);
        CHECK(judge(entry(kSha + ".png", 7200)) == SpoolVerdict::keep);
    }

    TEST_CASE("a scan lists page after page, a pause apart, and reports at its end") {
        ManualClock clock(kNow);
        SpoolScanner s;
        CHECK_FALSE(s.step(clock.now()));
        CHECK(std::isinf(s.next_at()));
        s.request(clock.now());
        auto first = s.step(clock.now());
        REQUIRE(first);
        CHECK(first->from_start);
        CHECK(first->limit == SpoolScanner::kPageFiles);
        ports::SpoolPage page;
        page.entries = {entry(kSha, 7200), entry(std::string(64, 'b'), 7200, true)};
        page.end = false;
        auto d = s.on_page(page, clock.now());
        CHECK(d.remove == std::vector<std::string>{kSha});
        CHECK_FALSE(d.finished);
        CHECK_FALSE(s.step(clock.now()));  // the loop serves other work first
        s.request(clock.now());            // a sweep ended meanwhile: the scan goes on
        clock.advance(SpoolScanner::kPagePause);
        auto second = s.step(clock.now());
        REQUIRE(second);
        CHECK_FALSE(second->from_start);
        page.entries = {entry(kSha + ".tmp7", 7200)};
        page.end = true;
        d = s.on_page(page, clock.now());
        CHECK(d.remove == std::vector<std::string>{kSha + ".tmp7"});
        REQUIRE(d.finished);
        CHECK(d.finished->examined == 3);
        CHECK(d.finished->orphans == 1);
        CHECK(d.finished->partials == 1);
        CHECK(d.finished->pages == 2);
        CHECK(d.finished->seconds == doctest::Approx(SpoolScanner::kPagePause));
        CHECK_FALSE(s.scanning());
        s.request(clock.now());  // the next scan starts from the first file again
        auto again = s.step(clock.now());
        REQUIRE(again);
        CHECK(again->from_start);
    }

    TEST_CASE("the SQLite store: orphans and unfinished writes go, the rest stays") {
        TempDir t("genq-spool");
        auto opened = store::SqliteQueueStore::open(t.path);
        REQUIRE(opened.ok());
        auto& st = **opened;
        const std::string spool = t.path + "/spool/";
        auto used = st.put_input("the input of a job", true);
        auto orphan = st.put_input("an input whose job was pruned", true);
        auto young = st.put_input("an input whose job commits now", true);
        REQUIRE((used.ok() && orphan.ok() && young.ok()));
        st.insert({job_with(*used)}, "test");
        std::ofstream(spool + *orphan + ".tmp99") << "half";
        std::ofstream(spool + "README") << "not genq's";
        std::filesystem::create_directory(spool + std::string(64, 'c'));
        for (const auto& name : {*used, *orphan, *orphan + ".tmp99", std::string("README")})
            set_age(spool + name, 7200);

        ManualClock clock(static_cast<double>(std::time(nullptr)));
        SpoolScanner s;
        int removed = 0;
        auto r = scan(st, s, clock, removed);
        CHECK(removed == 2);
        CHECK(r.orphans == 1);
        CHECK(r.partials == 1);
        CHECK(r.examined == 5);  // the directory is not listed
        CHECK(r.pages >= 3);     // 2 files a page here
        std::set<std::string> left;
        for (const auto& e : std::filesystem::directory_iterator(spool))
            left.insert(e.path().filename().string());
        CHECK(left == std::set<std::string>{*used, *young, "README", std::string(64, 'c')});
        CHECK(st.read_input(*used).ok());

        // The store checks the reference itself, whatever it is asked.
        CHECK_FALSE(st.remove_spool_file(*used));
        CHECK_FALSE(st.remove_spool_file("../genq.db"));
        CHECK(std::filesystem::exists(t.path + "/genq.db"));
    }

    TEST_CASE("an input reused for a new job is young again") {
        TempDir t("genq-spool");
        auto opened = store::SqliteQueueStore::open(t.path);
        REQUIRE(opened.ok());
        auto& st = **opened;
        auto sha = st.put_input("same bytes", true);
        REQUIRE(sha.ok());
        const std::string path = t.path + "/spool/" + *sha;
        set_age(path, 7200);
        REQUIRE(st.put_input("same bytes", false).ok());  // its job is about to commit
        struct stat info {};
        REQUIRE(::stat(path.c_str(), &info) == 0);
        CHECK(std::time(nullptr) - info.st_mtime < 60);
        ManualClock clock(static_cast<double>(std::time(nullptr)));
        SpoolScanner s;
        int removed = 0;
        scan(st, s, clock, removed);
        CHECK(removed == 0);
        CHECK(std::filesystem::exists(path));
    }
}

}  // namespace
}  // namespace genq::test
