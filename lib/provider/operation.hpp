// The operation table: every provider endpoint genq can drive is one row here, so another
// endpoint is a row, not a subsystem (SPEC §3).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "provider/image_info.hpp"

namespace genq::provider {

enum class Mode { async, sync };
enum class FieldType { integer, number, string, choice };

// How a field relates to the job's main image (the prompt-or-image kinds ultra and sd3).
enum class ImageDependence {
    none,            // allowed with or without an image
    needs_image,     // required when an image is given, refused without one (strength)
    text_only,       // refused when an image is given (aspect_ratio: text-to-image only)
    image_mode,      // sd3's `mode`: "image-to-image" exactly when an image is given; filled in
};

// Whether a kind takes the main image.
enum class ImageUse { required, optional, none };

struct FieldSpec {
    std::string name;
    FieldType type = FieldType::string;
    bool required = false;
    double min = 0, max = 0;             // integer/number ranges (inclusive)
    std::size_t max_length = 0;          // strings (0 = no limit); min length 1 when required
    std::vector<std::string> choices;    // FieldType::choice
    std::string default_value;           // as text; empty = none
    bool always_send = false;            // send the default when absent (video's three numbers)
    ImageDependence with_image = ImageDependence::none;
};

struct ImageRule {
    std::vector<ImageFormat> formats;
    std::vector<std::pair<int, int>> exact_sizes;  // empty = any size within the bounds below
    std::int64_t min_pixels = 0, max_pixels = 0;   // 0 = unbounded
    int min_side = 0;
    int max_side = 0;                              // 0 = unbounded (upscale-fast: 1536)
    double max_aspect = 0;                         // 0 = any; else w/h and h/w at most this (2.5)
    std::size_t max_bytes = 10 * 1024 * 1024;
};

// An optional image besides the main one and the mask, under the provider's own field name
// (relight's background_reference and light_reference).
struct ExtraImage {
    std::string field;
    ImageRule rule;
};

// At least one of these must be given: params (a number counts when > 0, text when non-empty)
// or image fields. Outpaint's left/right/up/down; relight's background_prompt or
// background_reference.
struct AtLeastOne {
    std::vector<std::string> names;
    std::string what;  // how the refusal describes it: "greater than 0", "given"
};

// A price that depends on a choice field (sd3's model): value -> credits.
struct PriceBy {
    std::string field;                                  // empty: the kind has one price
    std::vector<std::pair<std::string, double>> prices;
};

struct Operation {
    std::string kind;            // "video", "upscale", ...
    Mode mode = Mode::async;
    std::string submit_path;     // "/v2beta/image-to-video"
    std::string result_prefix;   // "/v2beta/image-to-video/result/" (+ id); empty for sync
    std::string accept;          // "video/*" or "image/*" for results
    std::string result_ext;      // default result extension without dot: "mp4", "png"
    std::string json_result_field;  // "video" or "image" in the JSON result form
    ImageRule image;
    ImageUse image_use = ImageUse::required;
    std::string image_field = "image";  // the provider's name for the main image (subject_image)
    bool has_mask = false;       // accepts an optional `mask` image
    std::vector<ExtraImage> extra_images;
    std::vector<FieldSpec> fields;
    std::vector<AtLeastOne> at_least_one;
    // Charged per success (and CONTENT_FILTERED), whole credits. For a kind whose price depends
    // on a param (price_by) this is the highest of its prices, rounded up: what a budget must
    // reserve. price_for() gives the exact figure.
    int price_credits = 0;
    PriceBy price_by;
};

const std::vector<Operation>& operations();

// The exact price of a job of this kind with these (validated) params, in credits; may be
// fractional (sd3.5-large: 6.5).
double price_for(const Operation& op, const nlohmann::json& params);

// True when a job of this kind can be made from a prompt alone (ultra, core, sd3).
bool prompt_only_allowed(const Operation& op);
const Operation* find_operation(std::string_view kind);
// "video, video-v2alpha, upscale, ..." for error messages.
std::string operation_names();

// The result file's extension for a job: `output_format` from its (validated) params when the
// operation has that field and it is set, else op.result_ext.
std::string result_ext_for(const Operation& op, const nlohmann::json& params);

// The extension a result file gets: what the bytes are (their first bytes: mp4, png, jpg, webp),
// else what the content type says (also "application/json; type=image/png"), else what was
// asked for (result_ext_for). The file name matches what actually arrived, whatever a proxy's
// headers claim. JPEG is "jpg".
std::string result_file_ext(const Operation& op, const nlohmann::json& params,
                            std::string_view content_type, std::string_view head);

}  // namespace genq::provider
