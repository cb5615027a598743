#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "provider/image_info.hpp"

using namespace genq::provider;

// Builders of minimal but well-formed image files, also used by test_validate.cpp.
namespace genq::test_images {

std::string be32(std::uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
            static_cast<char>(v)};
}

std::string le(std::uint32_t v, int bytes) {
    std::string out;
    for (int i = 0; i < bytes; ++i) out += static_cast<char>(v >> (8 * i));
    return out;
}

std::uint32_t crc32(std::string_view data) {
    std::uint32_t crc = 0xFFFFFFFF;
    for (const char c : data) {
        crc ^= static_cast<unsigned char>(c);
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320 & (0 - (crc & 1)));
    }
    return ~crc;
}

std::string png_chunk(std::string_view type, std::string_view data) {
    const std::string body = std::string(type) + std::string(data);
    return be32(static_cast<std::uint32_t>(data.size())) + body + be32(crc32(body));
}

std::string png_ihdr(std::uint32_t w, std::uint32_t h, int colour_type, int depth = 8) {
    return be32(w) + be32(h) + static_cast<char>(depth) + static_cast<char>(colour_type) +
           std::string(3, '\0');
}

// `extra` chunks go between IHDR and IDAT.
std::string png(std::uint32_t w, std::uint32_t h, int colour_type = 2, std::string extra = {}) {
    return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", png_ihdr(w, h, colour_type)) +
           extra + png_chunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) +
           png_chunk("IEND", "");
}

std::string jpeg_segment(unsigned char marker, std::string_view data) {
    const auto len = static_cast<std::uint32_t>(data.size() + 2);
    return std::string{'\xFF', static_cast<char>(marker), static_cast<char>(len >> 8),
                       static_cast<char>(len)} +
           std::string(data);
}

std::string jpeg_sof(unsigned char marker, std::uint32_t w, std::uint32_t h) {
    std::string data{8, static_cast<char>(h >> 8), static_cast<char>(h),
                     static_cast<char>(w >> 8), static_cast<char>(w), 3};
    for (char id = 1; id <= 3; ++id) data += std::string{id, 0x11, 0};
    return jpeg_segment(marker, data);
}

// SOI, APP0 (JFIF), DQT, `before` (more segments), the frame header, DHT, SOS, data, EOI.
std::string jpeg(std::uint32_t w, std::uint32_t h, unsigned char sof = 0xC0,
                 std::string before = {}) {
    const std::string jfif("JFIF\0\x01\x01\0\0\x01\0\x01\0\0", 14);
    return std::string("\xFF\xD8", 2) + jpeg_segment(0xE0, jfif) +
           jpeg_segment(0xDB, std::string(65, '\x01')) + before + jpeg_sof(sof, w, h) +
           jpeg_segment(0xC4, std::string(20, '\0')) +
           jpeg_segment(0xDA, std::string("\x01\x01\x00\x00\x3f\x00", 6)) + "\x12\x34" +
           std::string("\xFF\xD9", 2);
}

std::string riff(std::string_view fourcc, std::string_view payload) {
    std::string chunk = std::string(fourcc) + le(static_cast<std::uint32_t>(payload.size()), 4) +
                        std::string(payload);
    if (payload.size() % 2 != 0) chunk += '\0';
    return "RIFF" + le(static_cast<std::uint32_t>(4 + chunk.size()), 4) + "WEBP" + chunk;
}

std::string webp_vp8(std::uint32_t w, std::uint32_t h) {
    const std::string frame = le(0x0010, 3) + std::string("\x9d\x01\x2a", 3) + le(w, 2) + le(h, 2);
    return riff("VP8 ", frame + std::string(8, '\0'));
}

std::string webp_vp8l(std::uint32_t w, std::uint32_t h, bool alpha) {
    const std::uint32_t bits = (w - 1) | (h - 1) << 14 | std::uint32_t{alpha} << 28;
    return riff("VP8L", "\x2f" + le(bits, 4) + std::string(4, '\0'));
}

std::string webp_vp8x(std::uint32_t w, std::uint32_t h, bool alpha) {
    const std::string payload = std::string(1, alpha ? '\x10' : '\0') + std::string(3, '\0') +
                                le(w - 1, 3) + le(h - 1, 3);
    return riff("VP8X", payload);
}

}  // namespace genq::test_images

