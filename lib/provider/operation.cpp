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

// ---- The rest of the stable-image family (SPEC §3, second table) ------------------------------
// Parameters, ranges and limits as Stability's v2beta API reference publishes them; the README
// kinds table names the sources and the doubts. Prices are the provider's current list (credits
// per successful generation, 1 credit = $0.01).

constexpr std::int64_t kEditMaxPixels = 9437184;
constexpr double kEditMaxAspect = 2.5;  // "aspect ratio between 1:2.5 and 2.5:1"

FieldSpec strength_field() {
    FieldSpec f = number_field("strength", 0, 1, "");
    f.with_image = ImageDependence::needs_image;
    return f;
}

FieldSpec aspect_ratio_field(bool text_only) {
    FieldSpec f = choice_field("aspect_ratio", {"16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4",
                                                "9:16", "9:21"},
                               "1:1");
    if (text_only) f.with_image = ImageDependence::text_only;
    return f;
}

FieldSpec style_preset_field() {
    return choice_field("style_preset",
                        {"3d-model", "analog-film", "anime", "cinematic", "comic-book",
                         "digital-art", "enhance", "fantasy-art", "isometric", "line-art",
                         "low-poly", "modeling-compound", "neon-punk", "origami", "photographic",
                         "pixel-art", "tile-texture"},
                        "");
}

FieldSpec unit_field(std::string name, std::string def) {
    return number_field(std::move(name), 0, 1, std::move(def));
}

// Every side at least 64 pixels, 4,096 to `max_pixels` pixels, aspect ratio within 1:2.5..2.5:1.
ImageRule edit_image(std::int64_t max_pixels = kEditMaxPixels) {
    ImageRule r = any_image(4096, max_pixels, 64);
    r.max_aspect = kEditMaxAspect;
    return r;
}

Operation sync_image_row(std::string kind, std::string submit_path, ImageRule image,
                         int price) {
    Operation op = image_row(std::move(kind), Mode::sync, std::move(submit_path), "",
                             std::move(image));
    op.price_credits = price;
    return op;
}

// Text-to-image, or image-to-image when an image is given (then strength is required).
Operation ultra_row() {
    Operation op = sync_image_row("ultra", "/v2beta/stable-image/generate/ultra",
                                  any_image(4096, kEditMaxPixels, 64), 8);
    op.image_use = ImageUse::optional;
    op.fields = {text_field("prompt", true), text_field("negative_prompt", false),
                 aspect_ratio_field(true), seed_field(false), output_format_field(),
                 strength_field(), style_preset_field()};
    return op;
}

// Core is text-to-image only: its reference lists no image field.
Operation core_row() {
    Operation op = sync_image_row("core", "/v2beta/stable-image/generate/core", ImageRule{}, 3);
    op.image_use = ImageUse::none;
    op.fields = {text_field("prompt", true), text_field("negative_prompt", false),
                 aspect_ratio_field(false), seed_field(false), output_format_field(),
                 style_preset_field()};
    return op;
}

// SD3 and 3.5: the model picks the price; mode follows whether an image is given; png or jpeg.
Operation sd3_row() {
    Operation op = sync_image_row("sd3", "/v2beta/stable-image/generate/sd3",
                                  any_image(4096, kEditMaxPixels, 64), 7);
    op.image_use = ImageUse::optional;
    FieldSpec mode = choice_field("mode", {"text-to-image", "image-to-image"}, "text-to-image");
    mode.with_image = ImageDependence::image_mode;
    op.fields = {text_field("prompt", true),
                 mode,
                 aspect_ratio_field(true),
                 choice_field("model", {"sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium",
                                        "sd3-large", "sd3-large-turbo", "sd3-medium"},
                              "sd3.5-large"),
                 seed_field(false),
                 choice_field("output_format", {"png", "jpeg"}, "png"),
                 text_field("negative_prompt", false),
                 number_field("cfg_scale", 1, 10, ""),
                 strength_field()};
    op.price_by = {"model",
                   {{"sd3.5-large", 6.5}, {"sd3.5-large-turbo", 4}, {"sd3.5-medium", 3.5},
                    {"sd3-large", 6.5}, {"sd3-large-turbo", 4}, {"sd3-medium", 3.5}}};
    return op;
}

Operation upscale_conservative_row() {
    Operation op = sync_image_row("upscale-conservative",
                                  "/v2beta/stable-image/upscale/conservative", edit_image(), 40);
    op.fields = {text_field("prompt", true), text_field("negative_prompt", false),
                 seed_field(false), output_format_field(),
                 number_field("creativity", 0.2, 0.5, "0.35")};
    return op;
}

// Fast upscale: a small input only (each side 32..1536, 1,024..1,048,576 pixels), 4x out.
Operation upscale_fast_row() {
    ImageRule r = any_image(1024, 1048576, 32);
    r.max_side = 1536;
    r.max_aspect = kEditMaxAspect;
    Operation op = sync_image_row("upscale-fast", "/v2beta/stable-image/upscale/fast", r, 2);
    op.fields = {output_format_field()};
    return op;
}

