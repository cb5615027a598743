// --fit (issue 15): real images made here with the encoders of libjpeg-turbo, libwebp and
// libpng, fitted to the video sizes; the results are decoded again and their pixels checked.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

#include "provider/image_fit.hpp"
#include "provider/image_info.hpp"
#include "provider/validate.hpp"

using namespace genq::provider;

namespace {

// A picture in three vertical bands: red | green | blue, the outer ones `edge` pixels wide.
RgbImage bands(int w, int h, int edge) {
    RgbImage img;
    img.width = w;
    img.height = h;
    img.rgb.resize(static_cast<std::size_t>(w) * h * 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            std::uint8_t* p = &img.rgb[(static_cast<std::size_t>(y) * w + x) * 3];
            const int band = x < edge ? 0 : x >= w - edge ? 2 : 1;
            p[0] = band == 0 ? 255 : 0;
            p[1] = band == 1 ? 255 : 0;
            p[2] = band == 2 ? 255 : 0;
        }
    return img;
}

RgbImage solid(int w, int h, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    RgbImage img;
    img.width = w;
    img.height = h;
    for (int i = 0; i < w * h; ++i) img.rgb.insert(img.rgb.end(), {r, g, b});
    return img;
}

std::string to_jpeg(const RgbImage& img, int quality = 90) {
    jpeg_compress_struct c;
    jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char* buf = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&c, &buf, &size);
    c.image_width = static_cast<JDIMENSION>(img.width);
    c.image_height = static_cast<JDIMENSION>(img.height);
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = const_cast<std::uint8_t*>(img.rgb.data()) +
                       static_cast<std::size_t>(c.next_scanline) * img.width * 3;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    std::string out(reinterpret_cast<char*>(buf), size);
    std::free(buf);
    return out;
}

std::string to_webp(const RgbImage& img) {
    std::uint8_t* out = nullptr;
    const std::size_t size =
        WebPEncodeLosslessRGB(img.rgb.data(), img.width, img.height, img.width * 3, &out);
    REQUIRE(size > 0);
    std::string s(reinterpret_cast<char*>(out), size);
    WebPFree(out);
    return s;
}

std::string to_png(const RgbImage& img) {
    auto png = encode_png(img);
    REQUIRE(png.ok());
    return *png;
}

// An RGBA PNG, fully transparent on its left half and opaque white on the right.
std::string half_transparent_png(int w, int h) {
    std::vector<std::uint8_t> rgba;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            rgba.insert(rgba.end(), {255, 255, 255, std::uint8_t(x < w / 2 ? 0 : 255)});
    png_image img{};
    img.version = PNG_IMAGE_VERSION;
    img.width = static_cast<png_uint_32>(w);
    img.height = static_cast<png_uint_32>(h);
    img.format = PNG_FORMAT_RGBA;
    png_alloc_size_t size = 0;
    REQUIRE(png_image_write_to_memory(&img, nullptr, &size, 0, rgba.data(), 0, nullptr));
    std::string out(size, '\0');
    REQUIRE(png_image_write_to_memory(&img, out.data(), &size, 0, rgba.data(), 0, nullptr));
    out.resize(size);
    return out;
}

const std::uint8_t* pixel(const RgbImage& img, int x, int y) {
    return &img.rgb[(static_cast<std::size_t>(y) * img.width + x) * 3];
}

// Decodes a fit result and checks it is an image the video kind accepts.
RgbImage accepted_by_video(const FitResult& fit) {
    const Operation* video = find_operation("video");
    REQUIRE(video != nullptr);
    auto v = validate_image(*video, fit.png);
    REQUIRE_MESSAGE(v.ok(), (v.ok() ? "" : v.error().message));
    CHECK(v->format == ImageFormat::png);
    CHECK(v->width == fit.width);
    CHECK(v->height == fit.height);
    auto decoded = decode_image(fit.png);
    REQUIRE(decoded.ok());
    return *decoded;
}

bool near(const std::uint8_t* p, int r, int g, int b, int tolerance = 12) {
    return std::abs(p[0] - r) <= tolerance && std::abs(p[1] - g) <= tolerance &&
           std::abs(p[2] - b) <= tolerance;
}

}  // namespace

