// A submission's multipart form read into SubmitRequests: the image files, the job's own fields
// (kind, key, priority, name) and the rest as params of the kind.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "net/http_server.hpp"
#include "ports/intake.hpp"

namespace genq::api {

struct SubmitForm {
    ports::SubmitRequest common;  // the fields every image shares
    std::vector<std::pair<std::string, std::string>> images;  // (bytes, file name)
    std::string name;  // the `name` field: the display name of a single image
};

// `wrapper`: the wrapper API's form (its cfg_scale default; kind, key and priority are params).
Result<SubmitForm> read_form(const net::ServerRequest& req, bool wrapper);
// One submission per image of the form.
std::vector<ports::SubmitRequest> requests_of(SubmitForm& f);
// A single-job form: at most one image (none is reported by the intake).
Result<std::vector<ports::SubmitRequest>> read_single(const net::ServerRequest& req, bool wrapper);

}  // namespace genq::api
