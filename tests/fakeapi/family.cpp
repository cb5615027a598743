// The stable-image family as the stand-in checks it. See family.hpp.
#include "family.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace fakeapi {
namespace {

using nlohmann::json;

enum class T { integer, number, text, choice };

struct FieldDef {
    std::string name;
    T type;
    double lo = 0, hi = 0;
    std::vector<std::string> choices;
    bool required = false;
};

struct ImageDef {
    std::string name;
    bool required = true;
    std::uint32_t min_side = 64, max_side = 0;
    std::uint64_t min_px = 4096, max_px = 9437184;
    bool aspect = true;  // between 1:2.5 and 2.5:1
};

struct Spec {
    std::string kind;
    std::vector<ImageDef> images;
    std::vector<FieldDef> fields;
    std::vector<std::string> one_of;  // at least one given (numbers: > 0)
    double price = 0;
};

FieldDef text(std::string n, bool required = false) {
    return {std::move(n), T::text, 0, 0, {}, required};
}
FieldDef num(std::string n, double lo, double hi) {
    return {std::move(n), T::number, lo, hi, {}, false};
}
FieldDef integer(std::string n, double lo, double hi) {
    return {std::move(n), T::integer, lo, hi, {}, false};
}
FieldDef choice(std::string n, std::vector<std::string> c) {
    return {std::move(n), T::choice, 0, 0, std::move(c), false};
}

FieldDef seed() {
    return integer("seed", 0, 4294967294.0);
}
FieldDef formats() {
    return choice("output_format", {"jpeg", "png", "webp"});
}
FieldDef ratios() {
    return choice("aspect_ratio",
                  {"21:9", "16:9", "3:2", "5:4", "1:1", "4:5", "2:3", "9:16", "9:21"});
}
FieldDef presets() {
    return choice("style_preset",
                  {"enhance", "anime", "photographic", "digital-art", "comic-book", "fantasy-art",
                   "line-art", "analog-film", "neon-punk", "isometric", "low-poly", "origami",
                   "modeling-compound", "cinematic", "3d-model", "pixel-art", "tile-texture"});
}

ImageDef optional_image(std::string name) {
    ImageDef d;
    d.name = std::move(name);
    d.required = false;
    return d;
}

std::vector<Spec> make_specs() {
    std::vector<Spec> s;
    ImageDef gen = optional_image("image");
    gen.aspect = false;
    s.push_back({"ultra",
                 {gen},
                 {text("prompt", true), text("negative_prompt"), ratios(), seed(), formats(),
                  num("strength", 0, 1), presets()},
                 {},
                 8});
    s.push_back(
        {"core",
         {},
         {text("prompt", true), text("negative_prompt"), ratios(), seed(), formats(), presets()},
         {},
         3});
    s.push_back(
        {"sd3",
         {gen},
         {text("prompt", true), choice("mode", {"text-to-image", "image-to-image"}), ratios(),
          choice("model", {"sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3-large",
                           "sd3-large-turbo", "sd3-medium"}),
          seed(), choice("output_format", {"jpeg", "png"}), text("negative_prompt"),
          num("cfg_scale", 1, 10), num("strength", 0, 1)},
         {},
         6.5});
    s.push_back({"upscale-conservative",
                 {ImageDef{"image"}},
                 {text("prompt", true), text("negative_prompt"), seed(), formats(),
                  num("creativity", 0.2, 0.5)},
                 {},
                 40});
    s.push_back({"upscale-fast",
                 {ImageDef{"image", true, 32, 1536, 1024, 1048576, true}},
                 {formats()},
                 {},
                 2});
    s.push_back({"erase",
                 {ImageDef{"image"}, optional_image("mask")},
                 {integer("grow_mask", 0, 20), seed(), formats()},
                 {},
                 5});
    s.push_back(
        {"outpaint",
         {ImageDef{"image"}},
         {integer("left", 0, 2000), integer("right", 0, 2000), integer("up", 0, 2000),
          integer("down", 0, 2000), text("prompt"), num("creativity", 0, 1), seed(), formats()},
         {"left", "right", "up", "down"},
         4});
    s.push_back({"search-and-replace",
                 {ImageDef{"image"}},
                 {text("prompt", true), text("search_prompt", true), text("negative_prompt"),
                  integer("grow_mask", 0, 20), seed(), formats()},
                 {},
                 5});
    s.push_back({"search-and-recolor",
                 {ImageDef{"image"}},
                 {text("prompt", true), text("select_prompt", true), text("negative_prompt"),
                  integer("grow_mask", 0, 20), seed(), formats()},
                 {},
                 5});
    s.push_back({"remove-background",
                 {ImageDef{"image", true, 64, 0, 4096, 4194304, true}},
                 {choice("output_format", {"png", "webp"})},
                 {},
                 5});
    s.push_back({"relight",
                 {ImageDef{"subject_image"}, optional_image("background_reference"),
                  optional_image("light_reference")},
                 {text("background_prompt"), text("foreground_prompt"), text("negative_prompt"),
                  num("preserve_original_subject", 0, 1), num("original_background_depth", 0, 1),
                  choice("keep_original_background", {"true", "false"}),
                  choice("light_source_direction", {"left", "right", "above", "below"}),
                  num("light_source_strength", 0, 1), seed(), formats()},
                 {"background_prompt", "background_reference"},
                 8});
    for (const char* k : {"sketch", "structure"}) {
        s.push_back({k,
                     {ImageDef{"image"}},
                     {text("prompt", true), num("control_strength", 0, 1), text("negative_prompt"),
                      seed(), formats()},
                     {},
                     5});
    }
    s.push_back({"style",
                 {ImageDef{"image"}},
                 {text("prompt", true), text("negative_prompt"), ratios(), num("fidelity", 0, 1),
                  seed(), formats()},
                 {},
                 5});
    return s;
}

const std::vector<Spec>& specs() {
    static const std::vector<Spec> all = make_specs();
    return all;
}

const Spec* find_spec(std::string_view kind) {
    for (const auto& s : specs())
        if (s.kind == kind) return &s;
    return nullptr;
}

const Part* part(const Form& form, std::string_view name) {
    const auto it = form.find(name);
    return it == form.end() ? nullptr : &it->second;
}

std::optional<double> number(std::string_view s) {
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v))
        return std::nullopt;
    return v;
}

