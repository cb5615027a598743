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

std::string side_rule(const ImageRule& rule) {
    if (rule.max_side > 0) {
        return "each side must be " + std::to_string(rule.min_side) + " to " +
               std::to_string(rule.max_side) + " pixels";
    }
    return "each side must be at least " + std::to_string(rule.min_side) + " pixels";
}

// 2.5 -> "1:2.5 and 2.5:1".
std::string aspect_text(double max_aspect) {
    return "1:" + number_text(max_aspect) + " and " + number_text(max_aspect) + ":1";
}

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
    const int longest = std::max(info.width, info.height);
    if (info.width < rule.min_side || info.height < rule.min_side ||
        (rule.max_side > 0 && longest > rule.max_side)) {
        return invalid_image(field, side_rule(rule) + " (got " + got + ")");
    }
    const std::int64_t pixels = std::int64_t{info.width} * info.height;
    if ((rule.min_pixels > 0 && pixels < rule.min_pixels) ||
        (rule.max_pixels > 0 && pixels > rule.max_pixels)) {
        return invalid_image(field, "must have " + std::to_string(rule.min_pixels) + " to " +
                                        std::to_string(rule.max_pixels) + " pixels in total (got " +
                                        got + " = " + std::to_string(pixels) + ")");
    }
    // Compared in integers: w <= max * h, with max given to one decimal (2.5 -> 5 / 2).
    if (rule.max_aspect > 0) {
        const auto tenths = static_cast<std::int64_t>(std::lround(rule.max_aspect * 10));
        const std::int64_t w = info.width, h = info.height;
        if (w * 10 > tenths * h || h * 10 > tenths * w) {
            return invalid_image(field, "aspect ratio must be between " +
                                            aspect_text(rule.max_aspect) + " (got " + got + ")");
        }
    }
    return ok_status();
}

