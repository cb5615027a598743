#include "provider/validate.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "provider/utf8.hpp"

namespace genq::provider {
namespace {

constexpr std::size_t kMaxShownValue = 60;  // echoing a 10,000-character prompt helps nobody

Error invalid_param(std::string_view field, std::string_view what) {
    return Error{"invalid_param", std::string(field) + ": " + std::string(what)};
}

Error invalid_image(std::string_view field, std::string_view what) {
    return Error{"invalid_image", std::string(field) + ": " + std::string(what)};
}

// Shortest text that reads back as the same double: "1.8", "0.35", "4294967294".
std::string number_text(double v) {
    char buf[32];
    const auto res = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, res.ptr);
}

std::string dumped(const nlohmann::json& value) {
    const auto text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return truncate_utf8(text, kMaxShownValue);
}

std::string shown(const nlohmann::json& value) { return "(got " + dumped(value) + ")"; }

// A name the client chose, safe to put in a message: as is when short, printable UTF-8, else
// JSON-quoted (escaped, invalid bytes replaced) and cut short.
std::string safe_name(std::string_view name) {
    const bool plain = name.size() <= kMaxShownValue && is_valid_utf8(name) &&
                       std::none_of(name.begin(), name.end(), [](char c) {
                           return static_cast<unsigned char>(c) < 0x20;
                       });
    return plain ? std::string(name) : dumped(nlohmann::json(std::string(name)));
}

std::string join(const std::vector<std::string>& items, std::string_view last_sep) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += i + 1 == items.size() ? last_sep : std::string_view(", ");
        out += items[i];
    }
    return out;
}

std::string field_names(const Operation& op) {
    std::vector<std::string> names;
    for (const FieldSpec& f : op.fields) names.push_back(f.name);
    return join(names, ", ");
}

// What a field accepts, for messages: "a number from 0 to 10", "one of png, jpeg or webp".
std::string allowed(const FieldSpec& f) {
    switch (f.type) {
        case FieldType::integer:
            return "an integer from " + number_text(f.min) + " to " + number_text(f.max);
        case FieldType::number:
            return "a number from " + number_text(f.min) + " to " + number_text(f.max);
        case FieldType::choice: return "one of " + join(f.choices, " or ");
        case FieldType::string:
            if (f.max_length == 0) return f.required ? "a non-empty string" : "a string";
            if (!f.required) return "a string of at most " + std::to_string(f.max_length) +
                                    " characters";
            return "a string of 1 to " + std::to_string(f.max_length) + " characters";
    }
    return "a value";
}

// Decimal text as multipart fields carry numbers: [-]digits[.digits][(e|E)[+-]digits]. Stricter
// than from_chars alone, which would accept "inf", "nan" and hexadecimal forms.
bool is_decimal(std::string_view s) {
    std::size_t i = 0;
    auto digits = [&] {
        const std::size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        return i > start;
    };
    if (i < s.size() && s[i] == '-') ++i;
    if (!digits()) return false;
    if (i < s.size() && s[i] == '.') {
        ++i;
        if (!digits()) return false;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        if (!digits()) return false;
    }
    return i == s.size();
}

