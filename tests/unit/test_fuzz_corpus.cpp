// Replays the fuzz corpus (tests/fuzz/corpus/<target>/*: seeds, coverage finds and the inputs of
// every crash fixed so far) through the same target bodies scripts/fuzz.sh fuzzes. CI runs this,
// not the fuzzer. A broken invariant aborts the test binary (as it would crash the fuzzer).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "../fuzz/targets.hpp"

namespace fs = std::filesystem;

namespace {

fs::path corpus_root() {
    if (const char* src = std::getenv("GENQ_SOURCE_DIR"); src && *src)
        return fs::path(src) / "tests" / "fuzz" / "corpus";
    return fs::path(GENQ_TESTS_DIR) / "fuzz" / "corpus";
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int replay(const std::string& target, void (*body)(std::string_view)) {
    const fs::path dir = corpus_root() / target;
    REQUIRE_MESSAGE(fs::is_directory(dir), "no corpus at " << dir.string());
    int n = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (!entry.is_regular_file()) continue;
        INFO("input " << entry.path().string());
        body(slurp(entry.path()));
        ++n;
    }
    return n;
}

}  // namespace

TEST_CASE("fuzz corpus: multipart parser") {
    CHECK(replay("multipart", genq::fuzz::multipart) > 0);
}

TEST_CASE("fuzz corpus: image header reader") {
    CHECK(replay("image_info", genq::fuzz::image_info) > 0);
}

TEST_CASE("fuzz corpus: image decoders and fit") {
    CHECK(replay("image_decode", genq::fuzz::image_decode) > 0);
}

TEST_CASE("fuzz corpus: config loader") {
    CHECK(replay("config", genq::fuzz::config) > 0);
}

TEST_CASE("fuzz corpus: provider response parser") {
    CHECK(replay("response", genq::fuzz::response) > 0);
}
