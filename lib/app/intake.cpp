#include "app/intake.hpp"

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "provider/fit_request.hpp"
#include "provider/operation.hpp"
#include "provider/utf8.hpp"
#include "provider/validate.hpp"
#include "ports/state_disk.hpp"
#include "store/database.hpp"
#include "store/queue_store.hpp"

namespace genq::app {
namespace {

constexpr int kMaxPriority = 1000;

// The caller's name, kept for display and the output name: the last path component only,
// control characters removed, at most 255 bytes.
std::string clean_name(const std::string& name) {
    std::string base = name.substr(name.find_last_of('/') == std::string::npos
                                       ? 0
                                       : name.find_last_of('/') + 1);
    std::string out;
    for (unsigned char c : base)
        if (c >= 0x20 && c != 0x7f) out += static_cast<char>(c);
    // Names travel in JSON (API, metadata, events): bytes that are not UTF-8 become '_'.
    if (!provider::is_valid_utf8(out))
        for (auto& c : out)
            if (static_cast<unsigned char>(c) >= 0x80) c = '_';
    out = provider::truncate_utf8(out, 255);
    return out.empty() ? "image" : out;
}

}  // namespace

Result<nlohmann::json> Intake::check(const SubmitRequest& req) {
    if (!provider::needs_fit(req)) return check_fitted(req);
    SubmitRequest copy = req;
    if (auto st = provider::apply_fit(copy); !st) return st.error();
    return check_fitted(copy);
}

Result<nlohmann::json> Intake::check_fitted(const SubmitRequest& req) {
    const provider::Operation* op = provider::find_operation(req.kind);
    if (!op)
        return Error{"invalid_kind", "kind: unknown kind \"" + req.kind +
                                         "\"; allowed: " + provider::operation_names()};
    if (req.priority < -kMaxPriority || req.priority > kMaxPriority)
        return Error{"invalid_param", "priority: must be an integer from -1000 to 1000 (got " +
                                          std::to_string(req.priority) + ")"};
    if (!req.key.empty() && !key_exists_(req.key))
        return Error{"invalid_key", "key: no key named \"" + req.key + "\" is configured"};
    // A prompt-only kind (ultra, core, sd3) makes a job without an image; the others refuse it.
    std::vector<provider::NamedInput> inputs;
    if (!req.image.empty()) inputs.push_back({"image", req.image_name, req.image});
    if (!req.mask.empty()) inputs.push_back({"mask", "mask", req.mask});
    return provider::validate_job(*op, req.params, inputs);
}

std::optional<Error> Intake::refused() const {
    if (disk_ && disk_->full()) return disk_->refusal();
    return std::nullopt;
}

Error Intake::no_space(const std::string& what) {
    if (!disk_) return Error{"no_space", what};
    disk_->no_space(what);
    return disk_->refusal();
}

bool Intake::commit(const std::vector<store::Job>& jobs, const std::string& source,
                    bool synced) {
    try {
        if (synced)
            store_.insert(jobs, "accepted from " + source);
        else
            store_.insert_unsynced(jobs, "accepted from " + source);
        return true;
    } catch (const store::DiskFullError& e) {
        no_space(std::string("committing new jobs: ") + e.what());
        return false;
    }
}

Result<store::Job> Intake::submit(const SubmitRequest& req) {
    if (auto why = refused()) return *why;
    auto job = prepare(req, true);
    if (!job) return job;
    if (!commit({*job}, req.source))
        return refused().value_or(Error{"no_space", "no space for the new job"});
    if (on_created_) on_created_(*job);
    return job;
}

std::vector<Result<store::Job>> Intake::submit_many(const std::vector<SubmitRequest>& reqs) {
    auto batch = prepare_many(reqs);
    std::vector<store::Job> accepted;
    for (const auto& r : batch.results)
        if (r) accepted.push_back(*r);
    if (accepted.empty()) return std::move(batch.results);
    if (auto st = store_.sync_inputs(); !st) {
        refuse_accepted(batch.results, st.error());
        return std::move(batch.results);
    }
    if (!commit(accepted, batch.source)) {
        refuse_accepted(batch.results,
                        refused().value_or(Error{"no_space", "no space for the new jobs"}));
        return std::move(batch.results);
    }
    if (on_created_)
        for (const auto& job : accepted) on_created_(job);
    return std::move(batch.results);
}

ports::PreparedSubmissions Intake::prepare_many(const std::vector<SubmitRequest>& reqs) {
    ports::PreparedSubmissions out;
    out.source = reqs.empty() ? "" : reqs.front().source;
    if (auto why = refused()) {
        out.results.assign(reqs.size(), Result<store::Job>(*why));
        return out;
    }
    for (const auto& req : reqs) out.results.push_back(prepare(req, false));
    return out;
}

void Intake::when_inputs_durable(std::function<void(Status)> done) {
    store_.when_inputs_durable(std::move(done));
}

void Intake::commit_prepared(ports::PreparedSubmissions& batch) {
    // The jobs are moved out for the insert and back after it (a copy per job, params and
    // all, was a visible part of the batch path's profile).
    std::vector<store::Job> accepted;
    std::vector<std::size_t> where;
    for (std::size_t i = 0; i < batch.results.size(); ++i)
        if (batch.results[i]) {
            accepted.push_back(std::move(*batch.results[i]));
            where.push_back(i);
        }
    if (accepted.empty()) return;
    bool committed = commit(accepted, batch.source, false);
    for (std::size_t k = 0; k < where.size(); ++k)
        batch.results[where[k]] = std::move(accepted[k]);
    if (!committed)
        refuse_accepted(batch.results,
                        refused().value_or(Error{"no_space", "no space for the new jobs"}));
}

void Intake::announce(const ports::PreparedSubmissions& batch) {
    if (!on_created_) return;
    for (const auto& r : batch.results)
        if (r) on_created_(*r);
}

void Intake::when_durable(std::function<void(Status)> done) {
    store_.when_durable(std::move(done));
}

void Intake::refuse_accepted(std::vector<Result<store::Job>>& results, const Error& why) {
    for (auto& r : results)
        if (r) r = why;
}

Result<store::Job> Intake::prepare(const SubmitRequest& given, bool durable) {
    // The API's batcher fits images on a worker thread before they get here; a watched file is
    // fitted here, on the loop (bounded: at most 100 megapixels, under a second per image).
    std::optional<SubmitRequest> fitted;
    if (provider::needs_fit(given)) {
        fitted = given;
        if (auto st = provider::apply_fit(*fitted); !st) return st.error();
    }
    const SubmitRequest& req = fitted ? *fitted : given;
    auto params = check_fitted(req);
    if (!params) return params.error();
    store::Job job;
    std::optional<provider::ImageInfo> info;
    if (!req.image.empty()) {  // none for a prompt-only job
        info = provider::read_image_info(req.image);  // validated above, so present
        auto sha = store_.put_input(req.image, durable);
        if (!sha && sha.error().code == "no_space") return no_space(sha.error().message);
        if (!sha) return sha.error();
        job.input_sha256 = *sha;
    }
    if (!req.mask.empty()) {
        auto mask_sha = store_.put_input(req.mask, durable);
        if (!mask_sha && mask_sha.error().code == "no_space")
            return no_space(mask_sha.error().message);
        if (!mask_sha) return mask_sha.error();
        job.mask_sha256 = *mask_sha;
    }
    std::int64_t t = now_ms();
    job.id = new_job_id(t);
    job.kind = req.kind;
    job.priority = req.priority;
    job.params = std::move(*params);
    // Without an image and without a name, the result is named after the job (SPEC §3).
    job.input_name = req.image.empty() && req.image_name.empty() ? job.id
                                                                  : clean_name(req.image_name);
    job.input_width = info ? info->width : 0;
    job.input_height = info ? info->height : 0;
    job.input_bytes = static_cast<std::int64_t>(req.image.size());
    if (req.fitted) {
        job.fit = req.fit;
        job.original_width = req.original_width;
        job.original_height = req.original_height;
    }
    job.requested_key = req.key;
    job.created_at = job.updated_at = t;
    job.source = req.source;
    job.uid = req.uid;
    return job;
}

}  // namespace genq::app
