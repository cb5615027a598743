#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "store/database.hpp"
#include "store/migrations.hpp"
#include "watch/watch_policy.hpp"
#include "watch/watch_store.hpp"
#include "temp_dir.hpp"

using namespace genq;
using namespace genq::watch;
using genq::JobState;

TEST_SUITE("watch.policy") {
    TEST_CASE("image names of every supported extension are candidates, in any case") {
        for (const char* n : {"cat.png", "cat.PNG", "a b.jpg", "x.JpEg", "y.webp", "2024.01.png"})
            CHECK_MESSAGE(is_candidate(n), n);
    }

    TEST_CASE("hidden, temporary, sidecar and other names are not") {
        for (const char* n :
             {".cat.png", ".cat.png.XyZ12", "cat.png.part", "cat.png.tmp", "cat.png.crdownload",
              "cat.png~", "cat.part.png", "cat.tmp.png", "~$cat.png", "cat.png.json", "cat.gif",
              "cat", "png", ".png", "cat.png.error.txt", "", "a/b.png", "cat.pngx"})
            CHECK_MESSAGE(!is_candidate(n), n);
    }

    TEST_CASE("companion names") {
        CHECK(sidecar_name("cat.png") == "cat.png.json");
        CHECK(error_name("cat-1.png") == "cat-1.png.error.txt");
    }

    TEST_CASE("numbered names put the number before the extension") {
        CHECK(numbered_name("cat.png", 0) == "cat.png");
        CHECK(numbered_name("cat.png", 1) == "cat-1.png");
        CHECK(numbered_name("my.cat.jpeg", 12) == "my.cat-12.jpeg");
        CHECK(numbered_name("README", 2) == "README-2");
    }

    TEST_CASE("free_name never returns a taken name") {
        std::set<std::string> taken{"cat.png", "cat-1.png", "cat-2.png"};
        auto is_taken = [&](const std::string& n) { return taken.count(n) > 0; };
        CHECK(free_name("cat.png", is_taken) == "cat-3.png");
        CHECK(free_name("dog.png", is_taken) == "dog.png");
    }

    TEST_CASE("a sidecar is a JSON object of scalar params") {
        auto ok = parse_sidecar(R"({"seed": 42, "cfg_scale": 2.5, "motion_bucket_id": null})",
                                "cat.png.json");
        REQUIRE(ok);
        CHECK((*ok)["seed"] == 42);
        auto bad = parse_sidecar("{seed: 1", "cat.png.json");
        REQUIRE(!bad);
        CHECK(bad.error().code == "invalid_sidecar");
        CHECK(bad.error().message.find("cat.png.json") != std::string::npos);
        CHECK(bad.error().message.find("not valid JSON") != std::string::npos);
        auto arr = parse_sidecar("[1,2]", "x.png.json");
        REQUIRE(!arr);
        CHECK(arr.error().message.find("JSON object") != std::string::npos);
        auto nested = parse_sidecar(R"({"seed": {"a": 1}})", "x.png.json");
        REQUIRE(!nested);
        CHECK(nested.error().message.find("seed") != std::string::npos);
    }

    TEST_CASE("sidecar params override the watch's, null removes one") {
        nlohmann::json base = {{"cfg_scale", 1.8}, {"motion_bucket_id", 127}};
        auto merged = merge_params(base, {{"cfg_scale", 3}, {"motion_bucket_id", nullptr},
                                          {"seed", 7}});
        CHECK(merged == nlohmann::json({{"cfg_scale", 3}, {"seed", 7}}));
    }

    TEST_CASE("places follow job states") {
        CHECK(place_for(JobState::queued) == Place::processing);
        CHECK(place_for(JobState::submitting) == Place::processing);
        CHECK(place_for(JobState::running) == Place::processing);
        CHECK(place_for(JobState::succeeded) == Place::done);
        CHECK(place_for(JobState::failed) == Place::failed);
        CHECK(place_for(JobState::canceled) == Place::failed);
        for (Place p : {Place::processing, Place::done, Place::failed, Place::gone})
            CHECK(parse_place(to_string(p)) == p);
        CHECK(!parse_place("elsewhere"));
    }

    TEST_CASE("a known file is resumed only if its recorded copy is missing from processing") {
        CHECK(classify_known(Place::processing, false) == Known::resume);
        CHECK(classify_known(Place::processing, true) == Known::duplicate);
        CHECK(classify_known(Place::done, true) == Known::duplicate);
        CHECK(classify_known(Place::done, false) == Known::duplicate);
        CHECK(classify_known(Place::failed, false) == Known::duplicate);
        CHECK(classify_known(Place::gone, false) == Known::duplicate);
    }

    TEST_CASE("input refusals versus genq's own trouble") {
        CHECK(is_input_refusal("invalid_image"));
        CHECK(is_input_refusal("invalid_param"));
        CHECK(is_input_refusal("invalid_sidecar"));
        CHECK(is_input_refusal("too_large"));
        CHECK(!is_input_refusal("io_error"));
        CHECK(!is_input_refusal("no_space"));
    }

    TEST_CASE("error notes speak plainly") {
        auto r =
            refusal_text("cat.png", {"invalid_image", "image: must be 1024x576 (got 800x600)"});
        CHECK(r.find("cat.png was not queued") != std::string::npos);
        CHECK(r.find("1024x576") != std::string::npos);
        auto d = duplicate_text("cat.png", "01abc", JobState::running);
        CHECK(d.find("already turned into job 01abc (now running)") != std::string::npos);

        store::Job job;
        job.id = "01j";
        job.state = JobState::failed;
        job.error_code = "content_moderation";
        job.error_message = "Your request was flagged";
        job.attempts = 1;
        job.key_name = "main";
        auto f = job_failure_text("cat.png", job);
        CHECK(f.find("job 01j failed") != std::string::npos);
        CHECK(f.find("Provider error: content_moderation") != std::string::npos);
        job.attempts = 0;
        job.key_name.clear();
        CHECK(job_failure_text("cat.png", job).find("Error code: content_moderation") !=
              std::string::npos);
        job.state = JobState::canceled;
        CHECK(job_failure_text("cat.png", job).find("was canceled") != std::string::npos);
    }
}

