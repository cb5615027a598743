// What the front doors (control API, HTTP API, watched folders) need to queue work: the intake as
// an interface, so lib/api and lib/watch depend on this, not on the daemon that implements it.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/job.hpp"
#include "core/result.hpp"

namespace genq::ports {

struct SubmitRequest {
    std::string kind = "video";
    nlohmann::json params = nlohmann::json::object();  // as given; validated by the intake
    std::string image;       // bytes ("" for prompt-only kinds)
    std::string image_name;  // the caller's file name (display and output name)
    std::string mask;        // bytes, optional
    // --fit: "" = as given, "crop" | "pad" = made one of the video sizes before it is spooled.
    std::string fit;
    // Set once the image was fitted (off the event loop by the API's batcher): `image` is the
    // PNG, and these are the dimensions it was fitted from.
    bool fitted = false;
    int original_width = 0, original_height = 0;
    int priority = 0;
    std::string key;  // requested key name, "" = any
    std::string source = "socket";
    std::optional<std::int64_t> uid;
};

// Submissions validated and spooled, not yet committed: one result per request, in order.
struct PreparedSubmissions {
    std::vector<Result<Job>> results;
    std::string source;
};

class Intake {
public:
    virtual ~Intake() = default;
    // Error codes: invalid_kind, invalid_param, invalid_image, invalid_key, io_error.
    virtual Result<Job> submit(const SubmitRequest& req) = 0;
    // A burst: every input stored, one sync, one commit for all accepted jobs; one result per
    // request, in order.
    virtual std::vector<Result<Job>> submit_many(const std::vector<SubmitRequest>& reqs) = 0;
    // The API's group commit, in steps, so that no fsync runs on the event loop: prepare_many
    // validates and spools (nothing synced, nothing committed); once when_inputs_durable()
    // calls back, commit_prepared commits the accepted rows without waiting for the disk; once
    // when_durable() calls back, the answers may go out. The callbacks may run on another
    // thread, or at once, and must not call back into the intake.
    virtual PreparedSubmissions prepare_many(const std::vector<SubmitRequest>& reqs) = 0;
    virtual void when_inputs_durable(std::function<void(Status)> done) = 0;
    // Each accepted result stays the job, or becomes why it was not committed.
    virtual void commit_prepared(PreparedSubmissions& batch) = 0;
    virtual void when_durable(std::function<void(Status)> done) = 0;
    // Once durable: the dispatcher and the event stream hear of the committed jobs (not
    // before, so a job is not sent while a power cut could still take its row away).
    virtual void announce(const PreparedSubmissions& batch) = 0;
    // Validation only (nothing stored): the normalised params.
    virtual Result<nlohmann::json> check(const SubmitRequest& req) = 0;
};

}  // namespace genq::ports
