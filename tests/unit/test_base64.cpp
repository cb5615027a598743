#include <doctest/doctest.h>

#include <string>

#include "provider/base64.hpp"

using genq::provider::base64_decode;
using genq::provider::base64_encode;

TEST_SUITE("provider.base64") {
    TEST_CASE("encodes the RFC 4648 test vectors") {
        CHECK(base64_encode("") == "");
        CHECK(base64_encode("f") == "Zg==");
        CHECK(base64_encode("fo") == "Zm8=");
        CHECK(base64_encode("foo") == "Zm9v");
        CHECK(base64_encode("foob") == "Zm9vYg==");
        CHECK(base64_encode("fooba") == "Zm9vYmE=");
        CHECK(base64_encode("foobar") == "Zm9vYmFy");
        CHECK(base64_encode(std::string("\xff\xfe\x00", 3)) == "//4A");
    }

    TEST_CASE("decodes what it encodes, for every byte value and length") {
        std::string bytes;
        for (int i = 0; i < 300; ++i) {
            bytes += static_cast<char>((i * 37 + 11) & 0xFF);
            const auto decoded = base64_decode(base64_encode(bytes));
            REQUIRE(decoded.has_value());
            CHECK(*decoded == bytes);
        }
    }

    TEST_CASE("decodes the RFC 4648 test vectors") {
        CHECK(base64_decode("") == std::string());
        CHECK(base64_decode("Zg==") == std::string("f"));
        CHECK(base64_decode("Zm8=") == std::string("fo"));
        CHECK(base64_decode("Zm9vYmFy") == std::string("foobar"));
    }

    TEST_CASE("refuses anything that is not canonical padded base64") {
        CHECK_FALSE(base64_decode("Zg"));        // padding missing
        CHECK_FALSE(base64_decode("Zg="));       // length not a multiple of 4
        CHECK_FALSE(base64_decode("Zm9v\n"));    // whitespace
        CHECK_FALSE(base64_decode("Zm 9"));      // whitespace inside
        CHECK_FALSE(base64_decode("Zm9-"));      // URL-safe alphabet
        CHECK_FALSE(base64_decode("Zm9_"));
        CHECK_FALSE(base64_decode("Z=9v"));      // padding in the middle
        CHECK_FALSE(base64_decode("Zg==Zm9v"));  // padding before the end
        CHECK_FALSE(base64_decode("===="));
        CHECK_FALSE(base64_decode("A==="));
        CHECK_FALSE(base64_decode("Zh=="));      // non-zero bits under the padding
        CHECK_FALSE(base64_decode("Zm9="));
        CHECK_FALSE(base64_decode(std::string("Zm9\0", 4)));
        CHECK_FALSE(base64_decode("Zm9\xc3"));
    }
}
