#include "provider/image_fit.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "provider/image_info.hpp"

namespace genq::provider {
namespace {

// One output coordinate's source taps and weights along one axis.
struct Taps {
    int first = 0;
    std::vector<float> weights;
};

// Resampling along one axis from the source span [offset, offset + span) to `out` samples.
// Shrinking averages the covered source pixels (area filter: no aliasing from a 4000-pixel
// photo); enlarging interpolates linearly between the two nearest pixels.
std::vector<Taps> make_taps(int src_len, double offset, double span, int out) {
    std::vector<Taps> taps(static_cast<std::size_t>(out));
    const double scale = span / out;  // source pixels per output pixel
    for (int i = 0; i < out; ++i) {
        Taps& t = taps[static_cast<std::size_t>(i)];
        if (scale >= 1.0) {
            const double lo = offset + i * scale, hi = lo + scale;
            const int a = std::max(0, static_cast<int>(std::floor(lo)));
            const int b = std::min(src_len, static_cast<int>(std::ceil(hi)));
            t.first = a;
            for (int s = a; s < b; ++s) {
                const double cover = std::min(hi, s + 1.0) - std::max(lo, double(s));
                t.weights.push_back(static_cast<float>(cover / scale));
            }
        } else {
            const double centre = offset + (i + 0.5) * scale - 0.5;
            const int a = std::clamp(static_cast<int>(std::floor(centre)), 0, src_len - 1);
            const int b = std::min(a + 1, src_len - 1);
            const float f = static_cast<float>(std::clamp(centre - a, 0.0, 1.0));
            t.first = a;
            t.weights = b == a ? std::vector<float>{1.0f} : std::vector<float>{1 - f, f};
        }
    }
    return taps;
}

std::uint8_t to_byte(float v) {
    return static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L));
}

// Resamples the source rectangle (sx, sy, sw, sh) of `src` to dw x dh: rows first, then
// columns (separable), in floats.
RgbImage resample(const RgbImage& src, double sx, double sy, double sw, double sh, int dw, int dh) {
    const auto xt = make_taps(src.width, sx, sw, dw);
    const auto yt = make_taps(src.height, sy, sh, dh);
    const int y0 = yt.front().first;
    const int y1 = yt.back().first + static_cast<int>(yt.back().weights.size());
    std::vector<float> rows(static_cast<std::size_t>(y1 - y0) * dw * 3);
    for (int y = y0; y < y1; ++y) {
        const std::uint8_t* in = src.rgb.data() + static_cast<std::size_t>(y) * src.width * 3;
        float* out = rows.data() + static_cast<std::size_t>(y - y0) * dw * 3;
        for (int x = 0; x < dw; ++x) {
            const Taps& t = xt[static_cast<std::size_t>(x)];
            float acc[3] = {0, 0, 0};
            for (std::size_t k = 0; k < t.weights.size(); ++k)
                for (int c = 0; c < 3; ++c)
                    acc[c] += t.weights[k] * in[(t.first + static_cast<int>(k)) * 3 + c];
            for (int c = 0; c < 3; ++c) out[x * 3 + c] = acc[c];
        }
    }
    RgbImage dst;
    dst.width = dw;
    dst.height = dh;
    dst.rgb.resize(static_cast<std::size_t>(dw) * dh * 3);
    for (int y = 0; y < dh; ++y) {
        const Taps& t = yt[static_cast<std::size_t>(y)];
        for (int x = 0; x < dw * 3; ++x) {
            float acc = 0;
            for (std::size_t k = 0; k < t.weights.size(); ++k)
                acc +=
                    t.weights[k] *
                    rows[static_cast<std::size_t>(t.first - y0 + static_cast<int>(k)) * dw * 3 + x];
            dst.rgb[static_cast<std::size_t>(y) * dw * 3 + x] = to_byte(acc);
        }
    }
    return dst;
}