std::optional<double> to_double(const nlohmann::json& value) {
    if (value.is_number()) return value.get<double>();
    if (!value.is_string()) return std::nullopt;
    const auto& s = value.get_ref<const std::string&>();
    if (!is_decimal(s)) return std::nullopt;
    double v = 0;
    const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
    if (res.ec != std::errc() || res.ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

Result<nlohmann::json> check_number(const FieldSpec& f, const nlohmann::json& value) {
    const auto v = to_double(value);
    const bool integral = v && std::isfinite(*v) && std::nearbyint(*v) == *v;
    if (!v || !std::isfinite(*v) || *v < f.min || *v > f.max ||
        (f.type == FieldType::integer && !integral)) {
        return invalid_param(f.name, "must be " + allowed(f) + " " + shown(value));
    }
    if (f.type == FieldType::integer) return nlohmann::json(static_cast<std::int64_t>(*v));
    return nlohmann::json(*v);
}

Result<nlohmann::json> check_string(const FieldSpec& f, const nlohmann::json& value) {
    if (!value.is_string()) {
        return invalid_param(f.name, "must be " + allowed(f) + " " + shown(value));
    }
    const auto& s = value.get_ref<const std::string&>();
    if (!is_valid_utf8(s)) return invalid_param(f.name, "must be valid UTF-8 text");
    const std::size_t len = utf8_length(s);
    if ((f.required && len == 0) || (f.max_length != 0 && len > f.max_length)) {
        return invalid_param(f.name, "must be " + allowed(f) + " (got " + std::to_string(len) +
                                         " characters)");
    }
    return value;
}

Result<nlohmann::json> check_choice(const FieldSpec& f, const nlohmann::json& value) {
    if (value.is_string()) {
        for (const std::string& c : f.choices) {
            if (value.get_ref<const std::string&>() == c) return value;
        }
    }
    return invalid_param(f.name, "must be " + allowed(f) + " " + shown(value));
}

Result<nlohmann::json> check_field(const FieldSpec& f, const nlohmann::json& value) {
    switch (f.type) {
        case FieldType::integer:
        case FieldType::number: return check_number(f, value);
        case FieldType::string: return check_string(f, value);
        case FieldType::choice: return check_choice(f, value);
    }
    return invalid_param(f.name, "has an unknown type");
}

const FieldSpec* find_field(const Operation& op, std::string_view name) {
    for (const FieldSpec& f : op.fields) {
        if (f.name == name) return &f;
    }
    return nullptr;
}

// The rules one field cannot express alone.
Status check_cross_fields(const Operation& op, const nlohmann::json& out) {
    if (find_field(op, "mode") && find_field(op, "search_prompt") && out.contains("mode") &&
        out["mode"] == "search" && !out.contains("search_prompt")) {
        return invalid_param("search_prompt", "required when mode is search (" +
                                                  allowed(*find_field(op, "search_prompt")) + ")");
    }
    return ok_status();
}

// Presence: required fields, and the defaults of always_send fields (checked like input, so a
// bad default in the table shows up as an error instead of reaching the provider).
Status fill_missing(const Operation& op, nlohmann::json& out) {
    for (const FieldSpec& f : op.fields) {
        if (out.contains(f.name)) continue;
        if (f.required) return invalid_param(f.name, "is required (" + allowed(f) + ")");
        if (!f.always_send) continue;
        auto v = check_field(f, nlohmann::json(f.default_value));
        if (!v) return v.error();
        out[f.name] = std::move(v.value());
    }
    return ok_status();
}

constexpr std::size_t kMiB = 1024 * 1024;

// One decimal, rounded towards `up`, so a file 1 byte over a 10 MiB limit reads "10.1 MiB".
std::string mib_text(std::size_t bytes, bool up) {
    const double tenths = static_cast<double>(bytes) / kMiB * 10;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", (up ? std::ceil(tenths) : std::floor(tenths)) / 10);
    return buf;
}

std::string limit_text(std::size_t bytes) {
    if (bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
    return mib_text(bytes, false);
}

std::string format_title(ImageFormat f) {
    switch (f) {
        case ImageFormat::png: return "PNG";
        case ImageFormat::jpeg: return "JPEG";
        case ImageFormat::webp: return "WebP";
    }
    return "unknown";
}

std::string format_list(const ImageRule& rule) {
    std::vector<std::string> names;
    for (const ImageFormat f : rule.formats) names.push_back(format_title(f));
    return join(names, " or ");
}

std::string size_text(int w, int h) { return std::to_string(w) + "x" + std::to_string(h); }

Status check_dimensions(const ImageRule& rule, const ImageInfo& info, std::string_view field) {
    const std::string got = size_text(info.width, info.height);
    if (!rule.exact_sizes.empty()) {
        std::vector<std::string> sizes;
        for (const auto& [w, h] : rule.exact_sizes) {
            if (w == info.width && h == info.height) return ok_status();
            sizes.push_back(size_text(w, h));
        }
        return invalid_image(field, "must be " + join(sizes, " or ") + " pixels (got " + got + ")");
    }
    if (info.width < rule.min_side || info.height < rule.min_side) {
        return invalid_image(field, "each side must be at least " + std::to_string(rule.min_side) +
                                        " pixels (got " + got + ")");
    }
    const std::int64_t pixels = std::int64_t{info.width} * info.height;
    if ((rule.min_pixels > 0 && pixels < rule.min_pixels) ||
        (rule.max_pixels > 0 && pixels > rule.max_pixels)) {
        return invalid_image(field, "must have " + std::to_string(rule.min_pixels) + " to " +
                                        std::to_string(rule.max_pixels) + " pixels in total (got " +
                                        got + " = " + std::to_string(pixels) + ")");
    }
    return ok_status();
}

}  // namespace

Result<nlohmann::json> validate_params(const Operation& op, const nlohmann::json& params) {
    if (!params.is_object() && !params.is_null()) {
        return invalid_param("params", "must be a JSON object " + shown(params));
    }
    nlohmann::json out = nlohmann::json::object();
    if (params.is_object()) {
        for (const auto& [name, value] : params.items()) {
            const FieldSpec* f = find_field(op, name);
            if (!f) {
                return invalid_param(safe_name(name), "unknown field for " + op.kind +
                                                          " (allowed: " + field_names(op) + ")");
            }
            if (value.is_null()) continue;  // an explicit null means "not given"
            auto checked = check_field(*f, value);
            if (!checked) return checked.error();
            out[name] = std::move(checked.value());
        }
    }
    if (auto st = fill_missing(op, out); !st) return st.error();
    if (auto st = check_cross_fields(op, out); !st) return st.error();
    return out;
}

Result<ImageInfo> validate_image(const Operation& op, std::string_view bytes,
                                 std::string_view field) {
    const ImageRule& rule = op.image;
    if (bytes.size() > rule.max_bytes) {
        return invalid_image(field, mib_text(bytes.size(), true) + " is larger than the " +
                                        limit_text(rule.max_bytes) + " limit");
    }
    const auto info = read_image_info(bytes);
    if (!info) {
        return invalid_image(field, "not a " + format_list(rule) + " image (unrecognised content)");
    }
    bool accepted = false;
    for (const ImageFormat f : rule.formats) accepted = accepted || f == info->format;
    if (!accepted) {
        return invalid_image(field, "must be a " + format_list(rule) + " image (got " +
                                        format_title(info->format) + ")");
    }
    if (auto st = check_dimensions(rule, *info, field); !st) return st.error();
    if (!image_is_complete(bytes, info->format)) {
        return invalid_image(field, "the " + format_title(info->format) +
                                        " file is truncated (its header is intact but the file "
                                        "ends early)");
    }
    return *info;
}

Status validate_mask_source(const Operation& op, const nlohmann::json& params,
                            const ImageInfo& image, bool has_mask) {
    if (!op.has_mask || has_mask || image.has_alpha) return ok_status();
    if (params.is_object() && params.value("mode", std::string()) == "search") return ok_status();
    return invalid_image("image", "has no alpha channel and no mask was given: give a mask image "
                                  "(white = the area to inpaint), or a PNG or WebP image whose "
                                  "transparent pixels mark the area");
}

}  // namespace genq::provider
