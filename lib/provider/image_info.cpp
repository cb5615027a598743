#include "provider/image_info.hpp"

#include <algorithm>
#include <cstdint>

namespace genq::provider {
namespace {

// A read-only cursor: every read is checked against the end, so a header that lies about its
// lengths ends in nullopt instead of an out-of-bounds read.
class Reader {
public:
    explicit Reader(std::string_view bytes) : bytes_(bytes) {}

    bool has(std::size_t n) const { return n <= bytes_.size() - pos_; }
    std::size_t pos() const { return pos_; }
    std::size_t remaining() const { return bytes_.size() - pos_; }
    bool skip(std::size_t n) {
        if (!has(n)) return false;
        pos_ += n;
        return true;
    }
    std::optional<std::uint32_t> u8() { return read(1, false); }
    std::optional<std::uint32_t> be16() { return read(2, false); }
    std::optional<std::uint32_t> be32() { return read(4, false); }
    std::optional<std::uint32_t> le24() { return read(3, true); }
    std::optional<std::uint32_t> le32() { return read(4, true); }
    std::optional<std::string_view> take(std::size_t n) {
        if (!has(n)) return std::nullopt;
        pos_ += n;
        return bytes_.substr(pos_ - n, n);
    }

private:
    std::optional<std::uint32_t> read(std::size_t n, bool little_endian) {
        if (!has(n)) return std::nullopt;
        std::uint32_t v = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t b = static_cast<unsigned char>(bytes_[pos_ + i]);
            v = little_endian ? v | b << (8 * i) : v << 8 | b;
        }
        pos_ += n;
        return v;
    }

