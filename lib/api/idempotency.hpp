// Idempotent submission (SPEC §6): a request carrying `Idempotency-Key: K` that repeats one
// answered within 24 h creates nothing and gets the first answer (200); the same key with another
// body is refused with 409. Answers are kept durably by the store (ports::IdempotencyLog); the
// keys of requests still being committed are held here, so two copies sent at once cannot both
// create jobs.
#pragma once
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "net/http_server.hpp"
#include "ports/idempotency.hpp"
#include "ports/intake.hpp"

namespace genq::api {

class Idempotency {
  public:
    explicit Idempotency(ports::IdempotencyLog& log) : log_(log) {}

    // One request's claim on its key. `answer` is set when the request must not run: a replay
    // of the first answer, or a 409. Without a key the ticket is inert.
    struct Ticket {
        std::string key;
        std::string hash;
        std::optional<net::ServerResponse> answer;
    };
    Ticket begin(const net::ServerRequest& req, const std::vector<ports::SubmitRequest>& reqs);
    // Ends the claim; a created answer (2xx) is remembered for 24 h.
    void finish(const Ticket& t, const net::ServerResponse& res);

    static constexpr std::int64_t kKeepMs = 24LL * 3600 * 1000;
    static constexpr std::size_t kMaxKey = 255;

  private:
    ports::IdempotencyLog& log_;
    std::set<std::string> in_flight_;
};

}  // namespace genq::api
