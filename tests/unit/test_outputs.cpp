// Outputs::move_new, the part of placing a result that runs off the loop: the metadata and the
// result appear together under the reserved name, or nothing of ours stays when the name was
// taken meanwhile (the caller then reserves another).
#include <doctest/doctest.h>
#include <filesystem>

#include "app/outputs.hpp"
#include "core/files.hpp"
#include "temp_dir.hpp"

namespace genq::test {
namespace {

namespace fs = std::filesystem;
using app::Outputs;

TEST_SUITE("app.outputs") {
    TEST_CASE("a free name gets the result and its metadata; the part file is gone") {
        TempDir dir;
        std::string part = dir.write(".genq-j1.part", "video bytes");
        std::string out = dir.file("clip.mp4");
        auto st = Outputs::move_new(dir.path, part, out, "{\"id\": \"j1\"}\n");
        REQUIRE(st);
        CHECK(*read_file(out, 1024) == "video bytes");
        CHECK(*read_file(out + ".json", 1024) == "{\"id\": \"j1\"}\n");
        CHECK_FALSE(fs::exists(part));
    }

    TEST_CASE("a result file that took the name meanwhile: exists, ours removed, theirs kept") {
        TempDir dir;
        std::string part = dir.write(".genq-j1.part", "ours");
        std::string out = dir.write("clip.mp4", "theirs");
        auto st = Outputs::move_new(dir.path, part, out, "{}\n");
        REQUIRE_FALSE(st);
        CHECK(st.error().code == "exists");
        CHECK(*read_file(out, 1024) == "theirs");
        CHECK_FALSE(fs::exists(out + ".json"));  // the metadata created for ours went again
        CHECK(fs::exists(part));                 // the result waits for another name
    }

    TEST_CASE("a metadata file that took the name: exists, nothing of theirs touched") {
        TempDir dir;
        std::string part = dir.write(".genq-j1.part", "ours");
        std::string out = dir.file("clip.mp4");
        dir.write("clip.mp4.json", "their metadata");
        auto st = Outputs::move_new(dir.path, part, out, "{}\n");
        REQUIRE_FALSE(st);
        CHECK(st.error().code == "exists");
        CHECK(*read_file(out + ".json", 1024) == "their metadata");
        CHECK_FALSE(fs::exists(out));
        CHECK(fs::exists(part));
    }

    TEST_CASE("a part file that is not there: an error naming it, no metadata left behind") {
        TempDir dir;
        std::string out = dir.file("clip.mp4");
        auto st = Outputs::move_new(dir.path, dir.file(".genq-j1.part"), out, "{}\n");
        REQUIRE_FALSE(st);
        CHECK(st.error().code != "exists");
        CHECK_FALSE(fs::exists(out + ".json"));
    }
}

}  // namespace
}  // namespace genq::test
