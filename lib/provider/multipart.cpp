#include "provider/multipart.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <stdexcept>

namespace genq::provider {
namespace {

constexpr std::size_t kMaxParts = 64;
constexpr std::size_t kMaxPartHeaders = 8 * 1024;
constexpr std::size_t kMaxBoundary = 70;  // RFC 2046 §5.1.1
constexpr std::string_view kCrlf = "\r\n";

// 128 bits from the CSPRNG: a sender cannot craft content that contains a boundary it cannot
// predict.
std::string random_boundary() {
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("RAND_bytes failed");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string b = "genq-";
    for (const unsigned char c : raw) {
        b += kHex[c >> 4];
        b += kHex[c & 15];
    }
    return b;
}

// Content-Disposition parameters are quoted-strings. As browsers do (WHATWG "multipart/form-data
// encoding"), '"', CR and LF are percent-encoded, so no parser sees the string or the header end
// early; a backslash is doubled so parsers that decode quoted-pairs (ours does) read it back as one.
std::string quote_param(std::string_view v) {
    std::string out = "\"";
    for (const char c : v) {
        if (c == '"') out += "%22";
        else if (c == '\r') out += "%0D";
        else if (c == '\n') out += "%0A";
        else if (c == '\\') out += "\\\\";
        else out += c;
    }
    return out + "\"";
}

// A content type with control characters could inject headers; it falls back to the generic one.
std::string safe_content_type(std::string_view ct) {
    const bool clean = !ct.empty() && std::none_of(ct.begin(), ct.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
    });
    return clean ? std::string(ct) : "application/octet-stream";
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

Error bad(std::string message) { return Error{"bad_multipart", std::move(message)}; }

// ---- Header parameters: `type; a=b; c="d \"e\""`.

struct Param {
    std::string name;
    std::string value;
};

// Reads one token or quoted-string value at the front of `s`, consuming it.
std::optional<std::string> read_value(std::string_view& s) {
    if (s.empty() || s.front() != '"') {
        const std::size_t end = std::min(s.find(';'), s.size());
        std::string v(trim(s.substr(0, end)));
        s.remove_prefix(end);
        if (v.empty() || v.find_first_of(" \t\"") != std::string::npos) return std::nullopt;
        return v;
    }
    std::string v;
    for (std::size_t i = 1; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) {
            v += s[++i];
        } else if (s[i] == '"') {
            s.remove_prefix(i + 1);
            return v;
        } else {
            v += s[i];
        }
    }
    return std::nullopt;  // unterminated
}

// Splits `value` into its leading item (returned in `head`) and its parameters.
std::optional<std::vector<Param>> parse_params(std::string_view value, std::string_view& head) {
    const std::size_t semi = std::min(value.find(';'), value.size());
    head = trim(value.substr(0, semi));
    value.remove_prefix(semi);
    std::vector<Param> params;
    while (!value.empty()) {
        value.remove_prefix(1);  // ';'
        value = trim(value);
        if (value.empty()) break;  // tolerate a trailing ';'
        const std::size_t eq = value.find('=');
        if (eq == std::string_view::npos) return std::nullopt;
        std::string name(trim(value.substr(0, eq)));
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        value.remove_prefix(eq + 1);
        value = trim(value);
        auto v = read_value(value);
        if (!v || name.empty()) return std::nullopt;
        value = trim(value);
        if (!value.empty() && value.front() != ';') return std::nullopt;
        params.push_back({std::move(name), std::move(*v)});
    }
    return params;
}

const Param* find_param(const std::vector<Param>& params, std::string_view name) {
    const Param* found = nullptr;
    for (const Param& p : params) {
        if (p.name != name) continue;
        if (found) return nullptr;  // duplicated: ambiguous, treated as missing
        found = &p;
    }
    return found;
}

Result<std::string> boundary_of(std::string_view content_type) {
    std::string_view media;
    const auto params = parse_params(content_type, media);
    if (!params) return bad("malformed Content-Type");
    if (!iequals(media, "multipart/form-data")) {
        return bad("Content-Type is not multipart/form-data");
    }
    const Param* b = find_param(*params, "boundary");
    if (!b) return bad("Content-Type has no boundary parameter");
    if (b->value.empty() || b->value.size() > kMaxBoundary ||
        b->value.find_first_of("\r\n") != std::string::npos) {
        return bad("Content-Type has an invalid boundary");
    }
    return b->value;
}

// ---- Part headers.

Status apply_disposition(std::string_view value, MultipartPart& part) {
    std::string_view type;
    const auto params = parse_params(value, type);
    if (!params || !iequals(type, "form-data")) return bad("malformed Content-Disposition");
    const Param* name = find_param(*params, "name");
    if (!name || name->value.empty()) return bad("Content-Disposition without a name");
    part.name = name->value;
    if (const Param* filename = find_param(*params, "filename")) part.filename = filename->value;
    return ok_status();
}

Status parse_part_headers(std::string_view headers, MultipartPart& part) {
    // Obsolete line folding would continue a header already acted upon: refused up front.
    if (headers.find("\r\n ") != std::string_view::npos ||
        headers.find("\r\n\t") != std::string_view::npos) {
        return bad("malformed part header");
    }
    bool has_disposition = false;
    while (!headers.empty()) {
        const std::size_t eol = std::min(headers.find(kCrlf), headers.size());
        const std::string_view line = headers.substr(0, eol);
        headers.remove_prefix(std::min(eol + kCrlf.size(), headers.size()));
        const std::size_t colon = line.find(':');
        // No bare CR/LF, no nameless headers, no leading whitespace.
        if (colon == 0 || colon == std::string_view::npos || line.front() == ' ' ||
            line.front() == '\t' || line.find_first_of("\r\n") != std::string_view::npos) {
            return bad("malformed part header");
        }
        const std::string_view name = trim(line.substr(0, colon));
        const std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "content-disposition")) {
            if (has_disposition) return bad("duplicate Content-Disposition");
            has_disposition = true;
            if (auto st = apply_disposition(value, part); !st) return st;
        } else if (iequals(name, "content-type")) {
            part.content_type = std::string(value);
        }
    }
    if (!has_disposition) return bad("part without Content-Disposition");
    return ok_status();
}

