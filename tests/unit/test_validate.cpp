#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "provider/utf8.hpp"
#include "provider/validate.hpp"

using namespace genq::provider;
using nlohmann::json;

// Defined in test_image_info.cpp.
namespace genq::test_images {
std::string png(std::uint32_t w, std::uint32_t h, int colour_type = 2, std::string extra = {});
std::string jpeg(std::uint32_t w, std::uint32_t h, unsigned char sof = 0xC0,
                 std::string before = {});
std::string webp_vp8x(std::uint32_t w, std::uint32_t h, bool alpha);
}  // namespace genq::test_images

namespace {

using namespace genq::test_images;

const Operation& op(std::string_view kind) {
    const Operation* o = find_operation(kind);
    REQUIRE(o != nullptr);
    return *o;
}

json valid(std::string_view kind, const json& params) {
    auto r = validate_params(op(kind), params);
    INFO(params.dump());
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return r.value();
}

std::string refusal(std::string_view kind, const json& params) {
    auto r = validate_params(op(kind), params);
    INFO(params.dump());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "invalid_param");
    return r.error().message;
}

std::string image_refusal(std::string_view kind, std::string_view bytes,
                          std::string_view field = "image") {
    auto r = validate_image(op(kind), bytes, field);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "invalid_image");
    return r.error().message;
}

bool image_ok(std::string_view kind, std::string_view bytes) {
    return validate_image(op(kind), bytes).ok();
}

// `bytes` long in total, starting with `header` (the reader only looks at the header).
std::string padded(std::string header, std::size_t bytes) {
    header.resize(bytes, '\0');
    return header;
}

const json kUpscaleBase = {{"prompt", "a cat"}};

}  // namespace

