#include "api/submit_form.hpp"

#include "api/routes.hpp"
#include "provider/multipart.hpp"

namespace genq::api {
namespace {

Result<int> read_priority(const std::string& value) {
    auto v = parse_int(value);
    if (!v || *v < -1000 || *v > 1000)
        return Error{"invalid_param",
                     "priority: must be an integer from -1000 to 1000 (got \"" + value + "\")"};
    return static_cast<int>(*v);
}

// One form field into the form; the wrapper's form has no job fields besides its image.
Status read_field(const provider::MultipartPart& p, bool wrapper, SubmitForm& f) {
    ports::SubmitRequest& sub = f.common;
    std::string value(p.data);
    if (p.name == "image") {
        f.images.emplace_back(std::move(value), p.filename);
    } else if (p.name == "mask") {
        sub.mask = value;
    } else if (p.name == "name") {
        f.name = value;
    } else if (p.name == "kind" && !wrapper) {
        sub.kind = value;
    } else if (p.name == "fit" && !wrapper) {
        sub.fit = value;  // checked by the intake (crop | pad)
    } else if (p.name == "key" && !wrapper) {
        sub.key = value;
    } else if (p.name == "priority" && !wrapper) {
        auto priority = read_priority(value);
        if (!priority) return priority.error();
        sub.priority = *priority;
    } else if (!p.filename.empty()) {
        return Error{"invalid_param",
                     "unexpected file field \"" + p.name + "\"; files allowed: image, mask"};
    } else {
        sub.params[p.name] = value;
    }
    return ok_status();
}

}  // namespace

Result<SubmitForm> read_form(const net::ServerRequest& req, bool wrapper) {
    auto parts = provider::parse_multipart(req.header("content-type"), req.body);
    if (!parts) return parts.error();
    SubmitForm f;
    f.common.uid = req.peer_uid ? std::optional<std::int64_t>(*req.peer_uid) : std::nullopt;
    f.common.source = req.via_tcp || wrapper ? "http" : "socket";
    if (wrapper) f.common.params["cfg_scale"] = "1.5";  // the wrapper's documented default
    for (const auto& p : *parts)
        if (auto st = read_field(p, wrapper, f); !st) return st.error();
    return f;
}

std::vector<ports::SubmitRequest> requests_of(SubmitForm& f) {
    std::vector<ports::SubmitRequest> out;
    for (auto& [bytes, file] : f.images) {
        out.push_back(f.common);
        out.back().image = std::move(bytes);
        out.back().image_name = f.name.empty() ? file : f.name;
    }
    return out;
}

Result<std::vector<ports::SubmitRequest>> read_single(const net::ServerRequest& req, bool wrapper) {
    auto form = read_form(req, wrapper);
    if (!form) return form.error();
    if (form->images.size() > 1)
        return Error{"invalid_param", "image: one file per job (got " +
                                          std::to_string(form->images.size()) +
                                          "); POST /v1/jobs/batch takes many"};
    if (form->images.empty()) return std::vector<ports::SubmitRequest>{form->common};
    return requests_of(*form);
}

}  // namespace genq::api
