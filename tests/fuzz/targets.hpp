// The bodies of genq's fuzz targets, shared by the libFuzzer entry points (tests/fuzz/fuzz_*.cpp,
// built by scripts/fuzz.sh) and by the unit test that replays the corpus in CI
// (tests/unit/test_fuzz_corpus.cpp). Each feeds arbitrary bytes to one of genq's parsers and
// checks the invariants its contract promises; a broken invariant aborts (a crash for libFuzzer,
// a failure for the unit test).
#pragma once
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "provider/image_fit.hpp"
#include "provider/image_info.hpp"
#include "provider/multipart.hpp"
#include "provider/response.hpp"

namespace genq::fuzz {

inline void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
        std::abort();
    }
}

// Input: "<content-type>\n<body>" (no newline: all of it is the body, with a fixed boundary).
inline void multipart(std::string_view in) {
    std::string_view ct = "multipart/form-data; boundary=XyZ";
    std::string_view body = in;
    if (auto nl = in.find('\n'); nl != std::string_view::npos && nl < 256) {
        ct = in.substr(0, nl);
        body = in.substr(nl + 1);
    }
    auto parts = provider::parse_multipart(ct, body);
    if (!parts) {
        check(!parts.error().message.empty(), "multipart error without a message");
        return;
    }
    check(parts->size() <= 64, "more than 64 parts");
    for (const auto& p : *parts) {
        // Every part's data lies inside the body it came from.
        check(p.data.empty() || (p.data.data() >= body.data() &&
                                 p.data.data() + p.data.size() <= body.data() + body.size()),
              "part data outside the body");
    }
}

inline void image_info(std::string_view in) {
    for (auto f : {provider::ImageFormat::png, provider::ImageFormat::jpeg,
                   provider::ImageFormat::webp})
        (void)provider::image_is_complete(in, f);
    auto info = provider::read_image_info(in);
    if (!info) return;
    check(info->width > 0 && info->height > 0, "non-positive image side");
    check(!provider::format_name(info->format).empty(), "unnamed format");
}

inline void config(std::string_view in) {
    Environment env{{"HOME", "/nonexistent-genq-fuzz"}};
    auto load = parse_config(std::string(in), "fuzz.toml", env);
    for (const auto& p : load.problems) {
        check(!p.reason.empty(), "config problem without a reason");
        (void)p.to_string();
    }
    if (load.problems.empty()) {
        check(!load.config.keys.empty(), "valid config without keys");
        check(load.config.api.base_url.rfind("https://", 0) == 0, "valid config with non-https URL");
        check(load.config.limits.window > 0 && load.config.limits.requests_per_window > 0,
              "valid config with a non-positive limit");
    }
}

// Input: byte 0-1 the status, byte 2 flags, then the body.
inline void response(std::string_view in) {
    if (in.size() < 3) return;
    int status = static_cast<unsigned char>(in[0]) | (static_cast<unsigned char>(in[1]) << 8);
    status = status % 700;
    const bool sync = in[2] & 1;
    std::string_view body = in.substr(3);
    auto s = provider::classify_submit(status, body, sync);
    if (s.outcome == provider::Outcome::accepted) {
        check(!s.remote_id.empty() && s.remote_id.size() <= 128, "bad remote id length");
        for (char c : s.remote_id)
            check(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_',
                  "bad remote id character");
    }
    (void)provider::outcome_name(s.outcome);
    auto p = provider::classify_poll(status, body);
    (void)provider::outcome_name(p.outcome);
    (void)provider::parse_error_body(body);
    (void)provider::is_json_content_type(body.substr(0, 64));
    (void)provider::parse_json_result(body, (in[2] & 2) ? "image" : "video");
}

// --fit's decoders (libpng, libjpeg-turbo, libwebp behind image_codec) and resampler on
// arbitrary bytes: either a refusal that names the field, or pixels of the promised size that
// fit to an exact target size. Pictures over 4 megapixels are skipped to keep runs fast (the
// 100-megapixel guard itself is unit-tested).
inline void image_decode(std::string_view in) {
    const auto info = provider::read_image_info(in);
    if (info && std::int64_t{info->width} * info->height > 4'000'000) return;
    auto img = provider::decode_image(in, "image");
    if (!img) {
        check(img.error().code == "invalid_image", "decode refusal is invalid_image");
        check(img.error().message.rfind("image: ", 0) == 0, "decode refusal names the field");
        return;
    }
    check(img->width > 0 && img->height > 0, "decoded size is positive");
    check(img->rgb.size() == std::size_t(img->width) * std::size_t(img->height) * 3,
          "three bytes per decoded pixel");
    // The reduced decode (JPEG DCT scaling, WebP decoder scaling), by a factor the input picks.
    const int reduce = 1 << (in.size() % 4);
    auto small = provider::decode_image(in, "image", reduce);
    check(small.ok(), "a picture that decodes whole also decodes reduced");
    check(small->width <= img->width && small->height <= img->height, "reduced is not larger");
    check(small->width >= (img->width + reduce - 1) / reduce &&
              small->height >= (img->height + reduce - 1) / reduce,
          "reduced by at most the factor asked");
    check(small->rgb.size() == std::size_t(small->width) * std::size_t(small->height) * 3,
          "three bytes per reduced pixel");
    const auto [tw, th] = provider::nearest_video_size(img->width, img->height);
    for (const auto mode : {provider::FitMode::crop, provider::FitMode::pad}) {
        const auto out = provider::fit_pixels(*img, tw / 16, th / 16, mode);
        check(out.width == tw / 16 && out.height == th / 16, "fit gives the exact target size");
        check(out.rgb.size() == std::size_t(out.width) * std::size_t(out.height) * 3,
              "three bytes per fitted pixel");
    }
}

}  // namespace genq::fuzz
