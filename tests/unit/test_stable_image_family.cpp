// Issue 15: the rest of the stable-image family as rows of the operation table, and the local
// validation of every new kind (validate_job): good jobs pass with their params normalised, bad
// ones are refused with a message naming the field and what is allowed.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "provider/operation.hpp"
#include "provider/validate.hpp"

using namespace genq::provider;
using nlohmann::json;

namespace genq::test_images {
std::string png(std::uint32_t w, std::uint32_t h, int colour_type = 2, std::string extra = {});
std::string jpeg(std::uint32_t w, std::uint32_t h, unsigned char sof = 0xC0,
                 std::string before = {});
std::string webp_vp8x(std::uint32_t w, std::uint32_t h, bool alpha);
}  // namespace genq::test_images

namespace {

using genq::test_images::jpeg;
using genq::test_images::png;
using genq::test_images::webp_vp8x;

const Operation& op(std::string_view kind) {
    const Operation* o = find_operation(kind);
    REQUIRE_MESSAGE(o != nullptr, kind);
    return *o;
}

// A job's images (field, bytes); the NamedInputs are made when needed, pointing at these.
struct Job {
    std::vector<std::pair<std::string, std::string>> parts;
    Job& with(std::string field, std::string data) {
        parts.emplace_back(std::move(field), std::move(data));
        return *this;
    }
    std::vector<NamedInput> inputs() const {
        std::vector<NamedInput> out;
        for (const auto& [field, data] : parts) out.push_back({field, "", data});
        return out;
    }
};

Job image(std::string data) {
    return Job().with("image", std::move(data));
}
Job none() {
    return Job();
}

json accepted(std::string_view kind, const json& params, const Job& job) {
    auto r = validate_job(op(kind), params, job.inputs());
    INFO(kind, " ", params.dump());
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return r.value();
}

std::string refused(std::string_view kind, const json& params, const Job& job,
                    std::string_view code = "") {
    auto r = validate_job(op(kind), params, job.inputs());
    INFO(kind, " ", params.dump());
    REQUIRE_FALSE(r.ok());
    if (!code.empty()) CHECK(r.error().code == code);
    return r.error().message;
}

bool starts(const std::string& s, std::string_view prefix) {
    return s.rfind(prefix, 0) == 0;
}

const std::string kRgb = png(512, 512);
const std::string kRgba = png(512, 512, 6);

}  // namespace