TEST_SUITE("provider.validate") {
    TEST_CASE("video: the three numbers are always sent, with their defaults") {
        for (const json& empty : {json::object(), json()}) {
            const json out = valid("video", empty);
            CHECK(out == json{{"seed", 0}, {"cfg_scale", 1.8}, {"motion_bucket_id", 127}});
            CHECK(out["seed"].is_number_integer());
            CHECK(out["motion_bucket_id"].is_number_integer());
            CHECK(out["cfg_scale"].is_number_float());
        }
        CHECK(valid("video-v2alpha", json::object()).size() == 3);
    }

    TEST_CASE("numbers arrive as JSON numbers or decimal strings and leave as numbers") {
        const json out = valid("video", {{"seed", "42"}, {"cfg_scale", "2.5"},
                                         {"motion_bucket_id", "200"}});
        CHECK(out == json{{"seed", 42}, {"cfg_scale", 2.5}, {"motion_bucket_id", 200}});
        CHECK(out["seed"].is_number_integer());
        CHECK(valid("video", {{"cfg_scale", 3}})["cfg_scale"].is_number_float());
        CHECK(valid("video", {{"motion_bucket_id", 5.0}})["motion_bucket_id"] == 5);
        CHECK(valid("video", {{"motion_bucket_id", "1e2"}})["motion_bucket_id"] == 100);
        CHECK(valid("video", {{"cfg_scale", "-0.0"}})["cfg_scale"] == 0.0);
        CHECK(valid("video", {{"seed", "4294967294"}})["seed"] == 4294967294LL);
        CHECK(valid("video", {{"seed", 4294967294u}})["seed"] == 4294967294LL);
    }

    TEST_CASE("the message names the field, the allowed range and the value") {
        CHECK(refusal("video", {{"cfg_scale", "11"}}) ==
              "cfg_scale: must be a number from 0 to 10 (got \"11\")");
        CHECK(refusal("video", {{"cfg_scale", 10.5}}) ==
              "cfg_scale: must be a number from 0 to 10 (got 10.5)");
        CHECK(refusal("video", {{"seed", -1}}) ==
              "seed: must be an integer from 0 to 4294967294 (got -1)");
        CHECK(refusal("video", {{"motion_bucket_id", 0}}) ==
              "motion_bucket_id: must be an integer from 1 to 255 (got 0)");
    }

    TEST_CASE("range bounds are inclusive") {
        CHECK(valid("video", {{"cfg_scale", 0}})["cfg_scale"] == 0.0);
        CHECK(valid("video", {{"cfg_scale", 10}})["cfg_scale"] == 10.0);
        CHECK(refusal("video", {{"cfg_scale", 10.0001}}).starts_with("cfg_scale:"));
        CHECK(refusal("video", {{"cfg_scale", -0.0001}}).starts_with("cfg_scale:"));
        CHECK(valid("video", {{"motion_bucket_id", 1}})["motion_bucket_id"] == 1);
        CHECK(valid("video", {{"motion_bucket_id", 255}})["motion_bucket_id"] == 255);
        CHECK(refusal("video", {{"motion_bucket_id", 256}}).starts_with("motion_bucket_id:"));
        CHECK(refusal("video", {{"seed", 4294967295LL}}).starts_with("seed:"));
        CHECK(valid("upscale", {{"prompt", "x"}, {"creativity", 0.35}})["creativity"] == 0.35);
        CHECK(refusal("upscale", {{"prompt", "x"}, {"creativity", 0.36}}) ==
              "creativity: must be a number from 0 to 0.35 (got 0.36)");
    }

    TEST_CASE("integers must be integral") {
        CHECK(refusal("video", {{"seed", 1.5}}).starts_with("seed: must be an integer"));
        CHECK(refusal("video", {{"seed", "1.5"}}).starts_with("seed: must be an integer"));
        CHECK(refusal("video", {{"motion_bucket_id", "127.01"}}).starts_with("motion_bucket_id:"));
    }

    TEST_CASE("non-numbers, empty strings, NaN and infinities are refused") {
        const json bad_values[] = {"",   "abc",  " 5",  "5 ",  "0x10", "inf", "nan",   "+5",
                                   "5.", ".5",   "1e",  "--1", "1e999", true,  json::array(),
                                   json::object(),
                                   std::numeric_limits<double>::quiet_NaN(),
                                   std::numeric_limits<double>::infinity(),
                                   -std::numeric_limits<double>::infinity()};
        for (const json& v : bad_values) {
            CAPTURE(v.dump());
            CHECK(refusal("video", {{"cfg_scale", v}}).starts_with("cfg_scale: must be a number"));
        }
    }

    TEST_CASE("unknown fields are refused with the allowed names") {
        CHECK(refusal("video", {{"sead", 1}}) ==
              "sead: unknown field for video (allowed: seed, cfg_scale, motion_bucket_id)");
        const std::string m = refusal("upscale", {{"prompt", "x"}, {"strength", 1}});
        CHECK(m.starts_with("strength: unknown field for upscale"));
        CHECK(m.find("creativity") != std::string::npos);
        CHECK(refusal("video", {{"image", "x"}}).starts_with("image: unknown field"));
    }

    TEST_CASE("params must be an object; an explicit null means absent") {
        CHECK(refusal("video", json::array({1})).starts_with("params: must be a JSON object"));
        CHECK(refusal("video", "seed=1").starts_with("params: must be a JSON object"));
        CHECK(valid("video", {{"seed", nullptr}})["seed"] == 0);
        CHECK(refusal("upscale", {{"prompt", nullptr}}).starts_with("prompt: is required"));
    }

    TEST_CASE("strings: required, lengths in characters, UTF-8, type") {
        CHECK(refusal("upscale", json::object()) ==
              "prompt: is required (a string of 1 to 10000 characters)");
        CHECK(refusal("upscale", {{"prompt", ""}}) ==
              "prompt: must be a string of 1 to 10000 characters (got 0 characters)");
        CHECK(valid("upscale", {{"prompt", std::string(10000, 'a')}})["prompt"] ==
              std::string(10000, 'a'));
        CHECK(refusal("upscale", {{"prompt", std::string(10001, 'a')}}) ==
              "prompt: must be a string of 1 to 10000 characters (got 10001 characters)");
        std::string accents;
        for (int i = 0; i < 10000; ++i) accents += "\xc3\xa9";  // 10000 characters, 20000 bytes
        CHECK(valid("upscale", {{"prompt", accents}})["prompt"] == accents);
        CHECK(refusal("upscale", {{"prompt", 42}}).starts_with("prompt: must be a string"));
        CHECK(refusal("upscale", {{"prompt", "x"}, {"negative_prompt", std::string(10001, 'b')}}) ==
              "negative_prompt: must be a string of at most 10000 characters (got 10001 "
              "characters)");
        CHECK(valid("upscale", {{"prompt", "x"}, {"negative_prompt", ""}})["negative_prompt"] ==
              "");
        for (const char* bad : {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
            CHECK(refusal("upscale", {{"prompt", std::string("ok ") + bad}}) ==
                  "prompt: must be valid UTF-8 text");
        }
    }

    TEST_CASE("choices") {
        CHECK(valid("upscale", {{"prompt", "x"}, {"output_format", "webp"}})["output_format"] ==
              "webp");
        CHECK(refusal("upscale", {{"prompt", "x"}, {"output_format", "gif"}}) ==
              "output_format: must be one of png, jpeg or webp (got \"gif\")");
        CHECK(refusal("upscale", {{"prompt", "x"}, {"output_format", "PNG"}}).starts_with(
            "output_format:"));
        CHECK(refusal("upscale", {{"prompt", "x"}, {"output_format", 1}}).starts_with(
            "output_format:"));
    }

    TEST_CASE("optional fields without always_send stay absent") {
        const json out = valid("upscale", kUpscaleBase);
        CHECK(out == kUpscaleBase);
        const json full = valid("upscale", {{"prompt", "x"}, {"negative_prompt", "y"},
                                            {"seed", "7"}, {"output_format", "jpeg"},
                                            {"creativity", "0.1"}});
        CHECK(full == json{{"prompt", "x"}, {"negative_prompt", "y"}, {"seed", 7},
                           {"output_format", "jpeg"}, {"creativity", 0.1}});
        CHECK(valid("upscale-creative", kUpscaleBase) == kUpscaleBase);
    }

    TEST_CASE("inpaint: mode is required and search needs a search_prompt") {
        CHECK(refusal("inpaint", {{"prompt", "x"}}) ==
              "mode: is required (one of mask or search)");
        CHECK(refusal("inpaint", {{"prompt", "x"}, {"mode", "erase"}}).starts_with("mode:"));
        CHECK(refusal("inpaint", {{"prompt", "x"}, {"mode", "search"}}) ==
              "search_prompt: required when mode is search (a string of at most 10000 "
              "characters)");
        CHECK(valid("inpaint", {{"prompt", "x"}, {"mode", "search"}, {"search_prompt", "dog"}})
                  .size() == 3);
        CHECK(valid("inpaint", {{"prompt", "x"}, {"mode", "mask"}}).size() == 2);
        CHECK(refusal("inpaint", {{"mode", "mask"}}).starts_with("prompt: is required"));
    }

    TEST_CASE("inpaint-v2beta: grow_mask") {
        const json base = {{"prompt", "x"}};
        CHECK(valid("inpaint-v2beta", base) == base);  // grow_mask's default is the provider's
        json p = base;
        p["grow_mask"] = "5";
        CHECK(valid("inpaint-v2beta", p)["grow_mask"] == 5);
        p["grow_mask"] = 0;
        CHECK(valid("inpaint-v2beta", p)["grow_mask"] == 0);
        p["grow_mask"] = 101;
        CHECK(refusal("inpaint-v2beta", p) ==
              "grow_mask: must be an integer from 0 to 100 (got 101)");
        p["grow_mask"] = 2.5;
        CHECK(refusal("inpaint-v2beta", p).starts_with("grow_mask:"));
        CHECK(refusal("inpaint-v2beta", {{"prompt", "x"}, {"mode", "mask"}})
                  .starts_with("mode: unknown field for inpaint-v2beta"));
    }

    TEST_CASE("names the client chose are made safe for the message") {
        const std::string m = refusal("video", {{"bad\nname", 1}});
        CHECK(m.starts_with("\"bad\\nname\": unknown field for video"));
        CHECK(m.find('\n') == std::string::npos);
        const std::string invalid = refusal("video", {{std::string("x\xff"), 1}});
        CHECK(is_valid_utf8(invalid));
        CHECK(invalid.starts_with("\"x\xef\xbf\xbd\": unknown field"));  // U+FFFD
        const std::string long_name = refusal("video", {{std::string(300, 'n'), 1}});
        CHECK(long_name.size() < 200);
    }

    TEST_CASE("a long value is cut short in the message, at a character boundary") {
        std::string accents;
        for (int i = 0; i < 100; ++i) accents += "\xc3\xa9";
        const std::string m = refusal("video", {{"cfg_scale", accents}});
        CHECK(is_valid_utf8(m));
        CHECK(m.ends_with("...)"));
    }

    TEST_CASE("a long value is cut short in the message") {
        const std::string m = refusal("upscale", {{"prompt", "x"}, {"output_format",
                                                                    std::string(500, 'z')}});
        CHECK(m.size() < 200);
        CHECK(m.find("...") != std::string::npos);
    }

    TEST_CASE("image: the video sizes, PNG or JPEG") {
        const std::pair<int, int> sizes[] = {{1024, 576}, {576, 1024}, {768, 768}};
        for (const auto& [w, h] : sizes) {
            CHECK(image_ok("video", png(w, h)));
            CHECK(image_ok("video", jpeg(w, h)));
            CHECK(image_ok("video-v2alpha", jpeg(w, h)));
        }
        const auto info = validate_image(op("video"), png(1024, 576, 6));
        REQUIRE(info.ok());
        CHECK(info->width == 1024);
        CHECK(info->has_alpha);
        CHECK(image_refusal("video", png(800, 600)) ==
              "image: must be 1024x576, 576x1024 or 768x768 pixels (got 800x600)");
        CHECK(image_refusal("video", jpeg(576, 1023)).ends_with("(got 576x1023)"));
    }

    TEST_CASE("image: the format is read from the content") {
        CHECK(image_refusal("video", "GIF89a") ==
              "image: not a PNG or JPEG image (unrecognised content)");
        CHECK(image_refusal("video", "") ==
              "image: not a PNG or JPEG image (unrecognised content)");
        CHECK(image_refusal("video", webp_vp8x(1024, 576, false)) ==
              "image: must be a PNG or JPEG image (got WebP)");
        CHECK(image_refusal("upscale", "plain text") ==
              "image: not a PNG, JPEG or WebP image (unrecognised content)");
        CHECK(image_ok("upscale", webp_vp8x(512, 512, true)));
    }

    TEST_CASE("image: the size limit in bytes") {
        constexpr std::size_t kMiB = 1024 * 1024;
        CHECK(image_refusal("video", padded(png(1024, 576), 12 * kMiB)) ==
              "image: 12.0 MiB is larger than the 10 MiB limit");
        CHECK(image_ok("video", padded(png(1024, 576), 10 * kMiB)));
        CHECK(image_refusal("video", padded(png(1024, 576), 10 * kMiB + 1)) ==
              "image: 10.1 MiB is larger than the 10 MiB limit");
        CHECK(image_refusal("upscale", padded(png(64, 64), 10 * kMiB + 1), "mask") ==
              "mask: 10.1 MiB is larger than the 10 MiB limit");
    }

    TEST_CASE("image: sides and pixel counts") {
        CHECK(image_ok("upscale", png(64, 64)));
        CHECK(image_ok("upscale", png(1024, 1024)));
        CHECK(image_refusal("upscale", png(63, 128)) ==
              "image: each side must be at least 64 pixels (got 63x128)");
        CHECK(image_refusal("upscale", png(1025, 1024)) ==
              "image: must have 4096 to 1048576 pixels in total (got 1025x1024 = 1049600)");
        CHECK(image_ok("upscale-creative", jpeg(2048, 512)));
        CHECK(image_ok("inpaint", png(3072, 3072)));
        CHECK(image_refusal("inpaint", png(3073, 3072)).starts_with(
            "image: must have 4096 to 9437184 pixels"));
        CHECK(image_ok("inpaint", png(32, 128)));  // no side minimum for the v2alpha inpaint
        CHECK(image_refusal("inpaint", png(32, 127)).starts_with("image: must have 4096"));
        CHECK(image_refusal("inpaint-v2beta", png(32, 128)).starts_with("image: each side"));
        CHECK(image_refusal("inpaint-v2beta", png(32, 128), "mask").starts_with("mask: each side"));
    }
}

TEST_SUITE("provider.validate.utf8") {
    TEST_CASE("well-formed UTF-8") {
        CHECK(is_valid_utf8(""));
        CHECK(is_valid_utf8("plain ascii"));
        CHECK(is_valid_utf8("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"));
        CHECK(is_valid_utf8(std::string("nul\0inside", 11)));
        CHECK_FALSE(is_valid_utf8("\x80"));              // lone continuation
        CHECK_FALSE(is_valid_utf8("\xc3"));              // truncated
        CHECK_FALSE(is_valid_utf8("\xe2\x82"));
        CHECK_FALSE(is_valid_utf8("\xc0\x80"));          // overlong
        CHECK_FALSE(is_valid_utf8("\xe0\x80\xaf"));
        CHECK_FALSE(is_valid_utf8("\xed\xb0\x80"));      // surrogate
        CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
        CHECK_FALSE(is_valid_utf8("\xf8\x88\x80\x80\x80"));
        CHECK_FALSE(is_valid_utf8("\xc3\x28"));
    }

    TEST_CASE("length in characters and truncation at character boundaries") {
        CHECK(utf8_length("") == 0);
        CHECK(utf8_length("abc") == 3);
        CHECK(utf8_length("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") == 3);
        CHECK(truncate_utf8("abc", 3) == "abc");
        CHECK(truncate_utf8("abcd", 3) == "abc...");
        CHECK(truncate_utf8("a\xe2\x82\xac", 2) == "a...");
        CHECK(truncate_utf8("a\xe2\x82\xac", 3) == "a...");
        CHECK(truncate_utf8("a\xe2\x82\xac", 4) == "a\xe2\x82\xac");
        CHECK(truncate_utf8("\xe2\x82\xac", 1) == "...");
    }
}
