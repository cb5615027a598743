#include "provider/operation.hpp"

#include <nlohmann/json.hpp>

namespace genq::provider {
namespace {

// Stability's documented bounds, shared by several rows.
constexpr double kMaxSeed = 4294967294.0;
constexpr std::size_t kMaxPrompt = 10000;
constexpr std::size_t kTenMiB = 10 * 1024 * 1024;

FieldSpec integer_field(std::string name, double min, double max, std::string def,
                        bool always_send = false) {
    FieldSpec f{.name = std::move(name), .type = FieldType::integer, .min = min, .max = max};
    f.default_value = std::move(def);
    f.always_send = always_send;
    return f;
}

FieldSpec number_field(std::string name, double min, double max, std::string def,
                       bool always_send = false) {
    FieldSpec f{.name = std::move(name), .type = FieldType::number, .min = min, .max = max};
    f.default_value = std::move(def);
    f.always_send = always_send;
    return f;
}

FieldSpec text_field(std::string name, bool required) {
    return FieldSpec{.name = std::move(name), .type = FieldType::string, .required = required,
                     .max_length = kMaxPrompt};
}

FieldSpec choice_field(std::string name, std::vector<std::string> choices, std::string def,
                       bool required = false) {
    FieldSpec f{.name = std::move(name), .type = FieldType::choice, .required = required};
    f.choices = std::move(choices);
    f.default_value = std::move(def);
    return f;
}

FieldSpec seed_field(bool always_send) {
    // 0 (or absent) asks the provider for a random seed.
    return integer_field("seed", 0, kMaxSeed, "0", always_send);
}

FieldSpec output_format_field() {
    return choice_field("output_format", {"png", "jpeg", "webp"}, "png");
}

// The provider's schema marks cfg_scale and motion_bucket_id required although its prose calls
// them optional, so all three are always sent.
std::vector<FieldSpec> video_fields() {
    return {seed_field(true), number_field("cfg_scale", 0, 10, "1.8", true),
            integer_field("motion_bucket_id", 1, 255, "127", true)};
}

std::vector<FieldSpec> upscale_fields() {
    return {text_field("prompt", true), text_field("negative_prompt", false), seed_field(false),
            output_format_field(), number_field("creativity", 0, 0.35, "0.3")};
}

ImageRule video_image() {
    return ImageRule{.formats = {ImageFormat::png, ImageFormat::jpeg},
                     .exact_sizes = {{1024, 576}, {576, 1024}, {768, 768}},
                     .max_bytes = kTenMiB};
}

ImageRule any_image(std::int64_t min_pixels, std::int64_t max_pixels, int min_side) {
    return ImageRule{.formats = {ImageFormat::png, ImageFormat::jpeg, ImageFormat::webp},
                     .min_pixels = min_pixels, .max_pixels = max_pixels, .min_side = min_side,
                     .max_bytes = kTenMiB};
}

Operation video_row(std::string kind, std::string submit_path) {
    Operation op{.kind = std::move(kind), .mode = Mode::async, .submit_path = submit_path,
                 .result_prefix = submit_path + "/result/", .accept = "video/*",
                 .result_ext = "mp4", .json_result_field = "video", .image = video_image()};
    op.fields = video_fields();
    op.price_credits = 20;  // stability-api.md: 20 credits per success, failures not charged
    return op;
}

// Image results: result_ext is the provider's default output_format (png); the file actually
// follows the job's output_format, see result_ext_for().
Operation image_row(std::string kind, Mode mode, std::string submit_path,
                    std::string result_prefix, ImageRule image) {
    return Operation{.kind = std::move(kind), .mode = mode, .submit_path = std::move(submit_path),
                     .result_prefix = std::move(result_prefix), .accept = "image/*",
                     .result_ext = "png", .json_result_field = "image", .image = std::move(image)};
}

// Prices of the image kinds: Stability's pricing page (platform.stability.ai/pricing, 2024 list)
// gave Creative Upscale 25 credits and Inpaint 3 credits per successful generation; the stored
// public material searched for this table did not contradict or refine those figures. The
// v2alpha upscale is the creative upscaler's predecessor and is priced the same. Prices only feed
// budgets and reports; the provider's own accounting is authoritative.
constexpr int kUpscalePrice = 25;
constexpr int kInpaintPrice = 3;

std::vector<Operation> build_table() {
    std::vector<Operation> table;
    table.push_back(video_row("video", "/v2beta/image-to-video"));
    table.push_back(video_row("video-v2alpha", "/v2alpha/generation/image-to-video"));

    Operation upscale = image_row("upscale", Mode::async, "/v2alpha/generation/stable-image/upscale",
                                  "/v2alpha/generation/stable-image/upscale/result/",
                                  any_image(4096, 1048576, 64));
    upscale.fields = upscale_fields();
    upscale.price_credits = kUpscalePrice;
    table.push_back(upscale);

    // Without a mask the provider inpaints the image's transparent area (its alpha channel).
    Operation inpaint = image_row("inpaint", Mode::sync, "/v2alpha/generation/stable-image/inpaint",
                                  "", any_image(4096, 9437184, 0));
    inpaint.has_mask = true;
    inpaint.fields = {choice_field("mode", {"mask", "search"}, "", true),
                      text_field("search_prompt", false),  // required for mode=search (validate)
                      text_field("prompt", true),
                      text_field("negative_prompt", false),
                      seed_field(false),
                      output_format_field()};
    inpaint.price_credits = kInpaintPrice;
    table.push_back(inpaint);

    Operation creative = image_row("upscale-creative", Mode::async,
                                   "/v2beta/stable-image/upscale/creative", "/v2beta/results/",
                                   any_image(4096, 1048576, 64));
    creative.fields = upscale_fields();
    creative.price_credits = kUpscalePrice;
    table.push_back(creative);

    // v2beta's edit endpoints document "every side at least 64 pixels" on top of the pixel range.
    Operation inpaint2 = image_row("inpaint-v2beta", Mode::sync, "/v2beta/stable-image/edit/inpaint",
                                   "", any_image(4096, 9437184, 64));
    inpaint2.has_mask = true;
    inpaint2.fields = {text_field("prompt", true), text_field("negative_prompt", false),
                       seed_field(false), output_format_field(),
                       integer_field("grow_mask", 0, 100, "5")};
    inpaint2.price_credits = kInpaintPrice;
    table.push_back(inpaint2);
    return table;
}

}  // namespace

const std::vector<Operation>& operations() {
    static const std::vector<Operation> table = build_table();
    return table;
}

const Operation* find_operation(std::string_view kind) {
    for (const Operation& op : operations()) {
        if (op.kind == kind) return &op;
    }
    return nullptr;
}

std::string operation_names() {
    std::string names;
    for (const Operation& op : operations()) {
        if (!names.empty()) names += ", ";
        names += op.kind;
    }
    return names;
}

std::string result_ext_for(const Operation& op, const nlohmann::json& params) {
    if (params.is_object()) {
        const auto it = params.find("output_format");
        if (it != params.end() && it->is_string()) {
            for (const FieldSpec& f : op.fields) {
                if (f.name == "output_format") return it->get<std::string>();
            }
        }
    }
    return op.result_ext;
}

}  // namespace genq::provider
