#include "media.hpp"

#include "mp4_clip.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>

namespace fakeapi {
namespace {

unsigned u8(std::string_view d, std::size_t at) { return static_cast<unsigned char>(d[at]); }

std::uint32_t be16(std::string_view d, std::size_t at) { return u8(d, at) << 8 | u8(d, at + 1); }

std::uint32_t be32(std::string_view d, std::size_t at) {
    return be16(d, at) << 16 | be16(d, at + 2);
}

std::uint32_t le16(std::string_view d, std::size_t at) { return u8(d, at) | u8(d, at + 1) << 8; }

std::uint32_t le24(std::string_view d, std::size_t at) { return le16(d, at) | u8(d, at + 2) << 16; }

std::uint32_t le32(std::string_view d, std::size_t at) { return le24(d, at) | u8(d, at + 3) << 24; }

std::optional<ImageInfo> checked(const char* format, std::uint32_t w, std::uint32_t h) {
    if (w == 0 || h == 0) {
        return std::nullopt;
    }
    return ImageInfo{format, w, h};
}

std::optional<ImageInfo> sniff_png(std::string_view d) {
    static constexpr std::string_view sig{"\x89PNG\r\n\x1a\n", 8};
    if (d.size() < 24 || d.substr(0, 8) != sig || d.substr(12, 4) != "IHDR") {
        return std::nullopt;
    }
    return checked("png", be32(d, 16), be32(d, 20));
}

// Start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
bool is_sof(unsigned m) { return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC; }

std::optional<ImageInfo> sniff_jpeg(std::string_view d) {
    if (d.size() < 4 || u8(d, 0) != 0xFF || u8(d, 1) != 0xD8) {
        return std::nullopt;
    }
    std::size_t i = 2;
    while (i + 4 <= d.size()) {
        if (u8(d, i) != 0xFF) {
            return std::nullopt;
        }
        const unsigned m = u8(d, i + 1);
        if (m == 0xFF) {  // fill byte before a marker
            ++i;
            continue;
        }
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {  // markers without a length
            i += 2;
            continue;
        }
        if (m == 0xD9 || m == 0xDA) {  // end of image or scan data before any frame header
            return std::nullopt;
        }
        const std::size_t len = be16(d, i + 2);
        if (len < 2 || i + 2 + len > d.size()) {
            return std::nullopt;
        }
        if (is_sof(m)) {
            if (len < 7) {
                return std::nullopt;
            }
            return checked("jpeg", be16(d, i + 7), be16(d, i + 5));
        }
        i += 2 + len;
    }
    return std::nullopt;
}

std::optional<ImageInfo> sniff_webp(std::string_view d) {
    if (d.size() < 30 || d.substr(0, 4) != "RIFF" || d.substr(8, 4) != "WEBP") {
        return std::nullopt;
    }
    const auto chunk = d.substr(12, 4);
    if (chunk == "VP8 ") {
        if (d.substr(23, 3) != std::string_view("\x9d\x01\x2a", 3)) {
            return std::nullopt;
        }
        return checked("webp", le16(d, 26) & 0x3fff, le16(d, 28) & 0x3fff);
    }
    if (chunk == "VP8L") {
        if (u8(d, 20) != 0x2f) {
            return std::nullopt;
        }
        const auto bits = le32(d, 21);
        return checked("webp", (bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1);
    }
    if (chunk == "VP8X") {
        return checked("webp", le24(d, 24) + 1, le24(d, 27) + 1);
    }
    return std::nullopt;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

// Reads a quoted-string starting after its opening quote; i ends after the closing quote.
std::string quoted(std::string_view v, std::size_t& i) {
    std::string out;
    while (i < v.size() && v[i] != '"') {
        if (v[i] == '\\' && i + 1 < v.size()) {
            ++i;
        }
        out += v[i++];
    }
    return out;
}

// Parameters of a header value such as `form-data; name="image"; filename="a.png"`.
std::map<std::string, std::string> header_params(std::string_view v) {
    std::map<std::string, std::string> out;
    std::size_t i = v.find(';');
    while (i != std::string_view::npos && i < v.size()) {
        ++i;
        const auto eq = v.find('=', i);
        const auto semi = v.find(';', i);
        if (eq == std::string_view::npos || (semi != std::string_view::npos && semi < eq)) {
            i = semi;
            continue;
        }
        const auto name = lower(trim(v.substr(i, eq - i)));
        i = eq + 1;
        while (i < v.size() && v[i] == ' ') {
            ++i;
        }
        if (i < v.size() && v[i] == '"') {
            ++i;
            out[name] = quoted(v, i);
            i = v.find(';', i);
        } else {
            const auto end = v.find(';', i);
            out[name] = std::string(trim(v.substr(i, end - i)));
            i = end;
        }
    }
    return out;
}

bool parse_part_headers(std::string_view block, Part& part, std::string& error) {
    bool disposition = false;
    while (!block.empty()) {
        const auto eol = block.find("\r\n");
        const auto line = block.substr(0, eol);
        block = eol == std::string_view::npos ? std::string_view{} : block.substr(eol + 2);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) {
            error = "malformed part header";
            return false;
        }
        const auto name = lower(trim(line.substr(0, colon)));
        const auto value = trim(line.substr(colon + 1));
        if (name == "content-type") {
            part.content_type = std::string(value);
        } else if (name == "content-disposition") {
            auto params = header_params(value);
            disposition = lower(trim(value.substr(0, value.find(';')))) == "form-data";
            part.name = params["name"];
            part.filename = params["filename"];
        }
    }
    if (!disposition || part.name.empty()) {
        error = "part without content-disposition: form-data and a name";
        return false;
    }
    return true;
}

std::optional<std::string> boundary_of(std::string_view content_type, std::string& error) {
    if (lower(trim(content_type.substr(0, content_type.find(';')))) != "multipart/form-data") {
        error = "content-type must be multipart/form-data";
        return std::nullopt;
    }
    auto params = header_params(content_type);
    const auto& b = params["boundary"];
    if (b.empty() || b.size() > 200) {
        error = "multipart boundary missing or too long";
        return std::nullopt;
    }
    return b;
}

// Offset just after the first delimiter line's boundary, allowing a preamble before it.
std::optional<std::size_t> first_delimiter(std::string_view body, const std::string& delim) {
    if (body.substr(0, delim.size()) == delim) {
        return delim.size();
    }
    const auto at = body.find("\r\n" + delim);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    return at + 2 + delim.size();
}

std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void append_random(std::string& out, std::uint64_t& state, std::size_t size) {
    while (out.size() < size) {
        const auto v = splitmix64(state);
        for (int b = 0; b < 8 && out.size() < size; ++b) {
            out += static_cast<char>((v >> (8 * b)) & 0xff);
        }
    }
}

void put_be32(std::string& out, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) {
        out += static_cast<char>((v >> s) & 0xff);
    }
}

void put_le16(std::string& out, std::uint32_t v) {
    out += static_cast<char>(v & 0xff);
    out += static_cast<char>((v >> 8) & 0xff);
}

std::uint32_t crc32(std::string_view data) {
    static const auto table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t n = 0; n < 256; ++n) {
            std::uint32_t c = n;
            for (int k = 0; k < 8; ++k) {
                c = (c & 1) ? 0xedb88320U ^ (c >> 1) : c >> 1;
            }
            t[n] = c;
        }
        return t;
    }();
    std::uint32_t c = 0xffffffffU;
    for (const char ch : data) {
        c = table[(c ^ static_cast<unsigned char>(ch)) & 0xff] ^ (c >> 8);
    }
    return c ^ 0xffffffffU;
}

