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

// True when the container's own structure says the file is whole: a PNG's chunks lead to IEND
// within the bytes, a JPEG has an EOI marker after its last scan, a WebP's RIFF size fits. Catches
// files cut off in transit (read_image_info only needs the header). Never reads past `bytes`.
bool image_is_complete(std::string_view bytes, ImageFormat f);

std::string_view format_name(ImageFormat f);   // "png" | "jpeg" | "webp"
std::string_view mime_type(ImageFormat f);     // "image/png" | "image/jpeg" | "image/webp"

}  // namespace genq::provider
