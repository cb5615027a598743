// The provider's endpoints: submit (async and sync kinds), validation, magic seeds and results.
#include "provider.hpp"

#include "family.hpp"
#include "mp4_clip.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace fakeapi {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxRequestBody = 10 * 1024 * 1024;
constexpr std::uint64_t kMaxSeed = 4294967294ULL;

// What validation of one submit found.
struct Checked {
    std::vector<std::string> errors;
    json params = json::object();
    std::uint64_t seed = 0;
    std::string format = "png";  // output_format of image kinds
    std::string image_sha;
};

const Part* field(const Form& form, std::string_view name) {
    const auto it = form.find(name);
    return it == form.end() ? nullptr : &it->second;
}

std::optional<double> parse_number(std::string_view s, bool integer) {
    if (integer) {
        std::uint64_t v = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) {
            return std::nullopt;
        }
        return static_cast<double>(v);
    }
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v)) {
        return std::nullopt;
    }
    return v;
}

std::string range_text(double lo, double hi) {
    return json(lo).dump() + " and " + json(hi).dump();
}

void check_number(const Form& form, const std::string& name, double lo, double hi, bool integer,
                  Checked& c) {
    const Part* p = field(form, name);
    if (p == nullptr) {
        return;
    }
    const auto v = parse_number(p->data, integer);
    if (!v || *v < lo || *v > hi) {
        c.errors.push_back(name + ": must be " + (integer ? "an integer" : "a number") +
                           " between " + range_text(lo, hi) + ", got '" + p->data.substr(0, 40) +
                           "'");
        return;
    }
    c.params[name] = integer ? json(static_cast<std::uint64_t>(*v)) : json(*v);
}

void check_text(const Form& form, const std::string& name, bool required, Checked& c) {
    const Part* p = field(form, name);
    if (p == nullptr || p->data.empty()) {
        if (required) {
            c.errors.push_back(name + ": is required");
        }
        return;
    }
    if (p->data.size() > 10000) {
        c.errors.push_back(name + ": must be at most 10000 characters");
        return;
    }
    c.params[name] = p->data;
}

void check_choice(const Form& form, const std::string& name, const std::vector<std::string>& ok,
                  Checked& c) {
    const Part* p = field(form, name);
    if (p == nullptr) {
        return;
    }
    if (std::find(ok.begin(), ok.end(), p->data) == ok.end()) {
        c.errors.push_back(name + ": must be one of " + json(ok).dump());
        return;
    }
    c.params[name] = p->data;
}

std::optional<ImageInfo> check_image(const Form& form, const std::string& name, bool required,
                                     Checked& c) {
    const Part* p = field(form, name);
    if (p == nullptr) {
        if (required) {
            c.errors.push_back(name + ": is required");
        }
        return std::nullopt;
    }
    auto info = sniff_image(p->data);
    if (!info) {
        c.errors.push_back(name + ": is not a PNG, JPEG or WebP image");
        return std::nullopt;
    }
    if (name == "image") {
        c.image_sha = sha256_hex(p->data);
        c.params["image"] = json{{"format", info->format}, {"width", info->width},
                                 {"height", info->height}, {"bytes", p->data.size()}};
    }
    return info;
}

void check_video(const Form& form, Checked& c) {
    if (const auto img = check_image(form, "image", true, c)) {
        const auto dims = std::to_string(img->width) + "x" + std::to_string(img->height);
        if (img->format == "webp") {
            c.errors.push_back("image: must be a PNG or JPEG image, got webp");
        } else if (dims != "1024x576" && dims != "576x1024" && dims != "768x768") {
            c.errors.push_back("image: dimensions " + dims +
                               " are not one of 1024x576, 576x1024, 768x768");
        }
    }
    check_number(form, "cfg_scale", 0, 10, false, c);
    check_number(form, "motion_bucket_id", 1, 255, true, c);
}