namespace {

using namespace genq::test_images;

// A heap copy of exactly `n` bytes, so ASan reports any read past the end of a truncated input.
struct ExactBuffer {
    explicit ExactBuffer(std::string_view s) : data(new char[s.size()]), size(s.size()) {
        std::copy(s.begin(), s.end(), data.get());
    }
    std::string_view view() const { return {data.get(), size}; }
    std::unique_ptr<char[]> data;
    std::size_t size;
};

std::optional<ImageInfo> read_exact(std::string_view bytes) {
    const ExactBuffer buf(bytes);
    return read_image_info(buf.view());
}

// Every proper prefix shorter than `header_len` must be refused.
void check_prefixes_refused(const std::string& file, std::size_t header_len) {
    for (std::size_t n = 0; n < header_len; ++n) {
        CAPTURE(n);
        CHECK_FALSE(read_exact(std::string_view(file).substr(0, n)));
    }
}

void check_info(const std::optional<ImageInfo>& info, ImageFormat f, int w, int h, bool alpha) {
    REQUIRE(info.has_value());
    CHECK(info->format == f);
    CHECK(info->width == w);
    CHECK(info->height == h);
    CHECK(info->has_alpha == alpha);
}

std::string with_byte(std::string s, std::size_t at, char value) {
    s.at(at) = value;
    return s;
}

}  // namespace