std::uint32_t adler32(std::string_view data) {
    std::uint32_t a = 1;
    std::uint32_t b = 0;
    for (const char ch : data) {
        a = (a + static_cast<unsigned char>(ch)) % 65521;
        b = (b + a) % 65521;
    }
    return b << 16 | a;
}

void png_chunk(std::string& out, std::string_view type, std::string_view data) {
    put_be32(out, static_cast<std::uint32_t>(data.size()));
    std::string typed(type);
    typed += data;
    out += typed;
    put_be32(out, crc32(typed));
}

// A zlib stream of stored (uncompressed) deflate blocks: valid, and needs no zlib.
std::string zlib_stored(std::string_view raw) {
    std::string out("\x78\x01", 2);
    std::size_t pos = 0;
    do {
        const std::size_t n = std::min<std::size_t>(65535, raw.size() - pos);
        out += static_cast<char>(pos + n == raw.size() ? 1 : 0);
        put_le16(out, static_cast<std::uint32_t>(n));
        put_le16(out, static_cast<std::uint32_t>(~n & 0xffff));
        out += raw.substr(pos, n);
        pos += n;
    } while (pos < raw.size());
    put_be32(out, adler32(raw));
    return out;
}

std::string make_png(std::uint64_t state, std::uint32_t w, std::uint32_t h) {
    std::string ihdr;
    put_be32(ihdr, w);
    put_be32(ihdr, h);
    ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB, no interlace
    std::string raw;
    for (std::uint32_t y = 0; y < h; ++y) {
        raw += '\0';  // filter: none
        append_random(raw, state, raw.size() + 3 * std::size_t{w});
    }
    std::string out("\x89PNG\r\n\x1a\n", 8);
    png_chunk(out, "IHDR", ihdr);
    png_chunk(out, "IDAT", zlib_stored(raw));
    png_chunk(out, "IEND", "");
    return out;
}

