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

class Intake {
public:
    virtual ~Intake() = default;
    // Error codes: invalid_kind, invalid_param, invalid_image, invalid_key, io_error.
    virtual Result<Job> submit(const SubmitRequest& req) = 0;
    // A burst: every input stored, one sync, one commit for all accepted jobs; one result per
    // request, in order.
    virtual std::vector<Result<Job>> submit_many(const std::vector<SubmitRequest>& reqs) = 0;
    // The same, but the commit does not wait for the disk (the API's group commit): the jobs are
    // queued at once and durable once when_durable() calls back; answer only after that.
    virtual std::vector<Result<Job>> submit_many_unsynced(
        const std::vector<SubmitRequest>& reqs) = 0;
    // Calls `done` once every commit made before this call is on disk (or with the error). It
    // may run on another thread, or at once, and must not call back into the intake.
    virtual void when_durable(std::function<void(Status)> done) = 0;
    // Validation only (nothing stored): the normalised params.
    virtual Result<nlohmann::json> check(const SubmitRequest& req) = 0;
};

}  // namespace genq::ports