TEST_SUITE("provider.image_info") {
    TEST_CASE("PNG: dimensions and alpha from IHDR") {
        check_info(read_exact(png(1024, 576, 2)), ImageFormat::png, 1024, 576, false);
        check_info(read_exact(png(576, 1024, 6)), ImageFormat::png, 576, 1024, true);
        check_info(read_exact(png(7, 9, 4)), ImageFormat::png, 7, 9, true);
        check_info(read_exact(png(7, 9, 0)), ImageFormat::png, 7, 9, false);
        check_info(read_exact(png(0x7FFFFFFF, 1, 0)), ImageFormat::png, 0x7FFFFFFF, 1, false);
    }

    TEST_CASE("PNG: a tRNS chunk before IDAT means alpha, after IDAT it is not read") {
        const std::string plte = png_chunk("PLTE", std::string(6, '\x10'));
        const std::string trns = png_chunk("tRNS", std::string(2, '\0'));
        check_info(read_exact(png(10, 10, 3, plte + trns)), ImageFormat::png, 10, 10, true);
        check_info(read_exact(png(10, 10, 3, plte)), ImageFormat::png, 10, 10, false);
        std::string late = png(10, 10, 2);
        late.insert(late.size() - 12, trns);  // between IDAT and IEND
        check_info(read_exact(late), ImageFormat::png, 10, 10, false);
    }

    TEST_CASE("PNG: truncated anywhere before IDAT is refused without reading past the end") {
        const std::string file = png(100, 100, 2, png_chunk("gAMA", be32(45455)));
        const std::size_t idat_header_end = file.find("IDAT") + 4;
        check_prefixes_refused(file, idat_header_end);
        CHECK(read_exact(std::string_view(file).substr(0, idat_header_end)));
    }

    TEST_CASE("PNG: lying or invalid headers are refused") {
        const std::string good = png(64, 64, 2);
        CHECK_FALSE(read_exact(png(0, 64)));
        CHECK_FALSE(read_exact(png(64, 0)));
        CHECK_FALSE(read_exact(png(0x80000000u, 64)));
        CHECK_FALSE(read_exact(png(64, 64, 5)));                // no colour type 5
        CHECK_FALSE(read_exact(with_byte(good, 24, 3)));        // bit depth 3
        CHECK_FALSE(read_exact(with_byte(good, 11, 14)));       // IHDR length 14
        CHECK_FALSE(read_exact(with_byte(good, 12, 'i')));      // first chunk not IHDR
        CHECK_FALSE(read_exact(with_byte(good, 0, '\x88')));    // signature
        // An ancillary chunk claiming more bytes than the file has.
        std::string huge = png(64, 64, 2, png_chunk("tEXt", "a"));
        huge.replace(huge.find("tEXt") - 4, 4, be32(0x7FFFFFF0));
        CHECK_FALSE(read_exact(huge));
        std::string over = png(64, 64, 2, png_chunk("tEXt", "a"));
        over.replace(over.find("tEXt") - 4, 4, be32(0x80000000u));
        CHECK_FALSE(read_exact(over));
        // IEND before any IDAT.
        const std::string no_idat = std::string("\x89PNG\r\n\x1a\n", 8) +
                                    png_chunk("IHDR", png_ihdr(8, 8, 2)) + png_chunk("IEND", "");
        CHECK_FALSE(read_exact(no_idat));
    }

    TEST_CASE("JPEG: the frame header gives the dimensions, for every SOF marker") {
        check_info(read_exact(jpeg(1024, 576)), ImageFormat::jpeg, 1024, 576, false);
        for (unsigned m = 0xC0; m <= 0xCF; ++m) {
            if (m == 0xC4 || m == 0xC8 || m == 0xCC) continue;
            CAPTURE(m);
            check_info(read_exact(jpeg(768, 768, static_cast<unsigned char>(m))),
                       ImageFormat::jpeg, 768, 768, false);
        }
        check_info(read_exact(jpeg(65535, 1)), ImageFormat::jpeg, 65535, 1, false);
    }

    TEST_CASE("JPEG: DHT, JPG and DAC segments are skipped, not taken for frames") {
        // Each looks like a frame header of 1x1 if misread.
        for (unsigned char m : {0xC4, 0xC8, 0xCC}) {
            CAPTURE(static_cast<int>(m));
            const std::string decoy = jpeg_sof(m, 1, 1);
            check_info(read_exact(jpeg(576, 1024, 0xC0, decoy)), ImageFormat::jpeg, 576, 1024,
                       false);
        }
    }

    TEST_CASE("JPEG: fill bytes and standalone markers before the frame") {
        const std::string fill = std::string("\xFF\xFF\xFF", 3);  // then the next marker's FF
        std::string with_fill = jpeg(640, 480);
        with_fill.insert(with_fill.find("\xFF\xC0"), fill);
        check_info(read_exact(with_fill), ImageFormat::jpeg, 640, 480, false);
        const std::string standalone = std::string("\xFF\x01\xFF\xD0\xFF\xD7\xFF\xD8", 8);
        check_info(read_exact(jpeg(640, 480, 0xC2, standalone)), ImageFormat::jpeg, 640, 480,
                   false);
    }

    TEST_CASE("JPEG: truncated before the end of the frame header is refused") {
        const std::string file = jpeg(1024, 576);
        const std::size_t sof_end = file.find("\xFF\xC0") + 2 + 17;
        check_prefixes_refused(file, sof_end);
        CHECK(read_exact(std::string_view(file).substr(0, sof_end)));
    }

    TEST_CASE("JPEG: lying or invalid segments are refused") {
        const std::string good = jpeg(100, 100);
        const std::size_t app0_len = 4;  // high byte of APP0's length
        CHECK_FALSE(read_exact(with_byte(good, app0_len, '\x7F')));  // APP0 runs past the end
        CHECK_FALSE(read_exact(with_byte(with_byte(good, app0_len, 0), 5, 1)));  // length 1
        CHECK_FALSE(read_exact(jpeg(100, 0)));   // height defined later by DNL: unusable
        CHECK_FALSE(read_exact(jpeg(0, 100)));
        // SOS or EOI before any frame.
        CHECK_FALSE(read_exact(std::string("\xFF\xD8", 2) +
                               jpeg_segment(0xDA, std::string("\x01\x01\x00\x00\x3f\x00", 6))));
        CHECK_FALSE(read_exact(std::string("\xFF\xD8\xFF\xD9", 4)));
        // Garbage between segments, and a stuffed zero where a marker belongs.
        std::string garbage = good;
        garbage.insert(garbage.find("\xFF\xDB"), "x");
        CHECK_FALSE(read_exact(garbage));
        CHECK_FALSE(read_exact(std::string("\xFF\xD8\xFF\x00", 4)));
        // A frame header whose length does not match its component count.
        std::string sof = jpeg_sof(0xC0, 10, 10);
        sof[3] = 16;
        CHECK_FALSE(read_exact(std::string("\xFF\xD8", 2) + sof + std::string(20, '\0')));
        // Only fill bytes after SOI.
        CHECK_FALSE(read_exact(std::string("\xFF\xD8\xFF\xFF\xFF", 5)));
    }

    TEST_CASE("WebP: lossy, lossless and extended headers") {
        check_info(read_exact(webp_vp8(1024, 576)), ImageFormat::webp, 1024, 576, false);
        check_info(read_exact(webp_vp8(16383, 1)), ImageFormat::webp, 16383, 1, false);
        check_info(read_exact(webp_vp8l(300, 200, false)), ImageFormat::webp, 300, 200, false);
        check_info(read_exact(webp_vp8l(16384, 16384, true)), ImageFormat::webp, 16384, 16384,
                   true);
        check_info(read_exact(webp_vp8x(5000, 3000, true)), ImageFormat::webp, 5000, 3000, true);
        check_info(read_exact(webp_vp8x(1 << 24, 1, false)), ImageFormat::webp, 1 << 24, 1,
                   false);
    }

    TEST_CASE("WebP: the VP8 scale bits are not part of the size") {
        std::string file = webp_vp8(640, 480);
        file[20 + 7] = static_cast<char>(file[20 + 7] | 0xC0);  // width's scale bits
        check_info(read_exact(file), ImageFormat::webp, 640, 480, false);
    }

    TEST_CASE("WebP: truncated headers are refused") {
        const std::string vp8 = webp_vp8(64, 64);
        check_prefixes_refused(vp8, 20 + 10);
        CHECK(read_exact(std::string_view(vp8).substr(0, 30)));
        check_prefixes_refused(webp_vp8l(64, 64, false), 20 + 5);
        check_prefixes_refused(webp_vp8x(64, 64, false), 20 + 10);
    }

    TEST_CASE("WebP: lying or invalid headers are refused") {
        const std::string vp8 = webp_vp8(64, 64);
        CHECK_FALSE(read_exact(with_byte(vp8, 20, 1)));       // not a key frame
        CHECK_FALSE(read_exact(with_byte(vp8, 23, '\x9e')));  // start code
        CHECK_FALSE(read_exact(webp_vp8(0, 64)));
        CHECK_FALSE(read_exact(webp_vp8(64, 0)));
        CHECK_FALSE(read_exact(with_byte(vp8, 8, 'X')));      // "XEBP"
        CHECK_FALSE(read_exact(with_byte(vp8, 4, 8)));        // RIFF size smaller than the chunk
        CHECK_FALSE(read_exact(with_byte(vp8, 16, 4)));       // chunk too short for a VP8 header
        const std::string vp8l = webp_vp8l(64, 64, false);
        CHECK_FALSE(read_exact(with_byte(vp8l, 20, '\x2e')));  // signature
        CHECK_FALSE(read_exact(with_byte(vp8l, 24, '\x20')));  // version 1
        CHECK_FALSE(read_exact(riff("VP8X", std::string(9, '\0'))));  // chunk shorter than 10
        CHECK_FALSE(read_exact(riff("ALPH", std::string(16, '\0'))));  // not an image chunk
        CHECK_FALSE(read_exact("RIFF\xff\xff\xff\xffWEBP"));
    }

    TEST_CASE("other content is not an image") {
        CHECK_FALSE(read_exact(""));
        CHECK_FALSE(read_exact("GIF89a\x01\x00\x01\x00"));
        CHECK_FALSE(read_exact("not an image at all"));
        CHECK_FALSE(read_exact(std::string("\x89PNG", 4)));
        CHECK_FALSE(read_exact(std::string("\xFF\xD8", 2)));
        CHECK_FALSE(read_exact("RIFF"));
        CHECK_FALSE(read_exact(std::string("RIFF\x04\0\0\0WAVE", 12)));
    }

    TEST_CASE("format names and MIME types") {
        CHECK(format_name(ImageFormat::png) == "png");
        CHECK(format_name(ImageFormat::jpeg) == "jpeg");
        CHECK(format_name(ImageFormat::webp) == "webp");
        CHECK(mime_type(ImageFormat::png) == "image/png");
        CHECK(mime_type(ImageFormat::jpeg) == "image/jpeg");
        CHECK(mime_type(ImageFormat::webp) == "image/webp");
    }
}
