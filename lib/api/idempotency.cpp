#include "api/idempotency.hpp"

#include "api/control_api.hpp"
#include "core/clock.hpp"
#include "core/files.hpp"

namespace genq::api {
namespace {

// What the request asks for, independent of its multipart boundary and field order: the
// endpoint, the query and every submission's fields and content hashes.
std::string hash_of(const net::ServerRequest& req, const std::vector<ports::SubmitRequest>& reqs) {
    std::string s = req.method + ' ' + req.path + '?' + req.query + '\n';
    for (const auto& r : reqs) {
        s += r.kind + '\n' + r.params.dump() + '\n' + sha256_hex(r.image) + '\n' + r.image_name +
             '\n' + sha256_hex(r.mask) + '\n' + std::to_string(r.priority) + '\n' + r.key + '\n';
    }
    return sha256_hex(s);
}

bool printable(const std::string& k) {
    for (unsigned char c : k)
        if (c < 0x21 || c > 0x7e) return false;
    return true;
}

}  // namespace

Idempotency::Ticket Idempotency::begin(const net::ServerRequest& req,
                                       const std::vector<ports::SubmitRequest>& reqs) {
    Ticket t;
    t.key = std::string(req.header("idempotency-key"));
    if (t.key.empty()) return t;
    if (t.key.size() > kMaxKey || !printable(t.key)) {
        t.answer = json_error(400, "bad_request",
                              "Idempotency-Key: at most 255 printable ASCII characters, no spaces");
        t.key.clear();
        return t;
    }
    t.hash = hash_of(req, reqs);
    if (in_flight_.count(t.key)) {
        t.answer = json_error(409, "conflict",
                              "Idempotency-Key \"" + t.key +
                                  "\": a request with this key is still being answered; retry");
        t.key.clear();
        return t;
    }
    if (auto first = log_.find_answer(t.key, now_ms() - kKeepMs)) {
        if (first->request_hash != t.hash) {
            t.answer = json_error(409, "conflict",
                                  "Idempotency-Key \"" + t.key +
                                      "\" was used within 24 h for a different request");
        } else {
            net::ServerResponse r;
            r.status = 200;
            r.body = first->body;
            t.answer = std::move(r);
        }
        t.key.clear();
        return t;
    }
    in_flight_.insert(t.key);
    return t;
}

void Idempotency::finish(const Ticket& t, const net::ServerResponse& res) {
    if (t.key.empty()) return;
    in_flight_.erase(t.key);
    if (res.status < 200 || res.status >= 300) return;  // nothing created: a retry may try again
    std::int64_t now = now_ms();
    log_.remember_answer(t.key, {t.hash, res.body, now}, now - kKeepMs);
}

}  // namespace genq::api
