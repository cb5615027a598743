#include "provider/utf8.hpp"

#include <cstdint>

namespace genq::provider {
namespace {

// Length of the sequence a lead byte starts; 0 for a continuation or invalid byte.
std::size_t sequence_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if ((lead >> 5) == 0x6) return 2;
    if ((lead >> 4) == 0xE) return 3;
    if ((lead >> 3) == 0x1E) return 4;
    return 0;
}

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

bool is_valid_utf8(std::string_view s) {
    static constexpr std::uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    std::size_t i = 0;
    while (i < s.size()) {
        const auto lead = static_cast<unsigned char>(s[i]);
        const std::size_t len = sequence_length(lead);
        if (len == 0 || len > s.size() - i) return false;
        std::uint32_t cp = len == 1 ? lead : lead & (0x7F >> len);
        for (std::size_t k = 1; k < len; ++k) {
            if (!is_continuation(s[i + k])) return false;
            cp = cp << 6 | (static_cast<unsigned char>(s[i + k]) & 0x3F);
        }
        if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += len;
    }
    return true;
}

std::size_t utf8_length(std::string_view s) {
    std::size_t n = 0;
    for (const char c : s) n += !is_continuation(c);
    return n;
}

std::string truncate_utf8(std::string_view s, std::size_t max_bytes) {
    if (s.size() <= max_bytes) return std::string(s);
    std::size_t cut = max_bytes;
    while (cut > 0 && is_continuation(s[cut])) --cut;
    return std::string(s.substr(0, cut)) + "...";
}

}  // namespace genq::provider
