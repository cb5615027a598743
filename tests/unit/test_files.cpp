// write_file_durably with a bare file name (genqctl output ID -o cat.mp4): the working directory
// is the file's directory (it once tried to fsync "" and failed).
#include <doctest/doctest.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/files.hpp"
#include "temp_dir.hpp"

TEST_SUITE("files") {
    TEST_CASE("write_file_durably writes a bare file name into the working directory") {
        genq::test::TempDir tmp("genq-files");
        const std::string& dir = tmp.path;
        char before[PATH_MAX];
        REQUIRE(::getcwd(before, sizeof before));
        REQUIRE(::chdir(dir.c_str()) == 0);
        auto st = genq::write_file_durably("cat.mp4", "video bytes");
        REQUIRE(::chdir(before) == 0);
        CHECK(st.ok());
        std::ifstream in(dir + "/cat.mp4");
        std::stringstream text;
        text << in.rdbuf();
        CHECK(text.str() == "video bytes");
    }
}
