// The control server's text helpers: URL decoding, header parsing, event-stream framing.
#include "net/http_text.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace genq::net {
namespace detail {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
    std::uint64_t v = 0;
    if (s.empty()) return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace

// Invalid escapes are kept verbatim: a handler then sees an unknown path and answers 404.
std::string percent_decode(std::string_view in, bool plus_is_space) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '%' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 &&
            hex_value(in[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    // The length of a bearer token is no secret worth hiding; its bytes are.
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// A malformed or multi-range header is ignored (RFC 9110 allows serving the whole file).
ByteRange parse_range(std::string_view header, std::uint64_t size) {
    ByteRange r;
    constexpr std::string_view prefix = "bytes=";
    if (header.size() <= prefix.size() || lower(header.substr(0, prefix.size())) != prefix ||
        header.find(',') != std::string_view::npos) {
        return r;
    }
    auto spec = header.substr(prefix.size());
    while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
    while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
    auto dash = spec.find('-');
    if (dash == std::string_view::npos) return r;
    auto a = parse_u64(spec.substr(0, dash));
    auto b = parse_u64(spec.substr(dash + 1));
    if (!a && b) {  // suffix: the last n bytes
        if (*b == 0 || size == 0) return {ByteRange::unsatisfiable};
        return {ByteRange::partial, size - std::min(*b, size), size - 1};
    }
    if (!a || (b && *b < *a)) return r;
    if (*a >= size) return {ByteRange::unsatisfiable};
    return {ByteRange::partial, *a, b ? std::min(*b, size - 1) : size - 1};
}

std::string sse_frame(const std::string& event, const std::string& data) {
    std::string out = "event: " + event + "\n";
    std::size_t start = 0;
    for (;;) {
        auto nl = data.find('\n', start);
        out += "data: " + data.substr(start, nl - start) + "\n";
        if (nl == std::string::npos) break;
        start = nl + 1;
    }
    return out + "\n";
}

}  // namespace detail

using detail::percent_decode;

std::string ServerRequest::query_param(std::string_view name) const {
    std::string_view rest = query;
    while (!rest.empty()) {
        auto amp = rest.find('&');
        auto pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        auto eq = pair.find('=');
        if (percent_decode(pair.substr(0, eq), true) == name) {
            return eq == std::string_view::npos ? std::string{}
                                                : percent_decode(pair.substr(eq + 1), true);
        }
    }
    return {};
}

}  // namespace genq::net