TEST_SUITE("provider.fit") {
    TEST_CASE("the nearest orientation; a tie keeps the image's own orientation") {
        using P = std::pair<int, int>;
        CHECK(nearest_video_size(1920, 1080) == P{1024, 576});
        CHECK(nearest_video_size(500, 900) == P{576, 1024});
        CHECK(nearest_video_size(1000, 1000) == P{768, 768});
        CHECK(nearest_video_size(1100, 1000) == P{768, 768});
        CHECK(nearest_video_size(3000, 1000) == P{1024, 576});
        // 4:3 lies exactly halfway (as log ratios) between 16:9 and 1:1.
        CHECK(nearest_video_size(4000, 3000) == P{1024, 576});
        CHECK(nearest_video_size(3000, 4000) == P{576, 1024});
    }

    TEST_CASE("fit modes by name") {
        CHECK(parse_fit_mode("crop") == FitMode::crop);
        CHECK(parse_fit_mode("pad") == FitMode::pad);
        CHECK_FALSE(parse_fit_mode("stretch").has_value());
        CHECK(fit_mode_name(FitMode::pad) == "pad");
    }

    TEST_CASE("a 4000x3000 JPEG becomes an accepted 1024x576 PNG, centre-cropped") {
        const std::string jpg = to_jpeg(bands(4000, 3000, 300));
        auto fit = fit_to_video(jpg, FitMode::crop);
        REQUIRE(fit.ok());
        CHECK(fit->original_width == 4000);
        CHECK(fit->original_height == 3000);
        CHECK(fit->mode == FitMode::crop);
        const RgbImage out = accepted_by_video(*fit);
        // Cropping 4:3 to 16:9 keeps the full width: the red and blue bands stay at the edges.
        CHECK(near(pixel(out, 2, 288), 255, 0, 0));
        CHECK(near(pixel(out, 512, 288), 0, 255, 0));
        CHECK(near(pixel(out, 1021, 288), 0, 0, 255));
    }

    TEST_CASE("a large JPEG or WebP may be decoded at a reduced size; a PNG never is") {
        const std::string jpg = to_jpeg(bands(4000, 3000, 300));
        auto half = decode_image(jpg, "image", 2);
        REQUIRE(half.ok());
        CHECK(half->width == 2000);
        CHECK(half->height == 1500);
        auto eighth = decode_image(to_jpeg(bands(1001, 999, 100)), "image", 8);
        REQUIRE(eighth.ok());
        CHECK(eighth->width == 126);  // sides rounded up
        CHECK(eighth->height == 125);
        auto odd = decode_image(jpg, "image", 3);  // not a power of two: full size
        REQUIRE(odd.ok());
        CHECK(odd->width == 4000);
        auto webp = decode_image(to_webp(solid(1001, 600, 9, 8, 7)), "image", 4);
        REQUIRE(webp.ok());
        CHECK(webp->width == 251);
        CHECK(webp->height == 150);
        CHECK(near(pixel(*webp, 125, 75), 9, 8, 7, 0));
        auto png = decode_image(to_png(solid(800, 600, 1, 2, 3)), "image", 4);
        REQUIRE(png.ok());
        CHECK(png->width == 800);
    }

    TEST_CASE("cropping removes equal parts of both sides") {
        // 2000x1000 (2:1) to 16:9 keeps 1777.8 columns: 111 cut on each side, so 100-pixel
        // bands vanish entirely.
        auto fit = fit_to_video(to_png(bands(2000, 1000, 100)), FitMode::crop);
        REQUIRE(fit.ok());
        const RgbImage out = accepted_by_video(*fit);
        REQUIRE(out.width == 1024);
        for (int y : {0, 287, 575}) {
            CHECK(near(pixel(out, 0, y), 0, 255, 0));
            CHECK(near(pixel(out, 1023, y), 0, 255, 0));
        }
    }

    TEST_CASE("padding keeps the whole picture between black bars") {
        // 2000x1000 scaled by 0.512 is 1024x512: 32-pixel bars above and below.
        auto fit = fit_to_video(to_png(bands(2000, 1000, 100)), FitMode::pad);
        REQUIRE(fit.ok());
        CHECK(fit->mode == FitMode::pad);
        const RgbImage out = accepted_by_video(*fit);
        CHECK(near(pixel(out, 512, 0), 0, 0, 0, 0));
        CHECK(near(pixel(out, 512, 31), 0, 0, 0, 0));
        CHECK(near(pixel(out, 512, 575), 0, 0, 0, 0));
        CHECK(near(pixel(out, 512, 288), 0, 255, 0));
        CHECK(near(pixel(out, 10, 288), 255, 0, 0));    // the red band survives padding
        CHECK(near(pixel(out, 1014, 288), 0, 0, 255));  // and so does the blue one
    }

    TEST_CASE("a 500x900 PNG becomes a portrait 576x1024") {
        auto fit = fit_to_video(to_png(solid(500, 900, 200, 100, 50)), FitMode::crop);
        REQUIRE(fit.ok());
        CHECK(fit->width == 576);
        CHECK(fit->height == 1024);
        const RgbImage out = accepted_by_video(*fit);
        CHECK(near(pixel(out, 0, 0), 200, 100, 50, 1));
        CHECK(near(pixel(out, 575, 1023), 200, 100, 50, 1));
        auto padded = fit_to_video(to_png(solid(500, 900, 200, 100, 50)), FitMode::pad);
        REQUIRE(padded.ok());
        const RgbImage p = accepted_by_video(*padded);
        // 900 -> 1024 scales 500 to 569: 3 black columns on the left, 4 on the right.
        CHECK(near(pixel(p, 0, 512), 0, 0, 0, 0));
        CHECK(near(pixel(p, 575, 512), 0, 0, 0, 0));
        CHECK(near(pixel(p, 288, 512), 200, 100, 50, 1));
    }

    TEST_CASE("a square WebP becomes 768x768, enlarged smoothly") {
        const std::string webp = to_webp(solid(300, 300, 10, 20, 250));
        REQUIRE(read_image_info(webp)->format == ImageFormat::webp);
        auto fit = fit_to_video(webp, FitMode::crop);
        REQUIRE(fit.ok());
        CHECK(fit->width == 768);
        const RgbImage out = accepted_by_video(*fit);
        CHECK(near(pixel(out, 0, 0), 10, 20, 250, 0));
        CHECK(near(pixel(out, 767, 767), 10, 20, 250, 0));
    }

    TEST_CASE("transparent pixels become black") {
        auto fit = fit_to_video(half_transparent_png(800, 800), FitMode::crop);
        REQUIRE(fit.ok());
        const RgbImage out = accepted_by_video(*fit);
        CHECK(near(pixel(out, 100, 384), 0, 0, 0, 0));
        CHECK(near(pixel(out, 700, 384), 255, 255, 255, 0));
    }

    TEST_CASE("tiny and extreme shapes still give an exact video size") {
        for (auto [w, h] :
             {std::pair{1, 1}, std::pair{1, 5000}, std::pair{5000, 1}, std::pair{64, 63}}) {
            CAPTURE(w);
            CAPTURE(h);
            for (FitMode mode : {FitMode::crop, FitMode::pad}) {
                auto fit = fit_to_video(to_png(solid(w, h, 90, 90, 90)), mode);
                REQUIRE(fit.ok());
                accepted_by_video(*fit);
            }
        }
    }

    TEST_CASE("refusals name the field: not an image, a broken file, a decompression bomb") {
        auto garbage = fit_to_video("not an image at all", FitMode::crop, "image");
        REQUIRE_FALSE(garbage.ok());
        CHECK(garbage.error().code == "invalid_image");
        CHECK(garbage.error().message.rfind("image: not a PNG, JPEG or WebP", 0) == 0);

        std::string cut = to_jpeg(bands(600, 400, 50));
        cut.resize(200);
        auto broken = fit_to_video(cut, FitMode::crop);
        // libjpeg fills a cut-off scan with grey and warns; a cut header is an error. Either
        // way nothing crashes and a result, if any, is a valid video input.
        if (broken.ok())
            accepted_by_video(*broken);
        else
            CHECK(broken.error().code == "invalid_image");

        // A PNG header claiming 20000x20000: refused before anything is allocated.
        RgbImage small = solid(8, 8, 1, 2, 3);
        std::string bomb = to_png(small);
        for (int i : {16, 20}) {  // IHDR width and height (big-endian)
            bomb[i] = 0;
            bomb[i + 1] = 0;
            bomb[i + 2] = char(0x4e);
            bomb[i + 3] = char(0x20);
        }
        auto refused = fit_to_video(bomb, FitMode::pad, "image");
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error().message ==
              "image: 20000x20000 is too large to fit (at most 100 megapixels)");
    }
}