void check_pixels(const std::optional<ImageInfo>& img, std::uint64_t lo, std::uint64_t hi,
                  Checked& c) {
    if (!img) {
        return;
    }
    const std::uint64_t px = std::uint64_t{img->width} * img->height;
    if (px < lo || px > hi) {
        c.errors.push_back("image: " + std::to_string(px) + " pixels, must be between " +
                           std::to_string(lo) + " and " + std::to_string(hi));
    }
}

void check_image_kind(const SubmitEndpoint& ep, const Form& form, Checked& c) {
    const auto img = check_image(form, "image", true, c);
    check_text(form, "prompt", true, c);
    check_text(form, "negative_prompt", false, c);
    check_choice(form, "output_format", {"png", "jpeg", "webp"}, c);
    if (ep.async) {  // upscale and creative upscale
        if (img && (img->width < 64 || img->height < 64)) {
            c.errors.push_back("image: both sides must be at least 64 pixels");
        }
        check_pixels(img, 4096, 1048576, c);
        check_number(form, "creativity", 0, 0.35, false, c);
        return;
    }
    check_pixels(img, 4096, 9437184, c);
    const auto mask = check_image(form, "mask", false, c);
    if (ep.kind == "inpaint") {
        check_choice(form, "mode", {"mask", "search"}, c);
        const auto mode = c.params.value("mode", std::string("mask"));
        check_text(form, "search_prompt", mode == "search", c);
    } else {
        check_number(form, "grow_mask", 0, 100, true, c);
    }
    c.params["mask"] = mask.has_value();  // tests check that the mask reached the provider
}

Checked validate(const SubmitEndpoint& ep, const Form& form) {
    Checked c;
    if (is_family_kind(ep.kind)) {
        FamilyCheck f = check_family(ep.kind, form);
        c.errors = std::move(f.errors);
        c.params = std::move(f.params);
        c.seed = f.seed;
        c.format = f.format;
        c.image_sha = f.image_sha;
        return c;
    }
    if (ep.video) {
        check_video(form, c);
    } else {
        check_image_kind(ep, form, c);
    }
    check_number(form, "seed", 0, static_cast<double>(kMaxSeed), true, c);
    c.seed = c.params.value("seed", std::uint64_t{0});
    c.format = c.params.value("output_format", std::string("png"));
    return c;
}

std::string mime_of(const std::string& format) {
    return format == "mp4" ? "video/mp4" : "image/" + format;
}

}  // namespace

Response Provider::submit(Call& call) {
    const auto& req = call.req;
    if (req.body.size() > kMaxRequestBody) {
        return error(413, "payload_too_large", {"body: the request body exceeds 10 MiB"});
    }
    std::string why;
    const auto form = parse_multipart(header_value(req, "content-type"), req.body, why);
    if (!form) {
        return error(400, "bad_request", {"body: " + why});
    }
    Checked c = validate(*call.submit, *form);
    if (!c.errors.empty()) {
        return error(400, "bad_request", c.errors);
    }
    if (auto magic = magic_seed(c.seed, c.image_sha)) {
        return std::move(*magic);
    }
    if (auto refused = charge(*call.key, price_of(call.submit->kind, c.params))) {
        return std::move(*refused);
    }
    Generation g;
    g.id = hex_id(rng_, 64);
    g.key = *call.key;
    g.kind = std::string(call.submit->kind);
    g.format = call.submit->video ? "mp4" : c.format;
    g.created_at = req.arrival;
    const double jitter =
        opt_.gen_jitter > 0
            ? std::uniform_real_distribution<double>(-opt_.gen_jitter, opt_.gen_jitter)(rng_)
            : 0.0;
    g.ready_at = req.arrival + (call.submit->async ? opt_.gen_time * (1 + jitter) : 0.0);
    g.seed = c.seed != 0 ? c.seed : std::uniform_int_distribution<std::uint64_t>(1, kMaxSeed)(rng_);
    g.finish_reason = c.seed == 4000000777ULL ? "CONTENT_FILTERED" : "SUCCESS";
    g.content_seed = rng_();
    g.input_sha256 = c.image_sha;
    if (call.submit->video) {  // the demo's ffmpeg encode runs while the generation "runs"
        const auto& img = c.params["image"];
        videos_.start(c.image_sha, field(*form, "image")->data, img["width"].get<std::uint32_t>(),
                      img["height"].get<std::uint32_t>());
    }
    g.params = std::move(c.params);
    return accept_generation(call, std::move(g));
}