Result<ImageInfo> check_image(const ImageRule& rule, std::string_view bytes,
                              std::string_view field) {
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

// ---- validate_job: the images of a job and how they combine with its params ----------------

// The images a job brings, sorted by role.
struct Images {
    const NamedInput* main = nullptr;
    const NamedInput* mask = nullptr;
    std::vector<const NamedInput*> extra;
    std::optional<ImageInfo> main_info;
};

std::string image_fields(const Operation& op) {
    std::vector<std::string> names;
    if (op.image_use != ImageUse::none) names.push_back(op.image_field);
    if (op.has_mask) names.push_back("mask");
    for (const ExtraImage& e : op.extra_images) names.push_back(e.field);
    return names.empty() ? std::string("none") : join(names, ", ");
}

const ExtraImage* find_extra(const Operation& op, std::string_view field) {
    for (const ExtraImage& e : op.extra_images)
        if (e.field == field) return &e;
    return nullptr;
}

Status sort_input(const Operation& op, const NamedInput& in, Images& out) {
    const bool is_main = in.field == "image" || in.field == op.image_field;
    const NamedInput** slot = nullptr;
    if (is_main && op.image_use != ImageUse::none) {
        slot = &out.main;
    } else if (is_main) {
        return invalid_image(in.field, "kind \"" + op.kind + "\" takes no image (it makes a "
                                                               "picture from the prompt alone)");
    } else if (in.field == "mask") {
        if (!op.has_mask) return invalid_param("mask", "kind \"" + op.kind + "\" takes no mask");
        slot = &out.mask;
    } else if (find_extra(op, in.field)) {
        for (const NamedInput* e : out.extra)
            if (e->field == in.field) return invalid_image(in.field, "given twice (one file)");
        out.extra.push_back(&in);
        return ok_status();
    } else {
        return invalid_param(safe_name(in.field), "kind \"" + op.kind + "\" takes no such image "
                                                  "(images allowed: " + image_fields(op) + ")");
    }
    if (*slot) return invalid_image(in.field, "given twice (one file)");
    *slot = &in;
    return ok_status();
}

Result<Images> check_images(const Operation& op, const std::vector<NamedInput>& inputs) {
    Images images;
    for (const NamedInput& in : inputs)
        if (auto st = sort_input(op, in, images); !st) return st.error();
    if (!images.main && op.image_use == ImageUse::required) {
        const std::string name = op.image_field == "image" ? "image" : op.image_field;
        return invalid_image(name, "missing (a file is required)");
    }
    if (images.main) {
        auto info = check_image(op.image, images.main->bytes, images.main->field);
        if (!info) return info.error();
        images.main_info = *info;
    }
    if (images.mask) {
        auto info = check_image(op.image, images.mask->bytes, "mask");
        if (!info) return info.error();
    }
    for (const NamedInput* e : images.extra) {
        auto info = check_image(find_extra(op, e->field)->rule, e->bytes, e->field);
        if (!info) return info.error();
    }
    return images;
}

Status check_with_image(const FieldSpec& f, nlohmann::json& out, bool has_image) {
    const bool given = out.contains(f.name);
    switch (f.with_image) {
        case ImageDependence::none: return ok_status();
        case ImageDependence::needs_image:
            if (has_image && !given)
                return invalid_param(f.name, "required when an image is given (" + allowed(f) +
                                                 ")");
            if (!has_image && given)
                return invalid_param(f.name, "only with an image (image-to-image); no image was "
                                             "given");
            return ok_status();
        case ImageDependence::text_only:
            if (has_image && given)
                return invalid_param(f.name, "only for text-to-image; not with an image");
            return ok_status();
        case ImageDependence::image_mode:
            if (has_image && !given) out[f.name] = "image-to-image";
            if (has_image && out[f.name] != "image-to-image")
                return invalid_param(f.name, "must be image-to-image when an image is given " +
                                                 shown(out[f.name]));
            if (!has_image && given && out[f.name] == "image-to-image")
                return invalid_image("image", "required when " + f.name + " is image-to-image");
            return ok_status();
    }
    return ok_status();
}

bool counts_as_given(const nlohmann::json& v) {
    if (v.is_number()) return v.get<double>() > 0;
    if (v.is_string()) return !v.get_ref<const std::string&>().empty();
    return !v.is_null();
}

Status check_at_least_one(const Operation& op, const nlohmann::json& out, const Images& images) {
    for (const AtLeastOne& group : op.at_least_one) {
        bool any = false;
        for (const std::string& name : group.names) {
            if (out.contains(name) && counts_as_given(out[name])) any = true;
            for (const NamedInput* e : images.extra) any = any || e->field == name;
        }
        if (!any) {
            return invalid_param(join(group.names, " or "),
                                 "at least one must be " + group.what);
        }
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
    return check_image(op.image, bytes, field);
}

Status validate_mask_source(const Operation& op, const nlohmann::json& params,
                            const ImageInfo& image, bool has_mask) {
    if (!op.has_mask || has_mask || image.has_alpha) return ok_status();
    if (params.is_object() && params.value("mode", std::string()) == "search") return ok_status();
    const std::string verb = op.kind == "erase" ? "erase" : "inpaint";
    return invalid_image("image", "has no alpha channel and no mask was given: give a mask image "
                                  "(white = the area to " + verb + "), or a PNG or WebP image "
                                  "whose transparent pixels mark the area");
}

Result<nlohmann::json> validate_job(const Operation& op, const nlohmann::json& params,
                                    const std::vector<NamedInput>& inputs) {
    auto images = check_images(op, inputs);
    if (!images) return images.error();
    auto out = validate_params(op, params);
    if (!out) return out;
    const bool has_image = images->main != nullptr;
    for (const FieldSpec& f : op.fields)
        if (auto st = check_with_image(f, *out, has_image); !st) return st.error();
    if (auto st = check_at_least_one(op, *out, *images); !st) return st.error();
    if (has_image) {
        auto st = validate_mask_source(op, *out, *images->main_info, images->mask != nullptr);
        if (!st) return st.error();
    }
    return out;
}

}  // namespace genq::provider
