#include "app/provider_calls.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/files.hpp"
#include "provider/image_info.hpp"
#include "provider/submit_request.hpp"
#include "provider/response.hpp"
#include "store/queue_store.hpp"

namespace genq::app {
namespace {

constexpr std::size_t kHeadBytes = 16;  // enough for every magic number result_file_ext knows

// The first bytes of a file; "" when it cannot be read (the extension then comes from headers).
std::string file_head(const std::string& path, std::size_t n = kHeadBytes) {
    std::string head(n, '\0');
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "";
    ssize_t got = ::read(fd, head.data(), head.size());
    ::close(fd);
    head.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    return head;
}

net::Headers headers_for(const CallIdentity& who, std::string accept) {
    return {{"authorization", "Bearer " + who.secret},
            {"stability-client-id", who.client_id},
            {"stability-client-version", GENQ_VERSION},
            {"accept", std::move(accept)}};
}

// What a request that may answer with the result asks for: the raw bytes (op.accept), or the
// JSON form with base64 (some proxies only answer JSON).
std::string result_accept(const provider::Operation& op, const CallIdentity& who) {
    return who.json_results ? std::string("application/json") : op.accept;
}

sched::ReceivedResult receive(const net::HttpResponse& res, const provider::Operation& op,
                              const Job& job, const std::string& part) {
    sched::ReceivedResult out;
    out.finish_reason = std::string(res.header("finish-reason"));
    out.seed = std::string(res.header("seed"));
    std::string head;
    if (res.body_file.empty()) {
        auto json = provider::parse_json_result(res.body, op.json_result_field);
        if (!json) {
            out.not_saved = Error{errc::bad_result, "the result could not be decoded"};
            return out;
        }
        if (auto written = write_file_durably(part, json->data); !written) {
            out.not_saved = written.error();
            return out;
        }
        head = json->data.substr(0, kHeadBytes);
        out.finish_reason = json->finish_reason;
        out.seed = json->seed;
    } else {
        head = file_head(part);
    }
    out.ext = provider::result_file_ext(op, job.params, res.header("content-type"), head);
    return out;
}

}  // namespace

net::HttpRequest balance_request(const CallIdentity& who) {
    net::HttpRequest req;
    req.method = "GET";
    req.target = "/v1/user/balance";
    req.headers = headers_for(who, "application/json");
    return req;
}

Result<double> read_balance(const Result<net::HttpResponse>& res) {
    if (!res) return res.error();
    if (res->status != 200)
        return Error{"http_" + std::to_string(res->status),
                     "GET /v1/user/balance answered " + std::to_string(res->status)};
    auto j = nlohmann::json::parse(res->body, nullptr, false);
    if (!j.is_object() || !j.contains("credits") || !j["credits"].is_number())
        return Error{errc::bad_result, "GET /v1/user/balance: no number \"credits\" in the answer"};
    return j["credits"].get<double>();
}

Result<net::HttpRequest> submit_request(const Job& job, const provider::Operation& op,
                                        const CallIdentity& who, store::QueueStore& store) {
    std::string image, mask;  // kept alive while the body is built
    std::vector<provider::NamedInput> inputs;
    if (!job.input_sha256.empty()) {  // none for a prompt-only job
        auto bytes = store.read_input(job.input_sha256);
        if (!bytes) return Error{errc::spool_error, bytes.error().message};
        image = std::move(*bytes);
        inputs.push_back({"image", job.input_name, image});
    }
    if (!job.mask_sha256.empty()) {
        auto bytes = store.read_input(job.mask_sha256);
        if (!bytes) return Error{errc::spool_error, bytes.error().message};
        mask = std::move(*bytes);
        inputs.push_back({"mask", "mask", mask});
    }
    auto body = provider::build_submit_body(op, job.params, inputs);
    net::HttpRequest req;
    req.method = "POST";
    req.target = op.submit_path;
    req.headers = headers_for(who, op.mode == provider::Mode::sync ? result_accept(op, who)
                                                                   : "application/json");
    req.headers.emplace_back("content-type", body.content_type);
    req.body = std::move(body.body);
    return req;
}

net::HttpRequest poll_request(const Job& job, const provider::Operation& op,
                              const CallIdentity& who) {
    net::HttpRequest req;
    req.target = op.result_prefix + job.remote_id;
    req.headers = headers_for(who, result_accept(op, who));
    return req;
}

sched::Reply read_reply(const Result<net::HttpResponse>& res, const provider::Operation& op,
                        const Job& job, bool submit, const std::string& part) {
    sched::Reply r;
    if (!res) {
        r.transport = res.error();
        return r;
    }
    r.answered = true;
    r.status = res->status;
    r.answer = submit ? provider::classify_submit(res->status, res->body,
                                                  op.mode == provider::Mode::sync)
                      : provider::classify_poll(res->status, res->body);
    if (r.answer.outcome == provider::Outcome::result) r.result = receive(*res, op, job, part);
    return r;
}

bool result_file_complete(const std::string& path) {
    auto bytes = read_file(path, 64 * 1024 * 1024);
    if (!bytes) return false;
    auto info = provider::read_image_info(*bytes);
    return info && provider::image_is_complete(*bytes, info->format);
}

}  // namespace genq::app