// Centred crop: the largest source rectangle of the target's aspect ratio.
RgbImage crop_fit(const RgbImage& src, int tw, int th) {
    const double target = double(tw) / th, aspect = double(src.width) / src.height;
    double sw = src.width, sh = src.height;
    if (aspect > target)
        sw = src.height * target;
    else
        sh = src.width / target;
    return resample(src, (src.width - sw) / 2, (src.height - sh) / 2, sw, sh, tw, th);
}

// Centred pad: the whole source scaled to fit inside, black bars on two sides.
RgbImage pad_fit(const RgbImage& src, int tw, int th) {
    const double scale = std::min(double(tw) / src.width, double(th) / src.height);
    const int iw = std::clamp(static_cast<int>(std::lround(src.width * scale)), 1, tw);
    const int ih = std::clamp(static_cast<int>(std::lround(src.height * scale)), 1, th);
    const RgbImage inner = resample(src, 0, 0, src.width, src.height, iw, ih);
    RgbImage dst;
    dst.width = tw;
    dst.height = th;
    dst.rgb.assign(static_cast<std::size_t>(tw) * th * 3, 0);
    const int ox = (tw - iw) / 2, oy = (th - ih) / 2;
    for (int y = 0; y < ih; ++y) {
        std::copy_n(inner.rgb.data() + static_cast<std::size_t>(y) * iw * 3,
                    static_cast<std::size_t>(iw) * 3,
                    dst.rgb.data() + (static_cast<std::size_t>(y + oy) * tw + ox) * 3);
    }
    return dst;
}

}  // namespace

std::optional<FitMode> parse_fit_mode(std::string_view text) {
    if (text == "crop") return FitMode::crop;
    if (text == "pad") return FitMode::pad;
    return std::nullopt;
}

std::string_view fit_mode_name(FitMode mode) {
    return mode == FitMode::crop ? "crop" : "pad";
}

const std::vector<std::pair<int, int>>& video_sizes() {
    static const std::vector<std::pair<int, int>> sizes{{1024, 576}, {576, 1024}, {768, 768}};
    return sizes;
}

std::pair<int, int> nearest_video_size(int width, int height) {
    const double aspect = std::log(double(width) / height);
    std::pair<int, int> best = video_sizes().front();
    double best_distance = INFINITY;
    // 4:3 is exactly halfway between 16:9 and 1:1: a tie (within rounding) goes to the size
    // listed first, landscape before portrait before square, so a landscape image stays
    // landscape and a portrait one portrait.
    for (const auto& size : video_sizes()) {
        const double d = std::abs(aspect - std::log(double(size.first) / size.second));
        if (d < best_distance - 1e-9) {
            best_distance = d;
            best = size;
        }
    }
    return best;
}

RgbImage fit_pixels(const RgbImage& src, int tw, int th, FitMode mode) {
    return mode == FitMode::crop ? crop_fit(src, tw, th) : pad_fit(src, tw, th);
}

// The largest power-of-two reduction (at most 8) that still leaves at least one source pixel per
// output pixel: a 4000x3000 photo cropped to 1024x576 may be decoded at 2000x1500.
int reduction_for(int w, int h, int tw, int th, FitMode mode) {
    const double sx = double(tw) / w, sy = double(th) / h;
    const double scale = mode == FitMode::crop ? std::max(sx, sy) : std::min(sx, sy);
    int reduce = 1;
    while (reduce < 8 && scale * reduce * 2 <= 1.0) reduce *= 2;
    return reduce;
}

Result<FitResult> fit_to_video(std::string_view bytes, FitMode mode, std::string_view field) {
    const auto info = read_image_info(bytes);
    if (!info) return decode_image(bytes, field).error();  // the decoder words the refusal
    const auto [tw, th] = nearest_video_size(info->width, info->height);
    auto decoded =
        decode_image(bytes, field, reduction_for(info->width, info->height, tw, th, mode));
    if (!decoded) return decoded.error();
    auto png = encode_png(fit_pixels(*decoded, tw, th, mode));
    if (!png) return png.error();
    FitResult out;
    out.png = std::move(*png);
    out.width = tw;
    out.height = th;
    out.original_width = info->width;
    out.original_height = info->height;
    out.mode = mode;
    return out;
}

}  // namespace genq::provider
