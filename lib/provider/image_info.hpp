// Reads an image's format and dimensions from its first bytes (content, never the file name).
#pragma once
#include <optional>
#include <string_view>

namespace genq::provider {

enum class ImageFormat { png, jpeg, webp };

struct ImageInfo {
    ImageFormat format;
    int width = 0;
    int height = 0;
    bool has_alpha = false;  // PNG colour types 4/6 or tRNS; WebP VP8X alpha flag / VP8L alpha bit
};

// nullopt when the bytes are not a PNG, JPEG or WebP whose header could be read completely.
// Bounds-checked against truncated and lying headers; never reads past `bytes`.
std::optional<ImageInfo> read_image_info(std::string_view bytes);

std::string_view format_name(ImageFormat f);   // "png" | "jpeg" | "webp"
std::string_view mime_type(ImageFormat f);     // "image/png" | "image/jpeg" | "image/webp"

}  // namespace genq::provider
