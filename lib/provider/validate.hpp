// Validation of a job's input before it is queued: nothing invalid reaches the provider.
#pragma once
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "provider/image_info.hpp"
#include "provider/named_input.hpp"
#include "provider/operation.hpp"

namespace genq::provider {

// Checks params against op.fields: unknown fields refused, types and ranges checked (numbers may
// arrive as JSON numbers or as decimal strings, as multipart fields do), defaults filled in for
// always_send fields. Returns the normalised params object (numbers as numbers).
// Error.code = "invalid_param"; Error.message names the field and what is allowed, e.g.
// "cfg_scale: must be a number from 0 to 10 (got \"11\")".
Result<nlohmann::json> validate_params(const Operation& op, const nlohmann::json& params);

// Checks an image against op.image (format by content, size in bytes, dimensions).
// `field` is "image" or "mask" and is named in the message. Error.code = "invalid_image".
Result<ImageInfo> validate_image(const Operation& op, std::string_view bytes,
                                 std::string_view field = "image");

// For kinds that take a mask: without a mask image, the provider inpaints the image's
// transparent area, so an image without an alpha channel would have nothing to inpaint and is
// refused (inpaint mode "mask", inpaint-v2beta). Mode "search" finds its area from search_prompt.
// `params` are the validated params. Error.code = "invalid_image".
Status validate_mask_source(const Operation& op, const nlohmann::json& params,
                            const ImageInfo& image, bool has_mask);

// Everything about one job before it is queued: which images it brings (the main image, absent
// for a prompt-only job when the kind allows it; mask; extra images such as
// background_reference), each checked against its rule; the params (validate_params); and how
// the two combine: strength only with an image, aspect_ratio only without, sd3's mode filled in
// from the image, outpaint's "at least one side", relight's "a background prompt or image",
// the mask source. Returns the normalised params. Error codes: invalid_param, invalid_image.
Result<nlohmann::json> validate_job(const Operation& op, const nlohmann::json& params,
                                    const std::vector<NamedInput>& inputs);

}  // namespace genq::provider
