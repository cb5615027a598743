#include "api/control_api.hpp"

#include <sys/stat.h>

#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>
#include <vector>

#include "api/web_page.hpp"
#include "app/engine.hpp"
#include "app/intake.hpp"
#include "app/status_text.hpp"
#include "core/clock.hpp"
#include "core/ids.hpp"
#include "provider/multipart.hpp"
#include "store/queue_store.hpp"

namespace genq::api {
namespace {

using net::ServerRequest;
using net::ServerResponse;
using nlohmann::json;

ServerResponse json_response(int status, const json& body) {
    ServerResponse r;
    r.status = status;
    r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return r;
}

ServerResponse wrapper_error(int status, const std::string& message) {
    return json_response(status, {{"error", message}});
}

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> parts;
    std::size_t i = 0;
    while (i < path.size()) {
        std::size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        if (j > i) parts.push_back(path.substr(i, j - i));
        i = j + 1;
    }
    return parts;
}

std::optional<long long> parse_int(std::string_view s) {
    long long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

// A file name as one URL path segment: result names keep the caller's (sanitised) stem, which
// may hold spaces or '#'.
std::string url_path(const std::string& name) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : name) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

std::string content_type_for(const std::string& path) {
    auto dot = path.find_last_of('.');
    std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
    if (ext == "mp4") return "video/mp4";
    if (ext == "png") return "image/png";
    if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
    if (ext == "webp") return "image/webp";
    if (ext == "json") return "application/json";
    return "application/octet-stream";
}

// A submission form: the image files, and the fields every one of them shares.
struct Form {
    app::SubmitRequest common;
    std::vector<std::pair<std::string, std::string>> images;  // (bytes, file name)
    std::string name;  // the `name` field: the display name of a single image
};

// The fields of a multipart body: files, the job's own fields, and the rest as params of the
// kind.
Result<Form> read_form(const ServerRequest& req, bool wrapper) {
    auto parts = provider::parse_multipart(req.header("content-type"), req.body);
    if (!parts) return parts.error();
    Form f;
    app::SubmitRequest& sub = f.common;
    sub.uid = req.peer_uid ? std::optional<std::int64_t>(*req.peer_uid) : std::nullopt;
    sub.source = req.via_tcp || wrapper ? "http" : "socket";
    if (wrapper) sub.params["cfg_scale"] = "1.5";  // the wrapper's documented default
    for (const auto& p : *parts) {
        std::string value(p.data);
        if (p.name == "image") {
            f.images.emplace_back(std::move(value), p.filename);
        } else if (p.name == "mask") {
            sub.mask = value;
        } else if (p.name == "name") {
            f.name = value;
        } else if (p.name == "kind" && !wrapper) {
            sub.kind = value;
        } else if (p.name == "key" && !wrapper) {
            sub.key = value;
        } else if (p.name == "priority" && !wrapper) {
            auto v = parse_int(value);
            if (!v || *v < -1000 || *v > 1000)
                return Error{
                    "invalid_param",
                    "priority: must be an integer from -1000 to 1000 (got \"" + value + "\")"};
            sub.priority = static_cast<int>(*v);
        } else if (!p.filename.empty()) {
            return Error{"invalid_param",
                         "unexpected file field \"" + p.name + "\"; files allowed: image, mask"};
        } else {
            sub.params[p.name] = value;
        }
    }
    return f;
}

// One submission per image of the form.
std::vector<app::SubmitRequest> requests_of(Form& f) {
    std::vector<app::SubmitRequest> out;
    for (auto& [bytes, file] : f.images) {
        out.push_back(f.common);
        out.back().image = std::move(bytes);
        out.back().image_name = f.name.empty() ? file : f.name;
    }
    return out;
}

// The form of a single-job submission: at most one image (none is reported by the intake).
Result<std::vector<app::SubmitRequest>> read_single(const ServerRequest& req, bool wrapper) {
    auto form = read_form(req, wrapper);
    if (!form) return form.error();
    if (form->images.size() > 1)
        return Error{"invalid_param", "image: one file per job (got " +
                                          std::to_string(form->images.size()) +
                                          "); POST /v1/jobs/batch takes many"};
    if (form->images.empty()) return std::vector<app::SubmitRequest>{form->common};
    return requests_of(*form);
}

}  // namespace

