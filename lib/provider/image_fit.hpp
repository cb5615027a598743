// --fit: any PNG, JPEG or WebP becomes an image the video kinds accept: 1024x576, 576x1024 or
// 768x768, whichever orientation is nearest its aspect ratio, cropped (centred) or padded
// (centred, black bars), encoded as PNG (SPEC §3).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "provider/image_codec.hpp"

namespace genq::provider {

enum class FitMode { crop, pad };

// "crop" | "pad"; nullopt otherwise.
std::optional<FitMode> parse_fit_mode(std::string_view text);
std::string_view fit_mode_name(FitMode mode);

// The three video sizes, landscape, portrait, square.
const std::vector<std::pair<int, int>>& video_sizes();

// The video size whose aspect ratio is nearest w/h (compared as log ratios, so 2:1 and 1:2 are
// equally far from 1:1).
std::pair<int, int> nearest_video_size(int width, int height);

struct FitResult {
    std::string png;
    int width = 0, height = 0;  // one of video_sizes()
    int original_width = 0, original_height = 0;
    FitMode mode = FitMode::crop;
};

// Decodes, fits and encodes. Errors: invalid_image (naming `field`), io_error.
Result<FitResult> fit_to_video(std::string_view bytes, FitMode mode,
                               std::string_view field = "image");

// The pixel work alone: `src` resampled to exactly tw x th, cropping or padding as `mode` says.
RgbImage fit_pixels(const RgbImage& src, int tw, int th, FitMode mode);

}  // namespace genq::provider
