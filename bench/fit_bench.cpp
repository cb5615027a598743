// Measures --fit: the time to turn a 4000x3000 JPEG, a 500x900 PNG and a 3000x3000 WebP into
// video-sized PNGs (decode + resample + encode), and the peak memory. Prints numbers; asserts
// nothing. Usage: build/tests/genq_fit_bench [repetitions]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include <jpeglib.h>
#include <webp/encode.h>

#include "provider/image_fit.hpp"

using namespace genq::provider;

namespace {

// A photo-like test picture: smooth gradients plus some per-pixel noise (compresses like a photo).
RgbImage picture(int w, int h) {
    RgbImage img;
    img.width = w;
    img.height = h;
    img.rgb.resize(static_cast<std::size_t>(w) * h * 3);
    unsigned seed = 12345;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            seed = seed * 1103515245u + 12345u;
            const int noise = static_cast<int>((seed >> 16) % 16);
            std::uint8_t* p = &img.rgb[(static_cast<std::size_t>(y) * w + x) * 3];
            p[0] = static_cast<std::uint8_t>((x * 255 / w + noise) & 0xff);
            p[1] = static_cast<std::uint8_t>((y * 255 / h + noise) & 0xff);
            p[2] = static_cast<std::uint8_t>(((x + y) * 127 / (w + h) + noise) & 0xff);
        }
    return img;
}

std::string jpeg_of(const RgbImage& img) {
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
    jpeg_set_quality(&c, 90, TRUE);
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

std::string webp_of(const RgbImage& img) {
    std::uint8_t* out = nullptr;
    const std::size_t n =
        WebPEncodeRGB(img.rgb.data(), img.width, img.height, img.width * 3, 85, &out);
    std::string s(reinterpret_cast<char*>(out), n);
    WebPFree(out);
    return s;
}

long peak_rss_kib() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

void measure(const char* name, const std::string& bytes, int reps) {
    for (FitMode mode : {FitMode::crop, FitMode::pad}) {
        double best = 1e9, total = 0;
        FitResult last;
        for (int i = 0; i < reps; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            auto r = fit_to_video(bytes, mode);
            const double ms =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                    .count();
            if (!r) {
                std::printf("%s: %s\n", name, r.error().message.c_str());
                return;
            }
            last = std::move(*r);
            best = std::min(best, ms);
            total += ms;
        }
        std::printf(
            "%-22s %-4s %7.1f KiB in -> %dx%d, %6.1f KiB PNG: best %7.1f ms, mean %7.1f ms\n", name,
            std::string(fit_mode_name(mode)).c_str(), bytes.size() / 1024.0, last.width,
            last.height, last.png.size() / 1024.0, best, total / reps);
    }
}

}  // namespace

// `--write DIR`: the three pictures of the "done when" as files, for the --fit
// integration test (tests/integration/test_fit.py): photo.jpg 4000x3000, tall.png 500x900,
// square.webp 1200x1200.
int write_inputs(const std::string& dir) {
    auto tall = encode_png(picture(500, 900));
    const std::pair<const char*, std::string> files[] = {
        {"photo.jpg", jpeg_of(picture(4000, 3000))},
        {"tall.png", tall ? *tall : std::string()},
        {"square.webp", webp_of(picture(1200, 1200))}};
    for (const auto& [name, bytes] : files) {
        const std::string path = dir + "/" + name;
        std::FILE* f = std::fopen(path.c_str(), "wb");
        if (!f || bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) {
            std::fprintf(stderr, "cannot write %s\n", path.c_str());
            if (f) std::fclose(f);
            return 1;
        }
        std::fclose(f);
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc > 2 && std::string(argv[1]) == "--write") return write_inputs(argv[2]);
    const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
    const long base = peak_rss_kib();
    const std::string jpg = jpeg_of(picture(4000, 3000));
    auto png500 = encode_png(picture(500, 900));
    const std::string webp = webp_of(picture(3000, 3000));
    const long inputs = peak_rss_kib();
    measure("4000x3000 JPEG", jpg, reps);
    measure("500x900 PNG", *png500, reps);
    measure("3000x3000 WebP", webp, reps);
    std::printf("peak RSS: %ld MiB (%ld MiB before fitting, %ld MiB at start)\n",
                peak_rss_kib() / 1024, inputs / 1024, base / 1024);
    return 0;
}
