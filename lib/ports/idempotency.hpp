// What the API remembers of an answered submission carrying an Idempotency-Key (SPEC §6): a
// request repeated with the same key within 24 h gets the first answer again instead of new jobs.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace genq::ports {

struct RememberedAnswer {
    std::string request_hash;  // what the first request asked for (same key, other body: 409)
    std::string body;          // the first answer's body, replayed as is
    std::int64_t at_ms = 0;
};

class IdempotencyLog {
public:
    virtual ~IdempotencyLog() = default;
    // The answer remembered under `key` at or after `since_ms`, if any.
    virtual std::optional<RememberedAnswer> find_answer(std::string_view key,
                                                        std::int64_t since_ms) = 0;
    // Remembers (durably) an answer; answers older than `forget_before_ms` are dropped.
    virtual void remember_answer(std::string_view key, const RememberedAnswer& a,
                                 std::int64_t forget_before_ms) = 0;
};

}  // namespace genq::ports