TEST_SUITE("provider.family") {
    TEST_CASE("every kind of SPEC section 3 is a row with its route, mode and price") {
        struct Row {
            const char* kind;
            const char* path;
            Mode mode;
            int price;
        };
        const Row rows[] = {
            {"ultra", "/v2beta/stable-image/generate/ultra", Mode::sync, 8},
            {"core", "/v2beta/stable-image/generate/core", Mode::sync, 3},
            {"sd3", "/v2beta/stable-image/generate/sd3", Mode::sync, 7},
            {"upscale-conservative", "/v2beta/stable-image/upscale/conservative", Mode::sync, 40},
            {"upscale-fast", "/v2beta/stable-image/upscale/fast", Mode::sync, 2},
            {"erase", "/v2beta/stable-image/edit/erase", Mode::sync, 5},
            {"outpaint", "/v2beta/stable-image/edit/outpaint", Mode::sync, 4},
            {"search-and-replace", "/v2beta/stable-image/edit/search-and-replace", Mode::sync, 5},
            {"search-and-recolor", "/v2beta/stable-image/edit/search-and-recolor", Mode::sync, 5},
            {"remove-background", "/v2beta/stable-image/edit/remove-background", Mode::sync, 5},
            {"relight", "/v2beta/stable-image/edit/replace-background-and-relight", Mode::async, 8},
            {"sketch", "/v2beta/stable-image/control/sketch", Mode::sync, 5},
            {"structure", "/v2beta/stable-image/control/structure", Mode::sync, 5},
            {"style", "/v2beta/stable-image/control/style", Mode::sync, 5},
        };
        for (const Row& r : rows) {
            CAPTURE(r.kind);
            const Operation& o = op(r.kind);
            CHECK(o.submit_path == r.path);
            CHECK(o.mode == r.mode);
            CHECK(o.price_credits == r.price);
            CHECK(o.accept == "image/*");
            CHECK(o.json_result_field == "image");
            CHECK(o.result_ext == "png");
            CHECK(o.result_prefix == (r.mode == Mode::async ? "/v2beta/results/" : ""));
            CHECK(operation_names().find(r.kind) != std::string::npos);
        }
    }

    TEST_CASE("prompt-only kinds: ultra and sd3 take an optional image, core none") {
        CHECK(op("ultra").image_use == ImageUse::optional);
        CHECK(op("sd3").image_use == ImageUse::optional);
        CHECK(op("core").image_use == ImageUse::none);
        CHECK(prompt_only_allowed(op("core")));
        CHECK_FALSE(prompt_only_allowed(op("video")));
        CHECK_FALSE(prompt_only_allowed(op("erase")));
        CHECK(op("relight").image_field == "subject_image");
        CHECK(op("erase").image_field == "image");
    }

    TEST_CASE("sd3's price follows its model; the row's whole-credit price covers the dearest") {
        const Operation& sd3 = op("sd3");
        CHECK(price_for(sd3, json::object()) == 6.5);  // default model sd3.5-large
        CHECK(price_for(sd3, {{"model", "sd3.5-large-turbo"}}) == 4);
        CHECK(price_for(sd3, {{"model", "sd3.5-medium"}}) == 3.5);
        CHECK(price_for(sd3, {{"model", "sd3-large"}}) == 6.5);
        for (const auto& [model, price] : sd3.price_by.prices) CHECK(price <= sd3.price_credits);
        CHECK(price_for(op("ultra"), json::object()) == 8);
        CHECK(price_for(op("video"), json::object()) == 20);
    }

    TEST_CASE("core: a prompt alone; an image, a missing prompt or a bad choice refused") {
        json p = accepted("core",
                          {{"prompt", "a lighthouse"},
                           {"aspect_ratio", "21:9"},
                           {"style_preset", "analog-film"},
                           {"output_format", "webp"}},
                          none());
        CHECK(p["aspect_ratio"] == "21:9");
        CHECK(starts(refused("core", {{"prompt", "x"}}, image(kRgb), "invalid_image"),
                     "image: kind \"core\" takes no image"));
        CHECK(starts(refused("core", json::object(), none()), "prompt: is required"));
        CHECK(starts(refused("core", {{"prompt", "x"}, {"aspect_ratio", "4:3"}}, none()),
                     "aspect_ratio: must be one of 16:9, 1:1, 21:9"));
        CHECK(starts(refused("core", {{"prompt", "x"}, {"style_preset", "noir"}}, none()),
                     "style_preset: must be one of 3d-model"));
        CHECK(starts(refused("core", {{"prompt", "x"}, {"strength", 0.5}}, none()),
                     "strength: unknown field for core"));
    }

    TEST_CASE("ultra: text-to-image, or image-to-image with strength") {
        accepted("ultra", {{"prompt", "a fox"}, {"aspect_ratio", "9:16"}}, none());
        accepted("ultra", {{"prompt", "a fox"}, {"strength", "0.4"}}, image(kRgb));
        CHECK(refused("ultra", {{"prompt", "a fox"}}, image(kRgb), "invalid_param") ==
              "strength: required when an image is given (a number from 0 to 1)");
        CHECK(starts(refused("ultra", {{"prompt", "a fox"}, {"strength", 0.4}}, none()),
                     "strength: only with an image"));
        CHECK(starts(
            refused("ultra", {{"prompt", "a fox"}, {"strength", 0.4}, {"aspect_ratio", "1:1"}},
                    image(kRgb)),
            "aspect_ratio: only for text-to-image"));
        CHECK(starts(refused("ultra", {{"prompt", "a fox"}, {"strength", 1.5}}, image(kRgb)),
                     "strength: must be a number from 0 to 1"));
        CHECK(starts(refused("ultra", {{"prompt", "a fox"}, {"strength", 0.5}}, image(png(50, 50))),
                     "image: each side must be at least 64 pixels"));
    }

    TEST_CASE("sd3: mode follows the image; model and output format are its own") {
        json t2i = accepted("sd3", {{"prompt", "p"}, {"model", "sd3.5-medium"}}, none());
        CHECK_FALSE(t2i.contains("mode"));
        json i2i = accepted("sd3", {{"prompt", "p"}, {"strength", 0.6}}, image(kRgb));
        CHECK(i2i["mode"] == "image-to-image");  // filled in from the image
        CHECK(starts(
            refused("sd3", {{"prompt", "p"}, {"mode", "image-to-image"}}, none(), "invalid_image"),
            "image: required when mode is image-to-image"));
        CHECK(starts(refused("sd3", {{"prompt", "p"}, {"mode", "text-to-image"}, {"strength", 0.6}},
                             image(kRgb)),
                     "mode: must be image-to-image when an image is given"));
        CHECK(starts(refused("sd3", {{"prompt", "p"}, {"output_format", "webp"}}, none()),
                     "output_format: must be one of png or jpeg"));
        CHECK(starts(refused("sd3", {{"prompt", "p"}, {"model", "sd2"}}, none()),
                     "model: must be one of sd3.5-large, sd3.5-large-turbo"));
        CHECK(starts(refused("sd3", {{"prompt", "p"}, {"cfg_scale", 0.5}}, none()),
                     "cfg_scale: must be a number from 1 to 10"));
    }

    TEST_CASE("upscale-conservative: prompt, creativity 0.2..0.5, the edit image limits") {
        json p = accepted("upscale-conservative", {{"prompt", "sharp"}, {"creativity", "0.2"}},
                          image(jpeg(1000, 800)));
        CHECK(p["creativity"] == 0.2);
        CHECK(starts(
            refused("upscale-conservative", {{"prompt", "p"}, {"creativity", 0.1}}, image(kRgb)),
            "creativity: must be a number from 0.2 to 0.5"));
        CHECK(starts(refused("upscale-conservative", json::object(), image(kRgb)),
                     "prompt: is required"));
        CHECK(starts(refused("upscale-conservative", {{"prompt", "p"}}, image(png(1000, 300)),
                             "invalid_image"),
                     "image: aspect ratio must be between 1:2.5 and 2.5:1 (got 1000x300)"));
        accepted("upscale-conservative", {{"prompt", "p"}}, image(png(1000, 400)));  // 2.5:1
        CHECK(starts(refused("upscale-conservative", {{"prompt", "p"}}, image(png(4000, 3000))),
                     "image: must have 4096 to 9437184 pixels"));
    }

    TEST_CASE("upscale-fast: small inputs only, output_format the only param") {
        accepted("upscale-fast", json::object(), image(png(32, 32)));
        accepted("upscale-fast", {{"output_format", "jpeg"}}, image(webp_vp8x(1024, 1024, false)));
        CHECK(refused("upscale-fast", json::object(), image(png(1600, 400))) ==
              "image: each side must be 32 to 1536 pixels (got 1600x400)");
        CHECK(starts(refused("upscale-fast", json::object(), image(png(1200, 1200))),
                     "image: must have 1024 to 1048576 pixels"));
        CHECK(starts(refused("upscale-fast", json::object(), image(png(31, 64))),
                     "image: each side must be 32 to 1536"));
        CHECK(starts(refused("upscale-fast", {{"prompt", "p"}}, image(kRgb)),
                     "prompt: unknown field for upscale-fast"));
    }

    TEST_CASE("erase: a mask or the image's alpha; grow_mask 0..20") {
        accepted("erase", json::object(), image(kRgba));
        accepted("erase", {{"grow_mask", 20}}, image(kRgb).with("mask", png(512, 512, 0)));
        CHECK(starts(refused("erase", json::object(), image(kRgb), "invalid_image"),
                     "image: has no alpha channel and no mask was given"));
        CHECK(refused("erase", json::object(), image(kRgb)).find("the area to erase") !=
              std::string::npos);
        CHECK(starts(refused("erase", {{"grow_mask", 21}}, image(kRgba)),
                     "grow_mask: must be an integer from 0 to 20"));
        CHECK(starts(refused("erase", json::object(), image(kRgba).with("mask", png(50, 50))),
                     "mask: each side must be at least 64"));
    }

    TEST_CASE("outpaint: 0..2000 per side, at least one side") {
        json p =
            accepted("outpaint", {{"left", "200"}, {"down", 50}, {"creativity", 0.9}}, image(kRgb));
        CHECK(p["left"] == 200);
        CHECK(refused("outpaint", json::object(), image(kRgb)) ==
              "left, right, up or down: at least one must be greater than 0");
        CHECK(starts(refused("outpaint", {{"left", 0}, {"up", 0}}, image(kRgb)),
                     "left, right, up or down: at least one"));
        CHECK(starts(refused("outpaint", {{"right", 2001}}, image(kRgb)),
                     "right: must be an integer from 0 to 2000"));
        CHECK(starts(refused("outpaint", {{"up", 10}, {"creativity", 1.1}}, image(kRgb)),
                     "creativity: must be a number from 0 to 1"));
        accepted("outpaint", {{"up", 10}, {"prompt", "more sky"}}, image(kRgb));
    }

    TEST_CASE("search-and-replace and search-and-recolor: prompt plus what to find") {
        accepted("search-and-replace", {{"prompt", "a cat"}, {"search_prompt", "the dog"}},
                 image(kRgb));
        CHECK(starts(refused("search-and-replace", {{"prompt", "a cat"}}, image(kRgb)),
                     "search_prompt: is required"));
        accepted("search-and-recolor",
                 {{"prompt", "red"}, {"select_prompt", "the car"}, {"grow_mask", 0}}, image(kRgb));
        CHECK(starts(refused("search-and-recolor", {{"prompt", "red"}}, image(kRgb)),
                     "select_prompt: is required"));
        CHECK(starts(
            refused("search-and-recolor",
                    {{"prompt", "red"}, {"select_prompt", "car"}, {"grow_mask", 30}}, image(kRgb)),
            "grow_mask: must be an integer from 0 to 20"));
        CHECK(starts(refused("search-and-replace", {{"prompt", "a"}, {"search_prompt", "b"}},
                             image(kRgb).with("mask", kRgb)),
                     "mask: kind \"search-and-replace\" takes no mask"));
    }

    TEST_CASE("remove-background: png or webp out, at most 4,194,304 pixels in") {
        accepted("remove-background", {{"output_format", "webp"}}, image(png(2048, 2048)));
        CHECK(starts(refused("remove-background", {{"output_format", "jpeg"}}, image(kRgb)),
                     "output_format: must be one of png or webp"));
        CHECK(starts(refused("remove-background", json::object(), image(png(2049, 2048))),
                     "image: must have 4096 to 4194304 pixels"));
        CHECK(starts(refused("remove-background", json::object(), none(), "invalid_image"),
                     "image: missing"));
    }

    TEST_CASE("relight: the subject image, a background prompt or reference, lighting") {
        accepted("relight", {{"background_prompt", "a beach"}}, image(kRgb));
        accepted("relight", {{"light_source_direction", "above"}, {"light_source_strength", 1}},
                 Job().with("subject_image", kRgb).with("background_reference", png(256, 256)));
        CHECK(refused("relight", json::object(), image(kRgb)) ==
              "background_prompt or background_reference: at least one must be given");
        CHECK(starts(
            refused("relight", {{"background_prompt", "b"}, {"light_source_direction", "behind"}},
                    image(kRgb)),
            "light_source_direction: must be one of left, right, above or below"));
        CHECK(starts(
            refused("relight", {{"background_prompt", "b"}, {"preserve_original_subject", 2}},
                    image(kRgb)),
            "preserve_original_subject: must be a number from 0 to 1"));
        CHECK(starts(
            refused("relight", {{"background_prompt", "b"}, {"keep_original_background", "yes"}},
                    image(kRgb)),
            "keep_original_background: must be one of true or false"));
        CHECK(starts(refused("relight", {{"background_prompt", "b"}}, none()),
                     "subject_image: missing"));
        CHECK(starts(refused("relight", {{"background_prompt", "b"}},
                             image(kRgb).with("light_reference", png(40, 40))),
                     "light_reference: each side must be at least 64"));
        CHECK(starts(
            refused("relight", {{"background_prompt", "b"}}, image(kRgb).with("style_image", kRgb)),
            "style_image: kind \"relight\" takes no such image (images allowed: "
            "subject_image, background_reference, light_reference)"));
        CHECK(starts(refused("relight", {{"background_prompt", "b"}},
                             image(kRgb).with("subject_image", kRgb)),
                     "subject_image: given twice"));
    }

    TEST_CASE("sketch and structure: prompt and control_strength 0..1; style: fidelity") {
        for (const char* kind : {"sketch", "structure"}) {
            CAPTURE(kind);
            json p = accepted(kind, {{"prompt", "a castle"}}, image(kRgb));
            CHECK_FALSE(p.contains("control_strength"));  // provider default 0.7
            accepted(kind, {{"prompt", "a castle"}, {"control_strength", "0"}}, image(kRgb));
            CHECK(starts(refused(kind, {{"prompt", "a"}, {"control_strength", 1.01}}, image(kRgb)),
                         "control_strength: must be a number from 0 to 1"));
            CHECK(starts(refused(kind, json::object(), image(kRgb)), "prompt: is required"));
        }
        accepted("style", {{"prompt", "a castle"}, {"fidelity", 0.9}, {"aspect_ratio", "16:9"}},
                 image(kRgb));
        CHECK(starts(refused("style", {{"prompt", "a"}, {"fidelity", -0.1}}, image(kRgb)),
                     "fidelity: must be a number from 0 to 1"));
        CHECK(starts(refused("style", {{"prompt", "a"}}, image(png(5000, 2000))),
                     "image: must have 4096 to 9437184 pixels"));
    }

    TEST_CASE("the existing kinds keep their messages through validate_job") {
        CHECK(refused("video", json::object(), none()) == "image: missing (a file is required)");
        CHECK(refused("video", json::object(), image(png(1024, 576)).with("mask", kRgb)) ==
              "mask: kind \"video\" takes no mask");
        json v = accepted("video", json::object(), image(png(1024, 576)));
        CHECK(v["motion_bucket_id"] == 127);
        CHECK(starts(refused("inpaint", {{"mode", "mask"}, {"prompt", "p"}}, image(kRgb)),
                     "image: has no alpha channel"));
    }
}