void check_field(const FieldDef& f, const Form& form, FamilyCheck& c) {
    const Part* p = part(form, f.name);
    if (p == nullptr || p->data.empty()) {
        if (f.required) c.errors.push_back(f.name + ": is required");
        return;
    }
    const std::string& v = p->data;
    switch (f.type) {
        case T::text:
            if (v.size() > 10000)
                c.errors.push_back(f.name + ": must be at most 10000 characters");
            else
                c.params[f.name] = v;
            return;
        case T::choice:
            if (std::find(f.choices.begin(), f.choices.end(), v) == f.choices.end())
                c.errors.push_back(f.name + ": must be one of " + json(f.choices).dump());
            else
                c.params[f.name] = v;
            return;
        case T::integer:
        case T::number: {
            const auto n = number(v);
            const bool integral =
                n && std::floor(*n) == *n && v.find_first_of(".eE") == std::string::npos;
            if (!n || *n < f.lo || *n > f.hi || (f.type == T::integer && !integral)) {
                c.errors.push_back(f.name + ": must be a" +
                                   (f.type == T::integer ? "n integer" : " number") + " between " +
                                   json(f.lo).dump() + " and " + json(f.hi).dump() + ", got '" +
                                   v.substr(0, 40) + "'");
                return;
            }
            c.params[f.name] =
                f.type == T::integer ? json(static_cast<std::uint64_t>(*n)) : json(*n);
            return;
        }
    }
}