    std::string_view bytes_;
    std::size_t pos_ = 0;
};

std::optional<ImageInfo> make_info(ImageFormat f, std::uint32_t w, std::uint32_t h, bool alpha) {
    constexpr std::uint32_t kMaxSide = 0x7FFFFFFF;  // PNG's own limit; the others are smaller
    if (w == 0 || h == 0 || w > kMaxSide || h > kMaxSide) return std::nullopt;
    return ImageInfo{f, static_cast<int>(w), static_cast<int>(h), alpha};
}

// ---- PNG: signature, IHDR first, then chunks up to the first IDAT (a tRNS there means alpha).

constexpr std::string_view kPngSignature = "\x89PNG\r\n\x1a\n";
constexpr std::uint32_t kPngMaxChunk = 0x7FFFFFFF;

std::optional<ImageInfo> read_png(Reader r) {
    if (!r.skip(kPngSignature.size())) return std::nullopt;
    const auto len = r.be32();
    const auto type = r.take(4);
    if (!len || !type || *len != 13 || *type != "IHDR") return std::nullopt;
    const auto w = r.be32(), h = r.be32(), depth = r.u8(), colour = r.u8();
    if (!w || !h || !depth || !colour || !r.skip(3 + 4)) return std::nullopt;  // rest + CRC
    const std::uint32_t c = *colour, d = *depth;
    if (c != 0 && c != 2 && c != 3 && c != 4 && c != 6) return std::nullopt;
    if (d != 1 && d != 2 && d != 4 && d != 8 && d != 16) return std::nullopt;
    bool alpha = c == 4 || c == 6;
    // Walk to IDAT so that a file cut off inside its ancillary chunks is refused, and so that a
    // tRNS (transparency for colour types 0, 2, 3) is seen.
    for (;;) {
        const auto clen = r.be32();
        const auto ctype = r.take(4);
        if (!clen || !ctype || *clen > kPngMaxChunk) return std::nullopt;
        if (*ctype == "IDAT") break;
        if (*ctype == "IEND" || !r.skip(std::size_t{*clen} + 4)) return std::nullopt;
        if (*ctype == "tRNS") alpha = true;
    }
    return make_info(ImageFormat::png, *w, *h, alpha);
}

// ---- JPEG: walk the marker segments up to the first start-of-frame.

bool is_sof(std::uint32_t m) {
    // C4 (DHT), C8 (JPG extension) and CC (DAC) share the range but are not frames.
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

bool is_standalone(std::uint32_t m) {
    return m == 0x01 || (m >= 0xD0 && m <= 0xD8);  // TEM, RST0..7, SOI: no length field
}

std::optional<ImageInfo> read_sof(Reader r, std::uint32_t seg_len) {
    const auto precision = r.u8(), h = r.be16(), w = r.be16(), components = r.u8();
    if (!precision || !h || !w || !components || *components == 0) return std::nullopt;
    if (seg_len != 8 + 3 * *components) return std::nullopt;
    return make_info(ImageFormat::jpeg, *w, *h, false);
}

std::optional<ImageInfo> read_jpeg(Reader r) {
    if (!r.skip(2)) return std::nullopt;  // SOI, checked by the caller
    for (;;) {
        const auto ff = r.u8();
        if (!ff || *ff != 0xFF) return std::nullopt;  // garbage between segments
        auto marker = r.u8();
        while (marker && *marker == 0xFF) marker = r.u8();  // fill bytes
        if (!marker || *marker == 0x00) return std::nullopt;
        if (is_standalone(*marker)) continue;
        // EOI or a scan before any frame header: not an image we can size.
        if (*marker == 0xD9 || *marker == 0xDA) return std::nullopt;
        const auto seg_len = r.be16();
        if (!seg_len || *seg_len < 2) return std::nullopt;
        const auto segment = r.take(*seg_len - 2);
        if (!segment) return std::nullopt;
        if (is_sof(*marker)) return read_sof(Reader(*segment), *seg_len);
    }
}

// ---- WebP: RIFF container, first chunk VP8 (lossy), VP8L (lossless) or VP8X (extended).

std::optional<ImageInfo> read_vp8(Reader r) {
    const auto tag = r.le24();
    const auto start = r.take(3);
    const auto w = r.le32();  // two 16-bit fields read at once: width, then height
    if (!tag || !start || !w) return std::nullopt;
    if ((*tag & 1) != 0 || *start != "\x9d\x01\x2a") return std::nullopt;  // key frame required
    return make_info(ImageFormat::webp, *w & 0x3FFF, (*w >> 16) & 0x3FFF, false);
}

std::optional<ImageInfo> read_vp8l(Reader r) {
    const auto signature = r.u8();
    const auto bits = r.le32();
    if (!signature || !bits || *signature != 0x2F) return std::nullopt;
    if ((*bits >> 29) != 0) return std::nullopt;  // version must be 0
    const bool alpha = (*bits >> 28 & 1) != 0;
    return make_info(ImageFormat::webp, (*bits & 0x3FFF) + 1, (*bits >> 14 & 0x3FFF) + 1, alpha);
}

std::optional<ImageInfo> read_vp8x(Reader r) {
    const auto flags = r.u8();
    const bool skipped = r.skip(3);
    const auto w = r.le24(), h = r.le24();
    if (!flags || !skipped || !w || !h) return std::nullopt;
    return make_info(ImageFormat::webp, *w + 1, *h + 1, (*flags & 0x10) != 0);
}

std::optional<ImageInfo> read_webp(Reader r) {
    const bool header = r.skip(4);  // "RIFF", checked by the caller
    const auto riff_size = r.le32();
    const auto webp = r.take(4);
    const auto fourcc = r.take(4);
    const auto chunk_size = r.le32();
    if (!header || !riff_size || !webp || !fourcc || !chunk_size || *webp != "WEBP") {
        return std::nullopt;
    }
    // The RIFF size covers "WEBP" and the first chunk's header and payload; less is a lie.
    if (*riff_size < 12 || *chunk_size > *riff_size - 12) return std::nullopt;
    const auto payload = r.take(std::min<std::size_t>(*chunk_size, r.remaining()));
    if (*fourcc == "VP8 " && *chunk_size >= 10) return read_vp8(Reader(*payload));
    if (*fourcc == "VP8L" && *chunk_size >= 5) return read_vp8l(Reader(*payload));
    if (*fourcc == "VP8X" && *chunk_size >= 10) return read_vp8x(Reader(*payload));
    return std::nullopt;
}

}  // namespace

std::optional<ImageInfo> read_image_info(std::string_view bytes) {
    if (bytes.starts_with(kPngSignature)) return read_png(Reader(bytes));
    if (bytes.starts_with("\xFF\xD8")) return read_jpeg(Reader(bytes));
    if (bytes.starts_with("RIFF")) return read_webp(Reader(bytes));
    return std::nullopt;
}

namespace {

bool png_complete(std::string_view b) {
    std::size_t pos = kPngSignature.size();
    while (b.size() - pos >= 12) {  // length, type, CRC at least
        const auto* p = reinterpret_cast<const unsigned char*>(b.data() + pos);
        const std::uint64_t len = std::uint64_t{p[0]} << 24 | std::uint64_t{p[1]} << 16 |
                                  std::uint64_t{p[2]} << 8 | p[3];
        if (len > kPngMaxChunk || len + 12 > b.size() - pos) return false;
        if (b.substr(pos + 4, 4) == "IEND") return true;
        pos += static_cast<std::size_t>(len) + 12;
    }
    return false;
}

bool jpeg_complete(std::string_view b) {
    // Entropy-coded data stuffs 0xFF as FF 00, so FF D9 / FF DA are real markers.
    const auto eoi = b.rfind("\xFF\xD9");
    if (eoi == std::string_view::npos || eoi < 2) return false;
    const auto sos = b.rfind("\xFF\xDA");
    return sos == std::string_view::npos || eoi > sos;
}

bool webp_complete(std::string_view b) {
    if (b.size() < 12) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(b.data() + 4);
    const std::uint64_t riff = std::uint64_t{p[0]} | std::uint64_t{p[1]} << 8 |
                               std::uint64_t{p[2]} << 16 | std::uint64_t{p[3]} << 24;
    return riff + 8 <= b.size();
}

}  // namespace

bool image_is_complete(std::string_view bytes, ImageFormat f) {
    switch (f) {
        case ImageFormat::png: return bytes.substr(0, kPngSignature.size()) == kPngSignature &&
                                      png_complete(bytes);
        case ImageFormat::jpeg: return jpeg_complete(bytes);
        case ImageFormat::webp: return webp_complete(bytes);
    }
    return false;
}

std::string_view format_name(ImageFormat f) {
    switch (f) {
        case ImageFormat::png: return "png";
        case ImageFormat::jpeg: return "jpeg";
        case ImageFormat::webp: return "webp";
    }
    return "unknown";
}

std::string_view mime_type(ImageFormat f) {
    switch (f) {
        case ImageFormat::png: return "image/png";
        case ImageFormat::jpeg: return "image/jpeg";
        case ImageFormat::webp: return "image/webp";
    }
    return "application/octet-stream";
}

}  // namespace genq::provider
