#include "provider/fit_request.hpp"

#include "provider/image_fit.hpp"

namespace genq::provider {

bool needs_fit(const ports::SubmitRequest& req) { return !req.fit.empty() && !req.fitted; }

Status apply_fit(ports::SubmitRequest& req) {
    if (!needs_fit(req)) return ok_status();
    auto mode = parse_fit_mode(req.fit);
    if (!mode)
        return Error{"invalid_param",
                     "fit: must be \"crop\" or \"pad\" (got \"" + req.fit + "\")"};
    if (req.image.empty())
        return Error{"invalid_param", "fit: needs an image (this job has none)"};
    auto fitted = fit_to_video(req.image, *mode, "image");
    if (!fitted) return fitted.error();
    req.image = std::move(fitted->png);
    req.original_width = fitted->original_width;
    req.original_height = fitted->original_height;
    req.fitted = true;
    return ok_status();
}

}  // namespace genq::provider