int status_for(const std::string& code) {
    if (code == "not_found") return 404;
    if (code == "conflict") return 409;
    if (code == "bad_multipart" || code == "bad_request") return 400;
    if (code.rfind("invalid_", 0) == 0) return 422;
    if (code == "payload_too_large" || code == "too_large") return 413;
    if (code == "no_space" || code == "io_error") return 503;
    return 500;
}

ServerResponse json_error(int status, const std::string& code, const std::string& message) {
    return json_response(status, {{"error", message}, {"code", code}});
}

namespace {

ServerResponse from_error(const Error& e) {
    return json_error(status_for(e.code), e.code, e.message);
}

class Routes {
  public:
    Routes(ApiContext& ctx, SubmitBatcher& batcher, const ServerRequest& req)
        : ctx_(ctx), batcher_(batcher), req_(req), parts_(split_path(req.path)) {}

    ServerResponse dispatch() {
        const std::string& m = req_.method;
        auto n = parts_.size();
        if (m == "POST" && cross_site())
            return json_error(403, "forbidden",
                              "cross-origin POST refused (Origin does not match Host)");
        if (n == 0 && (m == "GET" || m == "HEAD")) return page();
        if (n >= 1 && parts_[0] == "v1") return v1(m, n);
        if (n == 2 && parts_[0] == "api" && parts_[1] == "img2video" && m == "POST")
            return wrapper_submit();
        if (n == 4 && parts_[0] == "api" && parts_[1] == "img2video" && parts_[2] == "result" &&
            m == "GET")
            return wrapper_result(parts_[3]);
        if (n == 2 && parts_[0] == "processed_videos" && (m == "GET" || m == "HEAD"))
            return processed_video(parts_[1]);
        if (n == 1 && parts_[0] == "metrics" && m == "GET") return metrics();
        return json_error(404, "not_found", "no route for " + m + " " + req_.path);
    }

  private:
    // A browser sends Origin with a cross-site form POST; without this check any web page the
    // user opens could queue jobs (and spend credits) on a loopback listener that has no token.
    bool cross_site() const {
        if (!req_.via_tcp) return false;
        std::string_view origin = req_.header("origin");
        if (origin.empty()) return false;  // not a browser, or a same-origin GET-like request
        auto scheme = origin.find("://");
        std::string_view host =
            scheme == std::string_view::npos ? origin : origin.substr(scheme + 3);
        return host != req_.header("host");
    }

    ServerResponse page() {
        ServerResponse r;
        r.content_type = "text/html; charset=utf-8";
        r.body = std::string(web_page());
        return r;
    }

    ServerResponse v1(const std::string& m, std::size_t n) {
        if (n == 2 && parts_[1] == "jobs") {
            if (m == "POST") return submit();
            if (m == "GET") return list();
        }
        if (n == 3 && m == "POST" && parts_[1] == "jobs" && parts_[2] == "batch")
            return submit_batch();
        if (n >= 3 && parts_[1] == "jobs") return job_route(m, n);
        if (n == 2 && m == "GET" && parts_[1] == "status")
            return json_response(200, app::render_status(ctx_.engine.status_view()));
        if (n == 2 && m == "GET" && parts_[1] == "events") {
            ServerResponse r;
            r.event_stream = true;
            r.content_type = "text/event-stream";
            // Sent first: a client (genqctl wait) re-reads the jobs it follows when it sees this,
            // so a transition between its first read and the subscription is never missed.
            r.body = "event: hello\ndata: {}\n\n";
            return r;
        }
        if (n == 2 && m == "POST" && parts_[1] == "pause") return pause(true);
        if (n == 2 && m == "POST" && parts_[1] == "resume") return pause(false);
        if (n == 2 && m == "POST" && parts_[1] == "reload") return reload();
        return json_error(404, "not_found", "no route for " + m + " " + req_.path);
    }

    ServerResponse job_route(const std::string& m, std::size_t n) {
        const std::string& id = parts_[2];
        if (n == 3 && m == "GET") return get_job(id);
        if (n == 4 && m == "GET" && parts_[3] == "events") return events(id);
        if (n == 4 && m == "GET" && parts_[3] == "output") return output(id);
        if (n == 4 && m == "POST" && parts_[3] == "cancel")
            return job_result(ctx_.engine.cancel(id));
        if (n == 4 && m == "POST" && parts_[3] == "retry") return job_result(ctx_.engine.retry(id));
        return json_error(404, "not_found", "no route for " + m + " " + req_.path);
    }

