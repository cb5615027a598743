#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "provider/operation.hpp"

using namespace genq::provider;

namespace {

const Operation& op(std::string_view kind) {
    const Operation* o = find_operation(kind);
    REQUIRE(o != nullptr);
    return *o;
}

const FieldSpec& field(const Operation& o, std::string_view name) {
    for (const FieldSpec& f : o.fields) {
        if (f.name == name) return f;
    }
    FAIL("no field " << name << " in " << o.kind);
    throw std::logic_error("unreachable");
}

std::vector<std::string> field_names(const Operation& o) {
    std::vector<std::string> names;
    for (const FieldSpec& f : o.fields) names.push_back(f.name);
    return names;
}

using Names = std::vector<std::string>;

}  // namespace

TEST_SUITE("provider.operation") {
    TEST_CASE("the table holds the twenty kinds of SPEC §3's two tables, in order") {
        Names kinds;
        for (const Operation& o : operations()) kinds.push_back(o.kind);
        CHECK(kinds == Names{"video", "video-v2alpha", "upscale", "inpaint", "upscale-creative",
                             "inpaint-v2beta", "ultra", "core", "sd3", "upscale-conservative",
                             "upscale-fast", "erase", "outpaint", "search-and-replace",
                             "search-and-recolor", "remove-background", "relight", "sketch",
                             "structure", "style"});
        CHECK(operation_names().rfind(
                  "video, video-v2alpha, upscale, inpaint, upscale-creative, inpaint-v2beta, "
                  "ultra, core, ",
                  0) == 0);
        CHECK(find_operation("nope") == nullptr);
        CHECK(find_operation("") == nullptr);
        CHECK(find_operation("Video") == nullptr);
        CHECK(find_operation("video") == &operations()[0]);
    }

    TEST_CASE("video: endpoint, result and the three always-sent numbers") {
        const Operation& v = op("video");
        CHECK(v.mode == Mode::async);
        CHECK(v.submit_path == "/v2beta/image-to-video");
        CHECK(v.result_prefix == "/v2beta/image-to-video/result/");
        CHECK(v.accept == "video/*");
        CHECK(v.result_ext == "mp4");
        CHECK(v.json_result_field == "video");
        CHECK(v.price_credits == 20);
        CHECK_FALSE(v.has_mask);
        CHECK(field_names(v) == Names{"seed", "cfg_scale", "motion_bucket_id"});

        const FieldSpec& seed = field(v, "seed");
        CHECK(seed.type == FieldType::integer);
        CHECK(seed.min == 0);
        CHECK(seed.max == 4294967294.0);
        CHECK(seed.default_value == "0");
        const FieldSpec& cfg = field(v, "cfg_scale");
        CHECK(cfg.type == FieldType::number);
        CHECK(cfg.min == 0);
        CHECK(cfg.max == 10);
        CHECK(cfg.default_value == "1.8");
        const FieldSpec& motion = field(v, "motion_bucket_id");
        CHECK(motion.type == FieldType::integer);
        CHECK(motion.min == 1);
        CHECK(motion.max == 255);
        CHECK(motion.default_value == "127");
        for (const FieldSpec& f : v.fields) {
            CHECK(f.always_send);
            CHECK_FALSE(f.required);
        }
    }

    TEST_CASE("video: image rule") {
        const ImageRule& r = op("video").image;
        CHECK(r.formats == std::vector<ImageFormat>{ImageFormat::png, ImageFormat::jpeg});
        CHECK(r.exact_sizes ==
              std::vector<std::pair<int, int>>{{1024, 576}, {576, 1024}, {768, 768}});
        CHECK(r.max_bytes == 10 * 1024 * 1024);
    }

    TEST_CASE("video-v2alpha is video on the v2alpha paths") {
        const Operation& a = op("video-v2alpha");
        const Operation& v = op("video");
        CHECK(a.submit_path == "/v2alpha/generation/image-to-video");
        CHECK(a.result_prefix == "/v2alpha/generation/image-to-video/result/");
        CHECK(a.mode == Mode::async);
        CHECK(a.accept == v.accept);
        CHECK(a.result_ext == v.result_ext);
        CHECK(field_names(a) == field_names(v));
        CHECK(a.image.exact_sizes == v.image.exact_sizes);
        CHECK(a.price_credits == 20);
    }

    TEST_CASE("upscale and upscale-creative") {
        const Operation& u = op("upscale");
        CHECK(u.mode == Mode::async);
        CHECK(u.submit_path == "/v2alpha/generation/stable-image/upscale");
        CHECK(u.result_prefix == "/v2alpha/generation/stable-image/upscale/result/");
        CHECK(u.accept == "image/*");
        CHECK(u.result_ext == "png");
        CHECK(u.json_result_field == "image");
        CHECK(u.price_credits == 25);
        CHECK(field_names(u) ==
              Names{"prompt", "negative_prompt", "seed", "output_format", "creativity"});
        CHECK(field(u, "prompt").required);
        CHECK(field(u, "prompt").max_length == 10000);
        CHECK_FALSE(field(u, "negative_prompt").required);
        CHECK(field(u, "output_format").type == FieldType::choice);
        CHECK(field(u, "output_format").choices == Names{"png", "jpeg", "webp"});
        CHECK(field(u, "output_format").default_value == "png");
        CHECK(field(u, "creativity").max == 0.35);
        CHECK(field(u, "creativity").default_value == "0.3");
        CHECK(u.image.formats.size() == 3);
        CHECK(u.image.exact_sizes.empty());
        CHECK(u.image.min_side == 64);
        CHECK(u.image.min_pixels == 4096);
        CHECK(u.image.max_pixels == 1048576);

        const Operation& c = op("upscale-creative");
        CHECK(c.mode == Mode::async);
        CHECK(c.submit_path == "/v2beta/stable-image/upscale/creative");
        CHECK(c.result_prefix == "/v2beta/results/");
        CHECK(field_names(c) == field_names(u));
        CHECK(c.image.max_pixels == u.image.max_pixels);
        CHECK(c.price_credits == 25);
    }

    TEST_CASE("inpaint and inpaint-v2beta are sync, with an optional mask") {
        const Operation& i = op("inpaint");
        CHECK(i.mode == Mode::sync);
        CHECK(i.submit_path == "/v2alpha/generation/stable-image/inpaint");
        CHECK(i.result_prefix.empty());
        CHECK(i.accept == "image/*");
        CHECK(i.has_mask);
        CHECK(i.price_credits == 3);
        CHECK(field_names(i) == Names{"mode", "search_prompt", "prompt", "negative_prompt", "seed",
                                      "output_format"});
        CHECK(field(i, "mode").required);
        CHECK(field(i, "mode").choices == Names{"mask", "search"});
        CHECK_FALSE(field(i, "search_prompt").required);  // only for mode=search: validate
        CHECK(i.image.min_pixels == 4096);
        CHECK(i.image.max_pixels == 9437184);

        const Operation& b = op("inpaint-v2beta");
        CHECK(b.mode == Mode::sync);
        CHECK(b.submit_path == "/v2beta/stable-image/edit/inpaint");
        CHECK(b.result_prefix.empty());
        CHECK(b.has_mask);
        CHECK(b.price_credits == 3);
        CHECK(field_names(b) ==
              Names{"prompt", "negative_prompt", "seed", "output_format", "grow_mask"});
        const FieldSpec& grow = field(b, "grow_mask");
        CHECK(grow.type == FieldType::integer);
        CHECK(grow.min == 0);
        CHECK(grow.max == 100);
        CHECK(grow.default_value == "5");
        CHECK_FALSE(grow.always_send);
        CHECK(b.image.min_side == 64);
        CHECK(b.image.max_pixels == 9437184);
    }

    TEST_CASE("every row is consistent") {
        std::set<std::string> kinds;
        for (const Operation& o : operations()) {
            CAPTURE(o.kind);
            CHECK(kinds.insert(o.kind).second);
            CHECK(o.submit_path.starts_with("/v2"));
            CHECK((o.mode == Mode::sync) == o.result_prefix.empty());
            CHECK((o.result_prefix.empty() || o.result_prefix.ends_with("/")));
            CHECK(o.price_credits > 0);
            CHECK(o.image.formats.empty() == (o.image_use == ImageUse::none));
            CHECK(o.image.max_bytes > 0);
            CHECK(o.accept == (o.json_result_field == "video" ? "video/*" : "image/*"));
            for (const FieldSpec& f : o.fields) {
                CAPTURE(f.name);
                if (f.type == FieldType::integer || f.type == FieldType::number) {
                    CHECK(f.min <= f.max);
                    // No default: strength (required with an image) and sd3's cfg_scale (the
                    // provider's default depends on the model). Never sent unasked.
                    if (f.default_value.empty()) {
                        CHECK_FALSE(f.always_send);
                        continue;
                    }
                    const double d = std::stod(f.default_value);
                    CHECK(d >= f.min);
                    CHECK(d <= f.max);
                }
                if (f.type == FieldType::choice) {
                    CHECK_FALSE(f.choices.empty());
                    CHECK((f.default_value.empty() ||
                           std::find(f.choices.begin(), f.choices.end(), f.default_value) !=
                               f.choices.end()));
                }
                if (f.always_send) CHECK_FALSE(f.default_value.empty());
            }
        }
    }

    TEST_CASE("the result extension follows output_format for image kinds") {
        CHECK(result_ext_for(op("upscale"), {{"output_format", "jpeg"}}) == "jpeg");
        CHECK(result_ext_for(op("inpaint-v2beta"), {{"output_format", "webp"}}) == "webp");
        CHECK(result_ext_for(op("upscale"), nlohmann::json::object()) == "png");
        CHECK(result_ext_for(op("upscale"), nlohmann::json()) == "png");
        CHECK(result_ext_for(op("upscale"), {{"output_format", 3}}) == "png");
        CHECK(result_ext_for(op("video"), nlohmann::json::object()) == "mp4");
        CHECK(result_ext_for(op("video"), {{"output_format", "png"}}) == "mp4");
    }
}
