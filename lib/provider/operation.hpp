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

struct FieldSpec {
    std::string name;
    FieldType type = FieldType::string;
    bool required = false;
    double min = 0, max = 0;             // integer/number ranges (inclusive)
    std::size_t max_length = 0;          // strings (0 = no limit); min length 1 when required
    std::vector<std::string> choices;    // FieldType::choice
    std::string default_value;           // as text; empty = none
    bool always_send = false;            // send the default when absent (video's three numbers)
};

struct ImageRule {
    std::vector<ImageFormat> formats;
    std::vector<std::pair<int, int>> exact_sizes;  // empty = any size within the bounds below
    std::int64_t min_pixels = 0, max_pixels = 0;   // 0 = unbounded
    int min_side = 0;
    std::size_t max_bytes = 10 * 1024 * 1024;
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
    bool has_mask = false;       // accepts an optional `mask` image
    std::vector<FieldSpec> fields;
    int price_credits = 0;       // charged per success (and CONTENT_FILTERED)
};

const std::vector<Operation>& operations();
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