// Reads one part starting just after its delimiter line; leaves `rest` just after the delimiter
// (CRLF "--" boundary) that ends the part.
Result<MultipartPart> parse_part(std::string_view& rest, std::string_view delimiter) {
    std::string_view headers;
    if (rest.starts_with(kCrlf)) {
        rest.remove_prefix(kCrlf.size());  // a part without headers (refused below)
    } else {
        const std::size_t end = rest.substr(0, kMaxPartHeaders + 4).find("\r\n\r\n");
        if (end == std::string_view::npos) {
            return bad(rest.size() >= kMaxPartHeaders + 4 ? "part headers larger than 8 KiB"
                                                          : "unterminated part headers");
        }
        headers = rest.substr(0, end);
        rest.remove_prefix(end + 4);
    }
    MultipartPart part;
    if (auto st = parse_part_headers(headers, part); !st) return st.error();
    const std::size_t end = rest.find(delimiter);
    if (end == std::string_view::npos) return bad("missing closing delimiter");
    part.data = rest.substr(0, end);
    rest.remove_prefix(end + delimiter.size());
    return part;
}

// After "--boundary": "--" closes the body; otherwise optional padding and CRLF start a part.
Result<bool> at_close_delimiter(std::string_view& rest) {
    if (rest.starts_with("--")) return true;
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    if (rest.empty()) return bad("missing closing delimiter");
    if (!rest.starts_with(kCrlf)) return bad("malformed delimiter line");
    rest.remove_prefix(kCrlf.size());
    if (rest.empty()) return bad("missing closing delimiter");
    return false;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    std::size_t at = s.find(from);
    while (at != std::string::npos) {
        s.replace(at, from.size(), to);
        at = s.find(from, at + to.size());
    }
}

// Appends one part. Should the part contain the boundary (never by chance: 128 random bits), a
// fresh boundary replaces it everywhere; earlier parts were checked not to contain the old one,
// so its only occurrences are delimiters.
void append_part(std::string& boundary, std::string& body, const std::string& headers,
                 std::string_view data) {
    if (boundary.empty()) throw std::logic_error("MultipartBuilder used after finish()");
    while (headers.find(boundary) != std::string::npos ||
           data.find(boundary) != std::string_view::npos) {
        std::string fresh = random_boundary();
        if (body.find(fresh) != std::string::npos) continue;
        replace_all(body, boundary, fresh);
        boundary = std::move(fresh);
    }
    body += "--";
    body += boundary;
    body += kCrlf;
    body += headers;
    body += data;
    body += kCrlf;
}

}  // namespace

MultipartBuilder::MultipartBuilder() : boundary_(random_boundary()) {}

void MultipartBuilder::add_field(std::string_view name, std::string_view value) {
    append_part(boundary_, body_,
                "Content-Disposition: form-data; name=" + quote_param(name) + "\r\n\r\n", value);
}

void MultipartBuilder::add_file(std::string_view name, std::string_view filename,
                                std::string_view content_type, std::string_view bytes) {
    append_part(boundary_, body_,
                "Content-Disposition: form-data; name=" + quote_param(name) +
                    "; filename=" + quote_param(filename) + "\r\nContent-Type: " +
                    safe_content_type(content_type) + "\r\n\r\n",
                bytes);
}

std::string MultipartBuilder::content_type() const {
    return "multipart/form-data; boundary=" + boundary_;
}

std::string MultipartBuilder::finish() {
    if (boundary_.empty()) throw std::logic_error("MultipartBuilder used after finish()");
    body_ += "--" + boundary_ + "--\r\n";
    boundary_.clear();
    return std::move(body_);
}

Result<std::vector<MultipartPart>> parse_multipart(std::string_view content_type,
                                                   std::string_view body) {
    auto boundary = boundary_of(content_type);
    if (!boundary) return boundary.error();
    const std::string delimiter = "\r\n--" + boundary.value();
    // The first delimiter may follow a preamble (RFC 2046), which is ignored.
    std::string_view rest = body;
    if (rest.starts_with(std::string_view(delimiter).substr(2))) {
        rest.remove_prefix(delimiter.size() - 2);
    } else if (const std::size_t at = rest.find(delimiter); at != std::string_view::npos) {
        rest.remove_prefix(at + delimiter.size());
    } else {
        return bad("no delimiter line for the boundary");
    }
    std::vector<MultipartPart> parts;
    for (;;) {
        auto closed = at_close_delimiter(rest);
        if (!closed) return closed.error();
        if (closed.value()) return parts;  // anything after the close delimiter is epilogue
        if (parts.size() == kMaxParts) return bad("more than 64 parts");
        auto part = parse_part(rest, delimiter);
        if (!part) return part.error();
        parts.push_back(std::move(part.value()));
    }
}

}  // namespace genq::provider