TEST_SUITE("watch.store") {
    TEST_CASE("records round-trip and orphan claims find their job") {
        genq::test::TempDir tmp("genq-watch");
        const std::string& dir = tmp.path;
        {
            auto db = store::Database::open(dir + "/genq.db");
            REQUIRE(db);
            REQUIRE(store::migrate(**db));
            WatchStore ws(**db);
            WatchRecord r{"/in", "cat.png", "abc", "", Place::processing, "cat-1.png", 1000};
            ws.put(r);
            auto found = ws.find("/in", "cat.png", "abc");
            REQUIRE(found);
            CHECK(found->job_id.empty());
            CHECK(found->stored == "cat-1.png");
            CHECK(!ws.find("/in", "cat.png", "abd"));
            CHECK(ws.in_place("/in", Place::processing).size() == 1);
            CHECK(!ws.orphan_job(r));
            (*db)->exec(
                "INSERT INTO jobs (id, kind, state, params, input_name, input_sha256, input_width, "
                "input_height, input_bytes, created_at, updated_at, source) VALUES ('j1', "
                "'video', 'queued', '{}', 'cat.png', 'abc', 1024, 576, 10, 2000, 2000, 'watch')");
            CHECK(ws.orphan_job(r) == std::optional<std::string>("j1"));
            r.job_id = "j1";
            r.place = Place::done;
            ws.put(r);
            CHECK(!ws.orphan_job(r));  // owned now
            auto by = ws.by_job("j1");
            REQUIRE(by);
            CHECK(by->place == Place::done);
            CHECK(ws.in_place("/in", Place::processing).empty());
            ws.erase(r);
            CHECK(!ws.by_job("j1"));
        }
    }
}