    ServerResponse job_result(const Result<store::Job>& r) {
        if (!r) return from_error(r.error());
        return json_response(200, store::to_json(*r));
    }

    bool is_multipart() const {
        return req_.header("content-type").find("multipart/form-data") != std::string_view::npos;
    }

    ServerResponse submit() {
        if (!is_multipart())
            return json_error(415, "unsupported_media_type",
                              "POST /v1/jobs takes multipart/form-data with an `image` file");
        auto reqs = read_single(req_, false);
        if (!reqs) return from_error(reqs.error());
        return batcher_.submit(std::move(*reqs), [](const SubmitBatcher::Results& r) {
            if (!r[0]) return from_error(r[0].error());
            return json_response(201, store::to_json(*r[0]));
        });
    }

    // Many images with shared fields in one request (genqctl submit sends its files this way):
    // one answer per image, in order, each a job or an error.
    ServerResponse submit_batch() {
        if (!is_multipart())
            return json_error(415, "unsupported_media_type",
                              "POST /v1/jobs/batch takes multipart/form-data with `image` files");
        auto form = read_form(req_, false);
        if (!form) return from_error(form.error());
        if (form->images.empty())
            return json_error(422, "invalid_image", "image: missing (at least one file)");
        std::vector<std::string> names;
        for (const auto& image : form->images) names.push_back(image.second);
        return batcher_.submit(requests_of(*form), [names](const SubmitBatcher::Results& r) {
            json out = json::array();
            for (std::size_t i = 0; i < r.size(); ++i) {
                if (r[i])
                    out.push_back({{"name", names[i]}, {"job", store::to_json(*r[i])}});
                else
                    out.push_back({{"name", names[i]},
                                   {"error", r[i].error().message},
                                   {"code", r[i].error().code}});
            }
            return json_response(200, {{"results", out}});
        });
    }

    ServerResponse list() {
        store::JobQuery q;
        std::string states = req_.query_param("state");
        for (std::size_t i = 0; i <= states.size() && !states.empty();) {
            std::size_t j = states.find(',', i);
            if (j == std::string::npos) j = states.size();
            std::string s = states.substr(i, j - i);
            auto st = parse_job_state(s);
            if (!st)
                return json_error(400, "invalid_param",
                                  "state: unknown state \"" + s +
                                      "\"; allowed: queued, submitting, running, succeeded, "
                                      "failed, canceled");
            q.states.push_back(*st);
            i = j + 1;
        }
        q.kind = req_.query_param("kind");
        q.before = req_.query_param("before");
        if (std::string limit = req_.query_param("limit"); !limit.empty()) {
            auto v = parse_int(limit);
            if (!v || *v < 1 || *v > 1000)
                return json_error(
                    400, "invalid_param",
                    "limit: must be an integer from 1 to 1000 (got \"" + limit + "\")");
            q.limit = static_cast<int>(*v);
        }
        json out = {{"jobs", json::array()}, {"next", nullptr}};
        auto jobs = ctx_.jobs.list(q);
        for (const auto& j : jobs) out["jobs"].push_back(store::to_json(j));
        if (static_cast<int>(jobs.size()) == q.limit) out["next"] = jobs.back().id;
        return json_response(200, out);
    }

    ServerResponse get_job(const std::string& id) {
        auto job = ctx_.jobs.get(id);
        if (!job) return json_error(404, "not_found", "no job " + id);
        return json_response(200, store::to_json(*job));
    }

    ServerResponse events(const std::string& id) {
        if (!ctx_.jobs.get(id)) return json_error(404, "not_found", "no job " + id);
        json out = json::array();
        for (const auto& e : ctx_.jobs.events(id))
            out.push_back({{"seq", e.seq},
                           {"at", iso8601_ms(e.at)},
                           {"from", e.from_state.empty() ? json(nullptr) : json(e.from_state)},
                           {"to", e.to_state},
                           {"detail", e.detail}});
        return json_response(200, {{"job", id}, {"events", out}});
    }

