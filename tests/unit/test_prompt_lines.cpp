#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "store/database.hpp"
#include "store/migrations.hpp"
#include "watch/line_store.hpp"
#include "watch/prompt_lines.hpp"
#include "temp_dir.hpp"

using namespace genq;
using namespace genq::watch;

TEST_SUITE("watch.prompt_lines") {
    TEST_CASE("*.txt lists are prompt lists; error notes, hidden and temporary names are not") {
        for (const char* n : {"prompts.txt", "A B.TXT", "2026.01.txt"})
            CHECK_MESSAGE(is_prompt_list(n), n);
        for (const char* n : {".prompts.txt", "p.txt.part", "p.tmp.txt", "cat.png.error.txt",
                              "p.txt~", ".txt", "txt", "p.text", "a/b.txt", "cat.png"})
            CHECK_MESSAGE(!is_prompt_list(n), n);
    }

    TEST_CASE("one line per non-empty line, trimmed, CRLF and BOM handled") {
        auto lines = split_prompt_lines("p.txt", "\xEF\xBB\xBF" "a fox\r\n\n   \n  a cat \nlast");
        REQUIRE(lines.size() == 3);
        CHECK(lines[0].text == "a fox");
        CHECK(lines[0].number == 1);
        CHECK(lines[0].job_name == "p-1");
        CHECK(lines[1].text == "a cat");
        CHECK(lines[1].job_name == "p-4");
        CHECK(lines[2].text == "last");
        CHECK(lines[2].number == 5);
        CHECK(split_prompt_lines("p.txt", "\n \r\n\t\n").empty());
    }

    TEST_CASE("a line keeps its key when lines are added around it; repeats differ") {
        auto before = split_prompt_lines("p.txt", "a fox\na cat\n");
        auto after = split_prompt_lines("p.txt", "new first\na fox\na cat\na fox\n");
        REQUIRE(after.size() == 4);
        CHECK(after[1].key == before[0].key);
        CHECK(after[2].key == before[1].key);
        CHECK(after[3].key != after[1].key);  // the second "a fox" is a new line
        CHECK(after[0].key != before[0].key);
    }
}

TEST_SUITE("watch.line_store") {
    TEST_CASE("lines round-trip; claims find the job they produced") {
        genq::test::TempDir tmp("genq-lines");
        const std::string& dir = tmp.path;
        {
            auto db = store::Database::open(dir + "/genq.db");
            REQUIRE(db);
            REQUIRE(store::migrate(**db));
            LineStore ls(**db);
            LineRecord r{"/in", "p.txt", "k1", "p-1", "", "", 1000};
            CHECK(!ls.known("/in", "p.txt", "k1"));
            ls.put(r);
            CHECK(ls.known("/in", "p.txt", "k1"));
            CHECK(!ls.known("/in", "q.txt", "k1"));
            REQUIRE(ls.claims("/in").size() == 1);
            CHECK(!ls.orphan_job(r));
            (*db)->exec(
                "INSERT INTO jobs (id, kind, state, params, input_name, input_sha256, input_width, "
                "input_height, input_bytes, created_at, updated_at, source) VALUES ('j1', "
                "'core', 'queued', '{}', 'p-1', '', 0, 0, 0, 2000, 2000, 'watch')");
            CHECK(ls.orphan_job(r) == std::optional<std::string>("j1"));
            r.job_id = "j1";
            ls.put(r);
            CHECK(ls.claims("/in").empty());
            CHECK(!ls.orphan_job(r));  // owned now
            LineRecord refused{"/in", "p.txt", "k2", "p-2", "", "prompt: too long", 1000};
            ls.put(refused);
            CHECK(ls.claims("/in").empty());  // a refusal is not a claim
            CHECK(ls.known("/in", "p.txt", "k2"));
            ls.erase(refused);
            CHECK(!ls.known("/in", "p.txt", "k2"));
        }
    }
}