// Seeds that force an outcome, so tests can reach every branch of genq deterministically.
std::optional<Response> Provider::magic_seed(std::uint64_t seed, const std::string& image_sha) {
    switch (seed) {
    case 4000000400ULL:
        return error(400, "bad_request", {"seed: magic seed 4000000400 is always refused"});
    case 4000000403ULL:
        return error(403, "content_moderation",
                     {"Your request was flagged by our content moderation system, as a result "
                      "your request was denied and you were not charged."});
    case 4000000413ULL:
        return error(413, "payload_too_large", {"body: the request body exceeds 10 MiB"});
    case 4000000422ULL:
        return error(422, "public_figure",
                     {"rejected: the image appears to show a public figure"});
    case 4000000500ULL:
        return error(500, "internal_error", {"magic seed 4000000500: internal error"});
    case 4000000502ULL:
        if (failed_once_.insert(image_sha).second) {
            return error(500, "internal_error", {"magic seed 4000000502: first attempt fails"});
        }
        return std::nullopt;
    default:
        return std::nullopt;
    }
}

Response Provider::accept_generation(Call& call, Generation gen) {
    ++counters_.submits_accepted;
    const std::string id = gen.id;
    auto& stored = gens_.emplace(id, std::move(gen)).first->second;
    if (!call.submit->async) {
        return serve_result(call, stored);
    }
    Response res = json_response(200, json{{"id", id}});
    res.record.gen = id;
    return res;
}

Response Provider::poll(Call& call) {
    const auto it = gens_.find(call.gen);
    const bool found = it != gens_.end() && it->second.key == *call.key &&
                       (call.poll->any || call.poll->video == (it->second.format == "mp4"));
    if (!found) {
        return error(404, "generation_not_found",
                     {"generation " + call.gen.substr(0, 80) +
                      " was not found: it either does not exist or has expired"});
    }
    auto& g = it->second;
    if (call.req.arrival < g.ready_at || videos_.pending(g.input_sha256)) {
        return json_response(202, json{{"id", g.id}, {"status", "in-progress"}});
    }
    return serve_result(call, g);
}

Response Provider::serve_result(Call& call, Generation& g) {
    const std::string bytes =
        g.format == "mp4" ? video_result(g) : make_image(g.format, g.content_seed);
    g.result_sha256 = sha256_hex(bytes);
    Response res;
    if (header_value(call.req, "accept").find("application/json") != std::string::npos) {
        const auto field_name = g.format == "mp4" ? "video" : "image";
        res = json_response(200, json{{field_name, base64(bytes)},
                                      {"finish_reason", g.finish_reason},
                                      {"seed", g.seed}});
        res.headers.front().second = "application/json; type=" + mime_of(g.format);
        g.served_form = "json";
    } else {
        g.served_form = "bytes";
        res.headers.emplace_back("content-type", mime_of(g.format));
        res.headers.emplace_back("finish-reason", g.finish_reason);
        res.headers.emplace_back("seed", std::to_string(g.seed));
        res.body = bytes;
    }
    res.record.gen = g.id;
    res.record.sha256 = g.result_sha256;
    return res;
}

// The zoom made from the input when the demo asked for one and ffmpeg made it, else the built-in
// clip; either padded to --video-bytes with the generation's own noise, so results still differ.
std::string Provider::video_result(const Generation& g) {
    if (auto clip = videos_.clip(g.input_sha256)) {
        return pad_mp4(std::move(*clip), g.content_seed, opt_.video_bytes);
    }
    return make_mp4(g.content_seed, opt_.video_bytes);
}

}  // namespace fakeapi
