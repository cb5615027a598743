#include "provider/image_codec.hpp"

#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>
#include <png.h>
#include <webp/decode.h>

#include "provider/image_info.hpp"

namespace genq::provider {
namespace {

Error bad(std::string_view field, const std::string& what) {
    return Error{"invalid_image", std::string(field) + ": " + what};
}

// Straight alpha over black: c * a / 255, rounded.
void flatten_rgba(const std::uint8_t* rgba, std::size_t pixels, std::vector<std::uint8_t>& rgb) {
    rgb.resize(pixels * 3);
    for (std::size_t i = 0; i < pixels; ++i) {
        const unsigned a = rgba[i * 4 + 3];
        for (int c = 0; c < 3; ++c) rgb[i * 3 + c] = static_cast<std::uint8_t>(
            (rgba[i * 4 + c] * a + 127) / 255);
    }
}

Result<RgbImage> decode_png(std::string_view bytes, std::string_view field) {
    png_image img;
    std::memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, bytes.data(), bytes.size())) {
        return bad(field, std::string("the PNG cannot be read (") + img.message + ")");
    }
    img.format = PNG_FORMAT_RGBA;
    std::vector<std::uint8_t> rgba(PNG_IMAGE_SIZE(img));
    if (!png_image_finish_read(&img, nullptr, rgba.data(), 0, nullptr)) {
        std::string why = img.message;
        png_image_free(&img);
        return bad(field, "the PNG cannot be decoded (" + why + ")");
    }
    RgbImage out;
    out.width = static_cast<int>(img.width);
    out.height = static_cast<int>(img.height);
    flatten_rgba(rgba.data(), rgba.size() / 4, out.rgb);
    return out;
}

// libjpeg reports fatal errors through error_exit, which must not return: it jumps back to
// the setjmp in read_jpeg. Nothing with a destructor lives between the two.
struct JpegError {
    jpeg_error_mgr mgr;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr cinfo) {
    auto* err = reinterpret_cast<JpegError*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, err->message);
    std::longjmp(err->jump, 1);
}

void jpeg_quiet(j_common_ptr, int) {}  // warnings (e.g. premature end) are not fatal

// Fills `rgb` and the size; returns false with err.message set on failure. Plain C style
// because of the longjmp.
bool read_jpeg(const unsigned char* data, unsigned long size, JpegError& err, int& w, int& h,
               std::vector<std::uint8_t>& rgb) {
    jpeg_decompress_struct cinfo;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_fail;
    err.mgr.emit_message = jpeg_quiet;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, size);
    jpeg_read_header(&cinfo, TRUE);
    if (static_cast<std::int64_t>(cinfo.image_width) * cinfo.image_height > kMaxDecodePixels) {
        std::snprintf(err.message, sizeof err.message, "larger than %lld pixels",
                      static_cast<long long>(kMaxDecodePixels));
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        std::snprintf(err.message, sizeof err.message, "CMYK JPEGs are not supported");
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    w = static_cast<int>(cinfo.output_width);
    h = static_cast<int>(cinfo.output_height);
    rgb.resize(static_cast<std::size_t>(w) * h * 3);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = rgb.data() + static_cast<std::size_t>(cinfo.output_scanline) * w * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return true;
}

Result<RgbImage> decode_jpeg(std::string_view bytes, std::string_view field) {
    JpegError err{};
    RgbImage out;
    if (!read_jpeg(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), err,
                   out.width, out.height, out.rgb)) {
        return bad(field, std::string("the JPEG cannot be decoded (") + err.message + ")");
    }
    return out;
}

Result<RgbImage> decode_webp(std::string_view bytes, std::string_view field) {
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
    int w = 0, h = 0;
    std::uint8_t* rgba = WebPDecodeRGBA(data, bytes.size(), &w, &h);
    if (!rgba) return bad(field, "the WebP cannot be decoded");
    RgbImage out;
    out.width = w;
    out.height = h;
    flatten_rgba(rgba, static_cast<std::size_t>(w) * h, out.rgb);
    WebPFree(rgba);
    return out;
}

}  // namespace

Result<RgbImage> decode_image(std::string_view bytes, std::string_view field) {
    const auto info = read_image_info(bytes);
    if (!info) return bad(field, "not a PNG, JPEG or WebP image (unrecognised content)");
    const std::int64_t pixels = std::int64_t{info->width} * info->height;
    if (pixels > kMaxDecodePixels) {
        return bad(field, std::to_string(info->width) + "x" + std::to_string(info->height) +
                              " is too large to fit (at most " +
                              std::to_string(kMaxDecodePixels / 1'000'000) + " megapixels)");
    }
    switch (info->format) {
        case ImageFormat::png: return decode_png(bytes, field);
        case ImageFormat::jpeg: return decode_jpeg(bytes, field);
        case ImageFormat::webp: return decode_webp(bytes, field);
    }
    return bad(field, "unsupported format");
}

Result<std::string> encode_png(const RgbImage& image) {
    png_image img;
    std::memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = static_cast<png_uint_32>(image.width);
    img.height = static_cast<png_uint_32>(image.height);
    img.format = PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    // First call: the size; second: the bytes.
    if (!png_image_write_to_memory(&img, nullptr, &size, 0, image.rgb.data(), 0, nullptr)) {
        return Error{"io_error", std::string("PNG encoding failed: ") + img.message};
    }
    std::string out(size, '\0');
    if (!png_image_write_to_memory(&img, out.data(), &size, 0, image.rgb.data(), 0, nullptr)) {
        return Error{"io_error", std::string("PNG encoding failed: ") + img.message};
    }
    out.resize(size);
    return out;
}

}  // namespace genq::provider
