// build_submit_body (issue 15): the multipart body of any row, read back with genq's own
// bounded parser: field names the provider expects, content types from the bytes, params as text.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "provider/multipart.hpp"
#include "provider/submit_request.hpp"

using namespace genq::provider;
using nlohmann::json;

namespace genq::test_images {
std::string png(std::uint32_t w, std::uint32_t h, int colour_type = 2, std::string extra = {});
std::string jpeg(std::uint32_t w, std::uint32_t h, unsigned char sof = 0xC0,
                 std::string before = {});
}  // namespace genq::test_images

namespace {

using genq::test_images::jpeg;
using genq::test_images::png;

struct Parsed {
    std::string body;  // the parts point into it
    std::vector<MultipartPart> parts;
    const MultipartPart* find(std::string_view name) const {
        for (const auto& p : parts)
            if (p.name == name) return &p;
        return nullptr;
    }
};

Parsed build(std::string_view kind, const json& params, const std::vector<NamedInput>& inputs) {
    const Operation* op = find_operation(kind);
    REQUIRE(op != nullptr);
    SubmitBody b = build_submit_body(*op, params, inputs);
    CHECK(b.content_type.rfind("multipart/form-data; boundary=", 0) == 0);
    Parsed out;
    out.body = std::move(b.body);
    auto parts = parse_multipart(b.content_type, out.body);
    REQUIRE_MESSAGE(parts.ok(), (parts.ok() ? "" : parts.error().message));
    out.parts = std::move(*parts);
    return out;
}

}  // namespace

TEST_SUITE("provider.submit_body") {
    TEST_CASE("params as text: integers, shortest floats, strings, booleans") {
        CHECK(param_text(json(127)) == "127");
        CHECK(param_text(json(4294967294ULL)) == "4294967294");
        CHECK(param_text(json(1.8)) == "1.8");
        CHECK(param_text(json(0.35)) == "0.35");
        CHECK(param_text(json("a cat")) == "a cat");
        CHECK(param_text(json(true)) == "true");
    }

    TEST_CASE("video: the image under `image` and all three numbers") {
        const std::string img = png(1024, 576);
        Parsed p = build("video", {{"seed", 0}, {"cfg_scale", 1.8}, {"motion_bucket_id", 127}},
                         {{"image", "cat.png", img}});
        REQUIRE(p.parts.size() == 4);
        const auto* image = p.find("image");
        REQUIRE(image);
        CHECK(image->filename == "cat.png");
        CHECK(image->content_type == "image/png");
        CHECK(image->data == img);
        CHECK(p.find("cfg_scale")->data == "1.8");
        CHECK(p.find("motion_bucket_id")->data == "127");
        CHECK(p.find("seed")->data == "0");
    }

    TEST_CASE("relight: the main image goes as subject_image, extras under their names") {
        const std::string subject = jpeg(640, 480), background = png(300, 200);
        Parsed p = build("relight",
                         {{"background_prompt", "a beach at dusk"}, {"light_source_strength", 0.3}},
                         {{"image", "me.jpg", subject}, {"background_reference", "", background}});
        CHECK_FALSE(p.find("image"));
        const auto* s = p.find("subject_image");
        REQUIRE(s);
        CHECK(s->content_type == "image/jpeg");
        CHECK(s->filename == "me.jpg");
        CHECK(s->data == subject);
        const auto* b = p.find("background_reference");
        REQUIRE(b);
        CHECK(b->filename == "background_reference");  // no name given: the field's
        CHECK(b->content_type == "image/png");
        CHECK(p.find("background_prompt")->data == "a beach at dusk");
        CHECK(p.find("light_source_strength")->data == "0.3");
    }

    TEST_CASE("a prompt-only job has no file part at all") {
        Parsed p = build("core", {{"prompt", "a lighthouse"}, {"aspect_ratio", "16:9"}}, {});
        REQUIRE(p.parts.size() == 2);
        for (const auto& part : p.parts) CHECK(part.filename.empty());
        CHECK(p.find("prompt")->data == "a lighthouse");
        CHECK(p.find("aspect_ratio")->data == "16:9");
    }

    TEST_CASE("mask and outpaint's numbers; null params are left out") {
        const std::string img = png(256, 256), mask = png(256, 256, 0);
        Parsed e = build("erase", {{"grow_mask", 5}, {"seed", nullptr}},
                         {{"image", "a.png", img}, {"mask", "mask", mask}});
        CHECK(e.find("mask")->data == mask);
        CHECK(e.find("image")->data == img);
        CHECK_FALSE(e.find("seed"));
        Parsed o = build("outpaint", {{"left", 200}, {"down", 64}}, {{"image", "a.png", img}});
        CHECK(o.find("left")->data == "200");
        CHECK(o.find("down")->data == "64");
    }

    TEST_CASE("unrecognised bytes go as application/octet-stream; UTF-8 prompts intact") {
        Parsed p = build("upscale-fast", {{"output_format", "webp"}},
                         {{"image", "x.bin", "not an image"}});
        CHECK(p.find("image")->content_type == "application/octet-stream");
        Parsed q = build("ultra", {{"prompt", "ein Bär im Schnee, 雪"}}, {});
        CHECK(q.find("prompt")->data == "ein Bär im Schnee, 雪");
    }
}
