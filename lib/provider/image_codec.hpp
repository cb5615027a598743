// Decoding PNG, JPEG and WebP into RGB pixels and encoding PNG: a thin wrapper over libpng,
// libjpeg-turbo and libwebp (Debian's own, security-maintained libraries), for --fit.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace genq::provider {

// 8-bit RGB, rows top to bottom, no padding: rgb.size() == width * height * 3.
struct RgbImage {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> rgb;
};

// The largest picture decode_image() will unpack (a decompression bomb stays a refusal):
// 100 megapixels, e.g. 12000x8000 or 10000x10000.
constexpr std::int64_t kMaxDecodePixels = 100'000'000;

// Any PNG (palette, grey, 16-bit, interlaced), baseline or progressive JPEG (RGB or grey), or
// WebP (lossy, lossless, with alpha). Transparent pixels are composited onto black, the video
// model's letterbox colour. Errors (code "invalid_image") name `field` and what is wrong.
// `reduce` (1, 2, 4 or 8; anything else means 1) is how much smaller the caller can take the
// picture: a JPEG or WebP is then decoded directly at 1/reduce of its size (libjpeg's DCT
// scaling, libwebp's decoder scaling; sides rounded up), which for a large photo fitted to a
// video size saves most of the decoding time and memory. PNGs are always decoded whole.
Result<RgbImage> decode_image(std::string_view bytes, std::string_view field = "image",
                              int reduce = 1);

// An 8-bit RGB PNG. Error code "io_error" only if libpng fails (out of memory).
Result<std::string> encode_png(const RgbImage& image);

}  // namespace genq::provider
