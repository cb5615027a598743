// --fit applied to a submission: its image replaced by the fitted PNG, the original dimensions
// kept. Pure CPU work on the request alone, so the API's batcher runs it on a worker thread.
#pragma once
#include "core/result.hpp"
#include "ports/intake.hpp"

namespace genq::provider {

// True when `req` asks for a fit that has not been applied yet.
bool needs_fit(const ports::SubmitRequest& req);

// Fits req.image in place (no-op unless needs_fit). Errors: invalid_param (an unknown fit, or
// a fit without an image), invalid_image (the image cannot be decoded or is too large).
Status apply_fit(ports::SubmitRequest& req);

}  // namespace genq::provider