// A JFIF header and a baseline frame header, then noise: enough for any sniffer.
std::string make_fake_jpeg(std::uint64_t state, std::uint32_t w, std::uint32_t h) {
    std::string out("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", 20);
    out += std::string("\xFF\xC0\x00\x11\x08", 5);
    out += static_cast<char>(h >> 8);
    out += static_cast<char>(h & 0xff);
    out += static_cast<char>(w >> 8);
    out += static_cast<char>(w & 0xff);
    out += std::string("\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01", 10);
    append_random(out, state, out.size() + 256);
    out += std::string("\xFF\xD9", 2);
    return out;
}

std::string make_fake_webp(std::uint64_t state, std::uint32_t w, std::uint32_t h) {
    std::string frame("\x10\x02\x00\x9d\x01\x2a", 6);  // frame tag + start code
    put_le16(frame, w);
    put_le16(frame, h);
    append_random(frame, state, frame.size() + 256);
    std::string out("RIFF", 4);
    const auto le32v = [&out](std::uint32_t v) {
        put_le16(out, v & 0xffff);
        put_le16(out, v >> 16);
    };
    le32v(static_cast<std::uint32_t>(12 + frame.size()));
    out += "WEBPVP8 ";
    le32v(static_cast<std::uint32_t>(frame.size()));
    out += frame;
    return out;
}

}  // namespace

std::optional<ImageInfo> sniff_image(std::string_view data) {
    if (auto png = sniff_png(data)) {
        return png;
    }
    if (auto jpeg = sniff_jpeg(data)) {
        return jpeg;
    }
    return sniff_webp(data);
}

std::optional<Form> parse_multipart(std::string_view content_type, std::string_view body,
                                    std::string& error) {
    const auto boundary = boundary_of(content_type, error);
    if (!boundary) {
        return std::nullopt;
    }
    const std::string delim = "--" + *boundary;
    const std::string next = "\r\n" + delim;
    const auto start = first_delimiter(body, delim);
    if (!start) {
        error = "multipart body without its boundary";
        return std::nullopt;
    }
    Form form;
    std::size_t pos = *start;
    for (;;) {
        if (body.substr(pos, 2) == "--") {
            return form;  // closing delimiter
        }
        while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) {
            ++pos;  // transport padding
        }
        if (body.substr(pos, 2) != "\r\n") {
            error = "malformed or unterminated multipart body";
            return std::nullopt;
        }
        pos += 2;
        const auto headers_end = body.find("\r\n\r\n", pos);
        const auto data_end =
            headers_end == std::string_view::npos ? headers_end : body.find(next, headers_end + 4);
        if (data_end == std::string_view::npos) {
            error = "unterminated multipart part";
            return std::nullopt;
        }
        Part part;
        if (!parse_part_headers(body.substr(pos, headers_end - pos), part, error)) {
            return std::nullopt;
        }
        part.data = std::string(body.substr(headers_end + 4, data_end - headers_end - 4));
        form.emplace(part.name, std::move(part));  // the first of repeated fields wins
        pos = data_end + next.size();
    }
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

std::string sha256_hex(std::string_view data) {
    std::array<unsigned char, 32> md{};
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("sha256 failed");
    }
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += digits[md[i] >> 4];
        out += digits[md[i] & 0xf];
    }
    return out;
}

std::string base64(std::string_view data) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < data.size(); i += 3) {
        const std::size_t n = std::min<std::size_t>(3, data.size() - i);
        std::uint32_t v = u8(data, i) << 16;
        v |= n > 1 ? u8(data, i + 1) << 8 : 0;
        v |= n > 2 ? u8(data, i + 2) : 0;
        for (std::size_t k = 0; k < 4; ++k) {
            out += k <= n ? alphabet[(v >> (18 - 6 * k)) & 0x3f] : '=';
        }
    }
    return out;
}

std::string hex_id(std::mt19937_64& rng, std::size_t chars) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    while (out.size() < chars) {
        const auto v = rng();
        for (int k = 0; k < 16 && out.size() < chars; ++k) {
            out += digits[(v >> (4 * k)) & 0xf];
        }
    }
    return out;
}

std::string make_mp4(std::uint64_t seed, std::size_t size) {
    return pad_mp4(builtin_clip(seed), seed, size);
}

std::string make_image(std::string_view format, std::uint64_t seed) {
    std::uint64_t state = seed;
    const auto w = static_cast<std::uint32_t>(16 + splitmix64(state) % 48);
    const auto h = static_cast<std::uint32_t>(16 + splitmix64(state) % 48);
    if (format == "jpeg") {
        return make_fake_jpeg(state, w, h);
    }
    if (format == "webp") {
        return make_fake_webp(state, w, h);
    }
    return make_png(state, w, h);
}

}  // namespace fakeapi
