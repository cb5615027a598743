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
        for (int c = 0; c < 3; ++c)
            rgb[i * 3 + c] = static_cast<std::uint8_t>((rgba[i * 4 + c] * a + 127) / 255);
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
bool read_jpeg(const unsigned char* data, unsigned long size, int reduce, JpegError& err, int& w,
               int& h, std::vector<std::uint8_t>& rgb) {
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
    cinfo.scale_num = 1;
    cinfo.scale_denom = static_cast<unsigned>(reduce);
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

Result<RgbImage> decode_jpeg(std::string_view bytes, std::string_view field, int reduce) {
    JpegError err{};
    RgbImage out;
    if (!read_jpeg(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), reduce, err,
                   out.width, out.height, out.rgb)) {
        return bad(field, std::string("the JPEG cannot be decoded (") + err.message + ")");
    }
    return out;
}

// libwebp can scale while decoding too (use_scaling), which spares a 3000x3000 photo most of
// its decoding work when it only needs to become 768x768.
Result<RgbImage> decode_webp(std::string_view bytes, std::string_view field, int reduce) {
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config) ||
        WebPGetFeatures(data, bytes.size(), &config.input) != VP8_STATUS_OK) {
        return bad(field, "the WebP cannot be decoded");
    }
    if (reduce > 1) {
        config.options.use_scaling = 1;
        config.options.scaled_width = (config.input.width + reduce - 1) / reduce;
        config.options.scaled_height = (config.input.height + reduce - 1) / reduce;
    }
    config.output.colorspace = MODE_RGBA;
    if (WebPDecode(data, bytes.size(), &config) != VP8_STATUS_OK) {
        WebPFreeDecBuffer(&config.output);
        return bad(field, "the WebP cannot be decoded");
    }
    RgbImage out;
    out.width = config.output.width;
    out.height = config.output.height;
    const WebPRGBABuffer& buf = config.output.u.RGBA;
    std::vector<std::uint8_t> rows(static_cast<std::size_t>(out.width) * out.height * 4);
    for (int y = 0; y < out.height; ++y)  // the buffer's stride may exceed width * 4
        std::memcpy(rows.data() + static_cast<std::size_t>(y) * out.width * 4,
                    buf.rgba + static_cast<std::size_t>(y) * buf.stride,
                    static_cast<std::size_t>(out.width) * 4);
    WebPFreeDecBuffer(&config.output);
    flatten_rgba(rows.data(), rows.size() / 4, out.rgb);
    return out;
}

}  // namespace

Result<RgbImage> decode_image(std::string_view bytes, std::string_view field, int reduce) {
    if (reduce != 2 && reduce != 4 && reduce != 8) reduce = 1;
    const auto info = read_image_info(bytes);
    if (!info) return bad(field, "not a PNG, JPEG or WebP image (unrecognised content)");
    const std::int64_t pixels = std::int64_t{info->width} * info->height;
    if (pixels > kMaxDecodePixels) {
        return bad(field, std::to_string(info->width) + "x" + std::to_string(info->height) +
                              " is too large to fit (at most " +
                              std::to_string(kMaxDecodePixels / 1'000'000) + " megapixels)");
    }
    switch (info->format) {
        case ImageFormat::png:
            return decode_png(bytes, field);
        case ImageFormat::jpeg:
            return decode_jpeg(bytes, field, reduce);
        case ImageFormat::webp:
            return decode_webp(bytes, field, reduce);
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
    // Speed over size: the fit runs in a single-threaded daemon, and the PNG travels to the
    // provider once. genq_fit_bench: about half the time, files about 1.6x larger (still far
    // below the 10 MiB limit at these sizes).
    img.flags = PNG_IMAGE_FLAG_FAST;
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
