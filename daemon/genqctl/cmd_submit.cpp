// genqctl submit IMAGE... : one job per image, all over one connection.
#include <glob.h>
#include <sys/stat.h>

#include <cstdio>
#include <variant>

#include "core/files.hpp"
#include "ctl.hpp"
#include "provider/multipart.hpp"

namespace genqctl {
namespace {

struct SubmitOptions {
    std::vector<std::string> images;
    std::string kind;
    std::optional<std::string> seed, cfg_scale, motion, prompt, negative_prompt, mode,
        search_prompt, output_format, creativity, grow_mask;
    std::string mask;
    std::optional<int> priority;
    std::string key;
    std::string idempotency_key;
    bool skip_bad = false;
    std::string fit;  // "" = as given
    std::vector<std::string> params;  // --param k=v
    bool wait = false;
    double timeout = 0;
};

constexpr std::size_t kMaxImage = 64 * 1024 * 1024;

// An argument, expanded: the shell did not expand quoted patterns (or scripts pass them as is).
struct Arg {
    std::string given;
    std::vector<std::string> paths;
    std::string error;  // a pattern that matched nothing
};

std::vector<Arg> expand(const std::vector<std::string>& args) {
    std::vector<Arg> out;
    for (const auto& a : args) {
        struct stat st {};
        if (::stat(a.c_str(), &st) == 0 || a.find_first_of("*?[") == std::string::npos) {
            out.push_back({a, {a}, ""});
            continue;
        }
        glob_t g{};
        Arg arg{a, {}, ""};
        if (::glob(a.c_str(), 0, nullptr, &g) == 0)
            for (std::size_t i = 0; i < g.gl_pathc; ++i) arg.paths.emplace_back(g.gl_pathv[i]);
        else
            arg.error = "no file matches this pattern";
        ::globfree(&g);
        out.push_back(std::move(arg));
    }
    return out;
}

std::string base_name(const std::string& path) {
    auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

void add_optional(genq::provider::MultipartBuilder& mp, const char* name,
                  const std::optional<std::string>& v) {
    if (v) mp.add_field(name, *v);
}

// Files per request and bytes per request: one request (and one commit in genqd) carries many
// jobs, and stays well below genqd's 32 MiB body limit. 16 files per commit amortise the fsyncs
// while genqd stays responsive to other clients between commits (see bench/control_bench.py).
constexpr std::size_t kBatchFiles = 16;  // genqd parses at most 64 parts
constexpr std::size_t kBatchBytes = 24 * 1024 * 1024;

struct Input {
    std::string path;
    std::string bytes;
};

struct Outcome {
    std::string path;
    std::string id;     // set when accepted
    std::string error;  // set when refused
};

void add_shared_fields(genq::provider::MultipartBuilder& mp, const SubmitOptions& o,
                       const std::string& mask) {
    if (!mask.empty()) mp.add_file("mask", "mask", "application/octet-stream", mask);
    if (!o.kind.empty()) mp.add_field("kind", o.kind);
    if (o.priority) mp.add_field("priority", std::to_string(*o.priority));
    if (!o.key.empty()) mp.add_field("key", o.key);
    add_optional(mp, "seed", o.seed);
    add_optional(mp, "cfg_scale", o.cfg_scale);
    add_optional(mp, "motion_bucket_id", o.motion);
    add_optional(mp, "prompt", o.prompt);
    add_optional(mp, "negative_prompt", o.negative_prompt);
    add_optional(mp, "mode", o.mode);
    add_optional(mp, "search_prompt", o.search_prompt);
    add_optional(mp, "output_format", o.output_format);
    add_optional(mp, "creativity", o.creativity);
    add_optional(mp, "grow_mask", o.grow_mask);
    if (!o.fit.empty()) mp.add_field("fit", o.fit);
    for (const auto& kv : o.params) {
        auto eq = kv.find('=');
        if (eq == 0 || eq == std::string::npos)
            throw ExitError{kUsage, "--param: expected NAME=VALUE (got \"" + kv + "\")"};
        mp.add_field(kv.substr(0, eq), kv.substr(eq + 1));
    }
}

// No image (prompt-only kinds: ultra, core, sd3): one POST /v1/jobs with the fields alone.
std::vector<Outcome> submit_prompt_only(Ctl& ctl, const SubmitOptions& o) {
    genq::provider::MultipartBuilder mp;
    add_shared_fields(mp, o, {});
    std::string ct = mp.content_type();
    auto r = ctl.call("POST", "/v1/jobs", mp.finish(), ct);
    auto job = r.status == 201 ? genq::api::wire::parse_job(
                                     nlohmann::json::parse(r.body, nullptr, false))
                               : genq::Result<genq::Job>(genq::Error{"refused", Ctl::error_of(r)});
    if (!job) return {{"(prompt)", "", job.error().message}};
    return {{"(prompt)", job->id, ""}};
}

// One POST /v1/jobs/batch for `inputs`; one outcome per input, in order. `query`: the batch's
// mode ("all_or_nothing=1", "check=1" or ""); `idem`: its Idempotency-Key ("" = none).
std::vector<Outcome> submit_batch(Ctl& ctl, const SubmitOptions& o, const std::vector<Input>& inputs,
                                  const std::string& mask, const std::string& query,
                                  const std::string& idem) {
    genq::provider::MultipartBuilder mp;
    for (const auto& in : inputs)
        mp.add_file("image", base_name(in.path), "application/octet-stream", in.bytes);
    add_shared_fields(mp, o, mask);
    std::string ct = mp.content_type();
    genq::net::Headers headers;
    if (!idem.empty()) headers.emplace_back("idempotency-key", idem);
    auto r = ctl.call("POST", "/v1/jobs/batch" + (query.empty() ? "" : "?" + query), mp.finish(),
                      ct, headers);
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    // 422 with results: an all-or-nothing batch refused, each file with its reason.
    bool itemised = r.status == 200 || (r.status == 422 && j.is_object() && j.contains("results"));
    auto results = itemised ? genq::api::wire::parse_batch(j)
                            : genq::Result<std::vector<genq::api::wire::BatchItem>>(
                                  genq::Error{"refused", Ctl::error_of(r)});
    if (results && results->size() != inputs.size())
        results = genq::Error{"bad_answer", "malformed answer"};
    std::vector<Outcome> out;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        Outcome oc{inputs[i].path, "", ""};
        if (!results)
            oc.error = itemised ? "malformed answer" : results.error().message;
        else if (const auto& res = (*results)[i]; res.job)
            oc.id = res.job->id;
        else
            oc.error = res.error.error;  // "" in a check: this file would be accepted
        out.push_back(std::move(oc));
    }
    return out;
}

// The files, read; what cannot be read (or a pattern that matched nothing) is refused here.
std::vector<std::variant<Input, Outcome>> read_inputs(const std::vector<std::string>& args) {
    std::vector<std::variant<Input, Outcome>> out;
    for (const auto& arg : expand(args)) {
        if (!arg.error.empty()) out.emplace_back(Outcome{arg.given, "", arg.error});
        for (const auto& path : arg.paths) {
            auto data = genq::read_file(path, kMaxImage);
            if (data)
                out.emplace_back(Input{path, std::move(*data)});
            else
                out.emplace_back(Outcome{path, "", data.error().message});
        }
    }
    return out;
}

// Consecutive inputs cut into requests of at most kBatchFiles files and kBatchBytes bytes.
std::vector<std::vector<Input>> batches_of(std::vector<Input> inputs) {
    std::vector<std::vector<Input>> out(1);
    std::size_t bytes = 0;
    for (auto& in : inputs) {
        if (!out.back().empty() &&
            (out.back().size() >= kBatchFiles || bytes + in.bytes.size() > kBatchBytes)) {
            out.emplace_back();
            bytes = 0;
        }
        bytes += in.bytes.size();
        out.back().push_back(std::move(in));
    }
    if (out.back().empty()) out.pop_back();
    return out;
}

// The key of the n-th request of one submit: the user's key for a single request, and derived
// ones when the files need several, so a repeated command repeats every request.
std::string idem_for(const SubmitOptions& o, std::size_t n, std::size_t total) {
    if (o.idempotency_key.empty() || total == 1) return o.idempotency_key;
    return o.idempotency_key + "#" + std::to_string(n + 1);
}

// SPEC §6: all or nothing unless --skip-bad. Every file is checked before any is queued: local
// refusals first, then genqd's check of every request (only needed when there are several; a
// single request is itself all or nothing).
std::vector<Outcome> submit_all(Ctl& ctl, const SubmitOptions& o, const std::string& mask) {
    std::vector<Outcome> refused, out;
    std::vector<Input> inputs;
    for (auto& v : read_inputs(o.images)) {
        if (auto* oc = std::get_if<Outcome>(&v))
            refused.push_back(*oc);
        else
            inputs.push_back(std::move(std::get<Input>(v)));
    }
    if (!o.skip_bad && !refused.empty()) return refused;  // nothing sent
    auto batches = batches_of(std::move(inputs));
    if (!o.skip_bad && batches.size() > 1) {
        std::vector<Outcome> checked;
        for (const auto& b : batches)
            for (auto& oc : submit_batch(ctl, o, b, mask, "check=1", ""))
                if (!oc.error.empty()) checked.push_back(std::move(oc));
        if (!checked.empty()) return checked;
    }
    for (std::size_t i = 0; i < batches.size(); ++i)
        for (auto& oc : submit_batch(ctl, o, batches[i], mask,
                                     o.skip_bad ? "" : "all_or_nothing=1",
                                     idem_for(o, i, batches.size())))
            out.push_back(std::move(oc));
    for (auto& oc : refused) out.push_back(std::move(oc));
    return out;
}

int run_submit(Ctl& ctl, const SubmitOptions& o) {
    std::string mask;
    if (!o.mask.empty()) {
        auto m = genq::read_file(o.mask, kMaxImage);
        if (!m) throw ExitError{kFailed, "--mask: " + m.error().message};
        mask = *m;
    }
    std::vector<std::string> ids;
    nlohmann::json out = nlohmann::json::array();
    auto outcomes = o.images.empty() ? submit_prompt_only(ctl, o) : submit_all(ctl, o, mask);
    int refused = 0;
    for (const auto& oc : outcomes) {
        if (!oc.error.empty()) {
            ++refused;
            out.push_back({{"file", oc.path}, {"error", oc.error}});
            if (o.skip_bad && !ctl.json)
                std::printf("%s\terror: %s\n", oc.path.c_str(), oc.error.c_str());
            else
                std::fprintf(stderr, "genqctl: %s: %s\n", oc.path.c_str(), oc.error.c_str());
            continue;
        }
        ids.push_back(oc.id);
        out.push_back({{"file", oc.path}, {"id", oc.id}});
        if (ctl.json) continue;
        if (o.skip_bad)
            std::printf("%s\t%s\n", oc.path.c_str(), oc.id.c_str());
        else
            std::printf("%s\n", oc.id.c_str());
    }
    if (refused && !o.skip_bad && ids.empty() && !ctl.json)
        std::fprintf(stderr, "genqctl: %d of %zu refused; nothing queued\n", refused,
                     outcomes.size());
    std::fflush(stdout);
    // --skip-bad: the good files are what was asked for; nothing queued at all is a failure.
    int rc = refused && (!o.skip_bad || ids.empty()) ? kFailed : kOk;
    if (o.wait && !ids.empty()) {
        WaitResult w = wait_for_jobs(ctl, ids, o.timeout, !ctl.json);
        rc = std::max(rc, w.code);
        for (auto& item : out)
            if (item.contains("id"))
                if (auto it = w.jobs.find(item["id"].get<std::string>()); it != w.jobs.end())
                    item["job"] = it->second;
    }
    if (ctl.json) print_json(out);
    return rc;
}

}  // namespace

void add_submit(CLI::App& app, Ctl& ctl, Runner& run) {
    auto o = std::make_shared<SubmitOptions>();
    auto* cmd = app.add_subcommand("submit", "queue one job per image; prints one id per line");
    cmd->add_option("images", o->images, "image files (globs allowed; none for a prompt-only kind)");
    cmd->add_option("--idempotency-key", o->idempotency_key,
                    "a repeat with the same key within 24 h queues nothing new");
    cmd->add_flag("--skip-bad", o->skip_bad,
                  "queue the good files when some are refused; print FILE<TAB>ID or error");
    cmd->add_option("--kind", o->kind, "operation (default video)");
    cmd->add_option("--seed", o->seed, "0..4294967294, 0 = random");
    cmd->add_option("--cfg-scale", o->cfg_scale, "0..10");
    cmd->add_option("--motion", o->motion, "motion_bucket_id 1..255");
    cmd->add_option("--prompt", o->prompt, "prompt (upscale, inpaint)");
    cmd->add_option("--negative-prompt", o->negative_prompt, "negative prompt");
    cmd->add_option("--mask", o->mask, "mask image (inpaint)");
    cmd->add_option("--mode", o->mode, "inpaint mode: mask or search");
    cmd->add_option("--search-prompt", o->search_prompt, "inpaint search prompt");
    cmd->add_option("--output-format", o->output_format, "png, jpeg or webp");
    cmd->add_option("--creativity", o->creativity, "upscale creativity 0..0.35");
    cmd->add_option("--grow-mask", o->grow_mask, "inpaint-v2beta grow_mask");
    // A flag, so `--fit a.jpg` never takes the image for the mode; `--fit=pad` pads.
    cmd->add_flag("--fit{crop}", o->fit, "fit each image to a video size first (--fit=pad pads)");
    cmd->add_option("--param", o->params, "NAME=VALUE: any field of the kind (repeatable)");
    cmd->add_option("--priority", o->priority, "-1000..1000, higher first");
    cmd->add_option("--key", o->key, "submit with this key only");
    cmd->add_flag("--wait", o->wait, "wait until every job is final");
    cmd->add_option("--timeout", o->timeout, "with --wait: give up after S seconds");
    cmd->callback([&ctl, &run, o] { run = [&ctl, o] { return run_submit(ctl, *o); }; });
}

}  // namespace genqctl