    ServerResponse output(const std::string& id) {
        auto job = ctx_.jobs.get(id);
        if (!job) return json_error(404, "not_found", "no job " + id);
        if (job->state != store::JobState::succeeded)
            return json_error(409, "conflict",
                              "job " + id + " has no output (state " +
                                  std::string(to_string(job->state)) + ")");
        ServerResponse r;
        r.file_path = job->output;
        r.content_type = content_type_for(job->output);
        return r;
    }

    ServerResponse pause(bool pause) {
        std::string key = req_.query_param("key");
        std::string budget = req_.query_param("budget");
        bool lift = budget == "1" || budget == "true";
        if (!budget.empty() && !lift && budget != "0" && budget != "false")
            return json_error(400, "invalid_param",
                              "budget: must be 1 or 0 (got \"" + budget + "\")");
        if (lift && (pause || !key.empty()))
            return json_error(400, "invalid_param",
                              "budget=1 lifts the daily cap of the whole daemon: use it with "
                              "POST /v1/resume and no key");
        auto st = pause ? ctx_.engine.pause(key) : ctx_.engine.resume(key, lift);
        if (!st) return from_error(st.error());
        return json_response(200, app::render_status(ctx_.engine.status_view()));
    }

    ServerResponse reload() {
        auto st = ctx_.reload();
        if (!st) return json_error(422, st.error().code, st.error().message);
        return json_response(200, {{"reloaded", true}});
    }

    ServerResponse metrics() {
        ServerResponse r;
        r.content_type = "text/plain; version=0.0.4";
        r.body = app::render_metrics(ctx_.engine.status_view(), ctx_.metrics);
        return r;
    }

    // ---- the wrapper-compatible API ----------------------------------------------------
    ServerResponse wrapper_submit() {
        if (!is_multipart())
            return wrapper_error(400, "Expected multipart/form-data with an image file");
        auto reqs = read_single(req_, true);
        if (!reqs) return wrapper_error(400, reqs.error().message);
        return batcher_.submit(std::move(*reqs), [](const SubmitBatcher::Results& r) {
            if (!r[0])
                return wrapper_error(status_for(r[0].error().code) >= 500 ? 500 : 400,
                                     r[0].error().message);
            return json_response(200, {{"success", true},
                                       {"id", r[0]->id},
                                       {"message",
                                        "Video generation started. Poll for results using the "
                                        "returned ID."}});
        });
    }

    ServerResponse wrapper_result(const std::string& id) {
        auto job = looks_like_job_id(id) ? ctx_.jobs.get(id) : std::nullopt;
        if (!job) return wrapper_error(404, "Generation not found: " + id);
        switch (job->state) {
            case store::JobState::succeeded: {
                std::string file = job->output.substr(job->output.find_last_of('/') + 1);
                return json_response(200, {{"status", "complete"},
                                           {"video_url", "/processed_videos/" + url_path(file)},
                                           {"finish_reason", job->finish_reason},
                                           {"seed", job->seed}});
            }
            case store::JobState::failed:
                return wrapper_error(500, job->error_code + ": " + job->error_message);
            case store::JobState::canceled:
                return wrapper_error(500, "the generation was canceled");
            default:
                return json_response(202, {{"status", "in-progress"},
                                           {"message",
                                            "Video generation is still in progress. Try again "
                                            "in a few seconds."}});
        }
    }

    ServerResponse processed_video(const std::string& file) {
        // One plain name inside output_dir: no separators, no dot files (partial results).
        if (file.empty() || file[0] == '.' || file.find('/') != std::string::npos ||
            file.find('\0') != std::string::npos)
            return wrapper_error(404, "Not found");
        std::string path = ctx_.output_dir + "/" + file;
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
            return wrapper_error(404, "Not found");
        ServerResponse r;
        r.file_path = path;
        r.content_type = content_type_for(path);
        return r;
    }

    ApiContext& ctx_;
    SubmitBatcher& batcher_;
    const ServerRequest& req_;
    std::vector<std::string> parts_;
};

}  // namespace

ControlApi::ControlApi(ApiContext ctx) : ctx_(std::move(ctx)), batcher_(ctx_.intake, ctx_.defer) {}

ServerResponse ControlApi::handle(const ServerRequest& req) {
    return Routes(ctx_, batcher_, req).dispatch();
}

}  // namespace genq::api
