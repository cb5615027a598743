#include "provider/operation.hpp"

#include <nlohmann/json.hpp>

namespace genq::provider {
namespace {

// Stability's documented bounds, shared by several rows.
constexpr double kMaxSeed = 4294967294.0;
constexpr std::size_t kMaxPrompt = 10000;
constexpr std::size_t kTenMiB = 10 * 1024 * 1024;

// Plain assignments rather than designated initializers: GCC warns about every member a
// designated initializer leaves out (-Wmissing-field-initializers).
FieldSpec numeric_field(std::string name, FieldType type, double min, double max, std::string def,
                        bool always_send) {
    FieldSpec f;
    f.name = std::move(name);
    f.type = type;
    f.min = min;
    f.max = max;
    f.default_value = std::move(def);
    f.always_send = always_send;
    return f;
}

FieldSpec integer_field(std::string name, double min, double max, std::string def,
                        bool always_send = false) {
    return numeric_field(std::move(name), FieldType::integer, min, max, std::move(def),
                         always_send);
}

FieldSpec number_field(std::string name, double min, double max, std::string def,
                       bool always_send = false) {
    return numeric_field(std::move(name), FieldType::number, min, max, std::move(def),
                         always_send);
}

FieldSpec text_field(std::string name, bool required) {
    FieldSpec f;
    f.name = std::move(name);
    f.required = required;
    f.max_length = kMaxPrompt;
    return f;
}

FieldSpec choice_field(std::string name, std::vector<std::string> choices, std::string def,
                       bool required = false) {
    FieldSpec f;
    f.name = std::move(name);
    f.type = FieldType::choice;
    f.required = required;
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
    ImageRule r;
    r.formats = {ImageFormat::png, ImageFormat::jpeg};
    r.exact_sizes = {{1024, 576}, {576, 1024}, {768, 768}};
    r.max_bytes = kTenMiB;
    return r;
}

ImageRule any_image(std::int64_t min_pixels, std::int64_t max_pixels, int min_side) {
    ImageRule r;
    r.formats = {ImageFormat::png, ImageFormat::jpeg, ImageFormat::webp};
    r.min_pixels = min_pixels;
    r.max_pixels = max_pixels;
    r.min_side = min_side;
    r.max_bytes = kTenMiB;
    return r;
}

Operation base_row(std::string kind, Mode mode, std::string submit_path, std::string result_prefix,
                   std::string accept, std::string json_field, ImageRule image) {
    Operation op;
    op.kind = std::move(kind);
    op.mode = mode;
    op.submit_path = std::move(submit_path);
    op.result_prefix = std::move(result_prefix);
    op.accept = std::move(accept);
    op.json_result_field = std::move(json_field);
    op.image = std::move(image);
    return op;
}

Operation video_row(std::string kind, const std::string& submit_path) {
    Operation op = base_row(std::move(kind), Mode::async, submit_path, submit_path + "/result/",
                            "video/*", "video", video_image());
    op.result_ext = "mp4";
    op.fields = video_fields();
    op.price_credits = 20;  // stability-api.md: 20 credits per success, failures not charged
    return op;
}

// Image results: result_ext is the provider's default output_format (png); the file actually
// follows the job's output_format, see result_ext_for().
Operation image_row(std::string kind, Mode mode, std::string submit_path,
                    std::string result_prefix, ImageRule image) {
    Operation op = base_row(std::move(kind), mode, std::move(submit_path),
                            std::move(result_prefix), "image/*", "image", std::move(image));
    op.result_ext = "png";
    return op;
}

// Prices of the image kinds, in credits per successful generation: 25 for the creative upscaler
// and 3 for inpainting, Stability's 2024 list prices as far as we know them (also the figures the
// project assumed). The public material searched while writing this (third-party pages only)
// neither confirmed nor refined them; resellers now charge about $0.60 for a v2beta creative
// upscale, so the provider's current price may be higher. The v2alpha upscaler is the creative
// one's predecessor and is priced the same. Prices only feed budgets and reports; the provider's
// own accounting is authoritative.
constexpr int kUpscalePrice = 25;
constexpr int kInpaintPrice = 3;

Operation upscale_row(std::string kind, std::string submit_path, std::string result_prefix) {
    Operation op = image_row(std::move(kind), Mode::async, std::move(submit_path),
                             std::move(result_prefix), any_image(4096, 1048576, 64));
    op.fields = upscale_fields();
    op.price_credits = kUpscalePrice;
    return op;
}

// Without a mask the provider inpaints the image's transparent area (its alpha channel).
Operation inpaint_v2alpha_row() {
    Operation op = image_row("inpaint", Mode::sync, "/v2alpha/generation/stable-image/inpaint", "",
                             any_image(4096, 9437184, 0));
    op.has_mask = true;
    op.fields = {choice_field("mode", {"mask", "search"}, "", true),
                 text_field("search_prompt", false),  // required for mode=search: validate.cpp
                 text_field("prompt", true),
                 text_field("negative_prompt", false),
                 seed_field(false),
                 output_format_field()};
    op.price_credits = kInpaintPrice;
    return op;
}

// v2beta's edit endpoints document "every side at least 64 pixels" on top of the pixel range.
Operation inpaint_v2beta_row() {
    Operation op = image_row("inpaint-v2beta", Mode::sync, "/v2beta/stable-image/edit/inpaint", "",
                             any_image(4096, 9437184, 64));
    op.has_mask = true;
    op.fields = {text_field("prompt", true), text_field("negative_prompt", false),
                 seed_field(false), output_format_field(),
                 integer_field("grow_mask", 0, 100, "5")};
    op.price_credits = kInpaintPrice;
    return op;
}

std::vector<Operation> build_table() {
    return {video_row("video", "/v2beta/image-to-video"),
            video_row("video-v2alpha", "/v2alpha/generation/image-to-video"),
            upscale_row("upscale", "/v2alpha/generation/stable-image/upscale",
                        "/v2alpha/generation/stable-image/upscale/result/"),
            inpaint_v2alpha_row(),
            upscale_row("upscale-creative", "/v2beta/stable-image/upscale/creative",
                        "/v2beta/results/"),
            inpaint_v2beta_row()};
}

// Magic numbers of the result types genq can receive; "" when unrecognised.
std::string ext_from_magic(std::string_view b) {
    if (b.starts_with("\x89PNG\r\n\x1a\n")) return "png";
    if (b.starts_with("\xff\xd8\xff")) return "jpg";
    if (b.size() >= 12 && b.starts_with("RIFF") && b.substr(8, 4) == "WEBP") return "webp";
    if (b.size() >= 8 && b.substr(4, 4) == "ftyp") return "mp4";
    return "";
}

std::string ext_from_content_type(std::string_view ct) {
    if (ct.find("video/mp4") != std::string_view::npos) return "mp4";
    if (ct.find("image/png") != std::string_view::npos) return "png";
    if (ct.find("image/jpeg") != std::string_view::npos) return "jpg";
    if (ct.find("image/webp") != std::string_view::npos) return "webp";
    return "";
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

std::string result_file_ext(const Operation& op, const nlohmann::json& params,
                            std::string_view content_type, std::string_view head) {
    if (std::string ext = ext_from_magic(head); !ext.empty()) return ext;
    if (std::string ext = ext_from_content_type(content_type); !ext.empty()) return ext;
    std::string ext = result_ext_for(op, params);
    return ext == "jpeg" ? "jpg" : ext;
}

}  // namespace genq::provider
