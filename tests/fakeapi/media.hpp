// Byte-level helpers of the stand-in: image sniffing, multipart parsing, hashing and the fake
// result files. Deliberately independent of genq's own parsers in lib/ (this is the code they
// are tested against).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace fakeapi {

struct ImageInfo {
    std::string format;  // png | jpeg | webp
    std::uint32_t width = 0;
    std::uint32_t height = 0;
};

// Format and dimensions from the file header; nullopt when it is none of PNG, JPEG, WebP.
std::optional<ImageInfo> sniff_image(std::string_view data);

struct Part {
    std::string name;
    std::string filename;
    std::string content_type;
    std::string data;
};
using Form = std::map<std::string, Part, std::less<>>;

// Parses a multipart/form-data body; on failure returns nullopt and says why in `error`.
std::optional<Form> parse_multipart(std::string_view content_type, std::string_view body,
                                    std::string& error);

std::string lower(std::string_view s);
std::string sha256_hex(std::string_view data);
std::string base64(std::string_view data);
std::string hex_id(std::mt19937_64& rng, std::size_t chars);

// Deterministic fake results: the same seed gives the same bytes. A video is the built-in
// playable clip (mp4_clip.hpp) padded to at least `size` bytes.
std::string make_mp4(std::uint64_t seed, std::size_t size);
std::string make_image(std::string_view format, std::uint64_t seed);

}  // namespace fakeapi