// Without a mask the provider erases the image's transparent area (its alpha channel).
Operation erase_row() {
    Operation op = sync_image_row("erase", "/v2beta/stable-image/edit/erase", edit_image(), 5);
    op.has_mask = true;
    op.fields = {integer_field("grow_mask", 0, 20, "5"), seed_field(false), output_format_field()};
    return op;
}

Operation outpaint_row() {
    Operation op = sync_image_row("outpaint", "/v2beta/stable-image/edit/outpaint", edit_image(),
                                  4);
    op.fields = {integer_field("left", 0, 2000, "0"), integer_field("right", 0, 2000, "0"),
                 integer_field("up", 0, 2000, "0"),   integer_field("down", 0, 2000, "0"),
                 text_field("prompt", false),         number_field("creativity", 0, 1, "0.5"),
                 seed_field(false),                   output_format_field()};
    op.at_least_one = {{{"left", "right", "up", "down"}, "greater than 0"}};
    return op;
}

Operation search_row(std::string kind, std::string path, std::string search_field) {
    Operation op = sync_image_row(std::move(kind), std::move(path), edit_image(), 5);
    op.fields = {text_field("prompt", true),     text_field(std::move(search_field), true),
                 text_field("negative_prompt", false), integer_field("grow_mask", 0, 20, "3"),
                 seed_field(false),              output_format_field()};
    return op;
}

// The result keeps the transparency, so no jpeg; a smaller pixel budget than the other edits.
Operation remove_background_row() {
    Operation op = sync_image_row("remove-background",
                                  "/v2beta/stable-image/edit/remove-background",
                                  edit_image(4194304), 5);
    op.fields = {choice_field("output_format", {"png", "webp"}, "png")};
    return op;
}

// Replace background and relight: asynchronous, polled at /v2beta/results/{id}. The main image
// is the provider's subject_image; a background prompt or a background_reference image is needed.
Operation relight_row() {
    Operation op = image_row("relight", Mode::async,
                             "/v2beta/stable-image/edit/replace-background-and-relight",
                             "/v2beta/results/", edit_image());
    op.image_field = "subject_image";
    op.extra_images = {{"background_reference", edit_image()}, {"light_reference", edit_image()}};
    op.fields = {text_field("background_prompt", false),
                 text_field("foreground_prompt", false),
                 text_field("negative_prompt", false),
                 unit_field("preserve_original_subject", "0.6"),
                 unit_field("original_background_depth", "0.5"),
                 choice_field("keep_original_background", {"true", "false"}, "false"),
                 choice_field("light_source_direction", {"left", "right", "above", "below"}, ""),
                 unit_field("light_source_strength", "0.3"),
                 seed_field(false),
                 output_format_field()};
    op.at_least_one = {{{"background_prompt", "background_reference"}, "given"}};
    op.price_credits = 8;
    return op;
}

Operation control_row(std::string kind, std::string path) {
    Operation op = sync_image_row(std::move(kind), std::move(path), edit_image(), 5);
    op.fields = {text_field("prompt", true), unit_field("control_strength", "0.7"),
                 text_field("negative_prompt", false), seed_field(false), output_format_field()};
    return op;
}

Operation style_row() {
    Operation op = sync_image_row("style", "/v2beta/stable-image/control/style", edit_image(), 5);
    op.fields = {text_field("prompt", true),  text_field("negative_prompt", false),
                 aspect_ratio_field(false),   unit_field("fidelity", "0.5"),
                 seed_field(false),           output_format_field()};
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
            inpaint_v2beta_row(),
            ultra_row(),
            core_row(),
            sd3_row(),
            upscale_conservative_row(),
            upscale_fast_row(),
            erase_row(),
            outpaint_row(),
            search_row("search-and-replace", "/v2beta/stable-image/edit/search-and-replace",
                       "search_prompt"),
            search_row("search-and-recolor", "/v2beta/stable-image/edit/search-and-recolor",
                       "select_prompt"),
            remove_background_row(),
            relight_row(),
            control_row("sketch", "/v2beta/stable-image/control/sketch"),
            control_row("structure", "/v2beta/stable-image/control/structure"),
            style_row()};
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

double price_for(const Operation& op, const nlohmann::json& params) {
    if (!op.price_by.field.empty() && params.is_object()) {
        const auto it = params.find(op.price_by.field);
        const FieldSpec* spec = nullptr;
        for (const FieldSpec& f : op.fields)
            if (f.name == op.price_by.field) spec = &f;
        const std::string value = it != params.end() && it->is_string()
                                      ? it->get<std::string>()
                                      : (spec ? spec->default_value : std::string());
        for (const auto& [v, price] : op.price_by.prices)
            if (v == value) return price;
    }
    return op.price_credits;
}

bool prompt_only_allowed(const Operation& op) { return op.image_use != ImageUse::required; }

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