void check_image(const ImageDef& d, const Form& form, FamilyCheck& c) {
    const Part* p = part(form, d.name);
    if (p == nullptr) {
        if (d.required) c.errors.push_back(d.name + ": is required");
        return;
    }
    const auto info = sniff_image(p->data);
    if (!info) {
        c.errors.push_back(d.name + ": is not a PNG, JPEG or WebP image");
        return;
    }
    const std::uint64_t px = std::uint64_t{info->width} * info->height;
    const auto dims = std::to_string(info->width) + "x" + std::to_string(info->height);
    if (info->width < d.min_side || info->height < d.min_side ||
        (d.max_side && std::max(info->width, info->height) > d.max_side))
        c.errors.push_back(d.name + ": " + dims + " has a side outside the allowed range");
    if (px < d.min_px || px > d.max_px)
        c.errors.push_back(d.name + ": " + std::to_string(px) + " pixels, must be between " +
                           std::to_string(d.min_px) + " and " + std::to_string(d.max_px));
    if (d.aspect && (info->width * 2 > info->height * 5 || info->height * 2 > info->width * 5))
        c.errors.push_back(d.name + ": aspect ratio " + dims + " is outside 1:2.5 .. 2.5:1");
    c.params[d.name] = json{{"format", info->format},
                            {"width", info->width},
                            {"height", info->height},
                            {"bytes", p->data.size()}};
    if (d.name == "image" || d.name == "subject_image") c.image_sha = sha256_hex(p->data);
}

// The documented rules between fields: strength with an image, sd3's mode, "at least one".
void check_combinations(const Spec& s, const Form& form, FamilyCheck& c) {
    const bool has_image = part(form, "image") != nullptr;
    const bool takes_strength = s.kind == "ultra" || s.kind == "sd3";
    if (takes_strength && has_image && !c.params.contains("strength"))
        c.errors.push_back("strength: is required when an image is provided");
    if (s.kind == "sd3") {
        const std::string mode = c.params.value("mode", std::string("text-to-image"));
        if ((mode == "image-to-image") != has_image)
            c.errors.push_back("mode: " + mode +
                               (has_image ? " does not take an image" : " requires an image"));
    }
    if (!s.one_of.empty()) {
        bool any = false;
        for (const auto& name : s.one_of) {
            const auto it = c.params.find(name);
            if (it != c.params.end() && (!it->is_number() || it->get<double>() > 0)) any = true;
        }
        if (!any) c.errors.push_back(json(s.one_of).dump() + ": at least one must be provided");
    }
    for (const auto& [name, p] : form) {
        const bool known = std::any_of(s.fields.begin(), s.fields.end(),
                                       [&](const FieldDef& f) { return f.name == name; }) ||
                           std::any_of(s.images.begin(), s.images.end(),
                                       [&](const ImageDef& d) { return d.name == name; });
        if (!known) c.errors.push_back(name + ": unexpected field");
    }
}

}  // namespace

bool is_family_kind(std::string_view kind) {
    return find_spec(kind) != nullptr;
}

FamilyCheck check_family(std::string_view kind, const Form& form) {
    FamilyCheck c;
    const Spec* s = find_spec(kind);
    for (const auto& d : s->images) check_image(d, form, c);
    for (const auto& f : s->fields) check_field(f, form, c);
    check_combinations(*s, form, c);
    c.seed = c.params.value("seed", std::uint64_t{0});
    c.format = c.params.value("output_format", std::string("png"));
    return c;
}

double price_of(std::string_view kind, const json& params) {
    if (kind == "sd3") {
        const std::string model = params.value("model", std::string("sd3.5-large"));
        if (model.find("turbo") != std::string::npos) return 4;
        if (model.find("medium") != std::string::npos) return 3.5;
        return 6.5;
    }
    if (const Spec* s = find_spec(kind)) return s->price;
    if (kind == "video" || kind == "video-v2alpha") return 20;
    if (kind == "upscale" || kind == "upscale-creative") return 25;
    return 3;  // inpaint, inpaint-v2beta
}

}  // namespace fakeapi
