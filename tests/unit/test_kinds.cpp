// Issue 6: the result file's extension from what arrived, inpaint's mask source, and the
// [api] result_form key.
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "provider/operation.hpp"
#include "provider/validate.hpp"

using namespace genq::provider;
using nlohmann::json;

namespace {

const Operation& kind(std::string_view name) {
    const Operation* o = find_operation(name);
    REQUIRE(o != nullptr);
    return *o;
}

const std::string kPng("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
const std::string kJpeg("\xff\xd8\xff\xe0\0\x10JFIF", 10);
const std::string kWebp("RIFF\x10\0\0\0WEBPVP8 ", 16);
const std::string kMp4("\0\0\0\x20" "ftypisom", 12);

ImageInfo image(bool alpha) {
    ImageInfo info{ImageFormat::png, 256, 256, alpha};
    return info;
}

genq::ConfigLoad parse(const std::string& text) {
    return genq::parse_config(text, "/etc/genq/genq.toml", {{"HOME", "/home/u"}});
}

}  // namespace

TEST_SUITE("provider.kinds") {
    TEST_CASE("the extension follows the bytes first") {
        const json none = json::object();
        // A proxy that labels everything octet-stream, or lies, still gets the right name.
        CHECK(result_file_ext(kind("upscale"), none, "application/octet-stream", kJpeg) == "jpg");
        CHECK(result_file_ext(kind("upscale"), none, "image/png", kWebp) == "webp");
        CHECK(result_file_ext(kind("inpaint"), none, "", kPng) == "png");
        CHECK(result_file_ext(kind("video"), none, "video/mp4", kMp4) == "mp4");
    }

    TEST_CASE("then the content type, including the JSON form's type= parameter") {
        const json none = json::object();
        CHECK(result_file_ext(kind("upscale"), none, "image/jpeg", "") == "jpg");
        CHECK(result_file_ext(kind("upscale"), none, "application/json; type=image/webp", "?") ==
              "webp");
        CHECK(result_file_ext(kind("video"), none, "application/json; type=video/mp4", "") ==
              "mp4");
    }

    TEST_CASE("then what was asked for; jpeg is named jpg") {
        CHECK(result_file_ext(kind("upscale"), {{"output_format", "jpeg"}}, "", "") == "jpg");
        CHECK(result_file_ext(kind("inpaint-v2beta"), {{"output_format", "webp"}}, "", "") ==
              "webp");
        CHECK(result_file_ext(kind("upscale-creative"), json::object(), "", "") == "png");
        CHECK(result_file_ext(kind("video-v2alpha"), json::object(), "", "") == "mp4");
    }

    TEST_CASE("a short or unknown head falls through to the headers") {
        CHECK(result_file_ext(kind("upscale"), json::object(), "image/webp", "RIFF") == "webp");
        CHECK(result_file_ext(kind("upscale"), json::object(), "", "\x89PN") == "png");
    }

    TEST_CASE("inpainting without a mask needs an alpha channel") {
        const json mask_mode{{"mode", "mask"}, {"prompt", "p"}};
        const json search_mode{{"mode", "search"}, {"search_prompt", "dog"}, {"prompt", "p"}};
        auto refused = validate_mask_source(kind("inpaint"), mask_mode, image(false), false);
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error().code == "invalid_image");
        CHECK(refused.error().message.find("image: has no alpha channel") == 0);
        CHECK(validate_mask_source(kind("inpaint"), mask_mode, image(true), false).ok());
        CHECK(validate_mask_source(kind("inpaint"), mask_mode, image(false), true).ok());
        CHECK(validate_mask_source(kind("inpaint"), search_mode, image(false), false).ok());
        CHECK_FALSE(validate_mask_source(kind("inpaint-v2beta"), {{"prompt", "p"}}, image(false),
                                         false)
                        .ok());
        CHECK(validate_mask_source(kind("inpaint-v2beta"), {{"prompt", "p"}}, image(true), false)
                  .ok());
        // Kinds without masks do not care.
        CHECK(validate_mask_source(kind("upscale"), {{"prompt", "p"}}, image(false), false).ok());
        CHECK(validate_mask_source(kind("video"), json::object(), image(false), false).ok());
    }
}

TEST_SUITE("core.config") {
    TEST_CASE("api.result_form: bytes by default, json on request, nothing else") {
        CHECK(parse("").config.api.result_form == "bytes");
        auto json_form = parse("[api]\nresult_form = \"json\"\n");
        CHECK(json_form.problems.empty());
        CHECK(json_form.config.api.result_form == "json");
        auto bad = parse("[api]\nresult_form = \"xml\"\n");
        REQUIRE(bad.problems.size() == 1);
        CHECK(bad.problems[0].key == "api.result_form");
        CHECK(bad.problems[0].reason.find("bytes|json") != std::string::npos);
        CHECK(parse("[api]\nresult_form = 1\n").problems.size() == 1);
    }
}
