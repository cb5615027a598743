// What a provider answer means (SPEC §4), decided apart from any I/O.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace genq::provider {

enum class Outcome {
    accepted,           // submit 200 with {"id"} (async kinds)
    in_progress,        // poll 202
    result,             // 200 carrying the result (poll of async, or submit of sync kinds)
    permanent_failure,  // 400, 403, 413, 422 (and other 4xx not listed below): fail, no retry
    not_found,          // 404 on a poll: generation_not_found
    rate_limited,       // 429: the key rests `lockout`
    unauthorized,       // 401: the key gets no more work until reload
    out_of_credits,     // 402: likewise until reload or resume
    retryable,          // 5xx and anything unexpected from the server side
};

std::string_view outcome_name(Outcome o);

// The provider's error body {"id","name","errors":[...]}.
struct ProviderError {
    std::string id;
    std::string name;
    std::vector<std::string> errors;
};
std::optional<ProviderError> parse_error_body(std::string_view body);

struct Classified {
    Outcome outcome = Outcome::retryable;
    std::string remote_id;      // accepted: the generation id (validated: 1..128 of [A-Za-z0-9_-])
    std::string error_code;     // failures: provider's `name`, else genq's own (e.g. "http_500")
    std::string error_message;  // failures: the provider's `errors` joined with "; ", else a sentence
};

// `body` is the (small, JSON) body; for a 200 result it is ignored.
// is_sync: a sync kind's submit answers 200 with the result itself.
Classified classify_submit(int status, std::string_view body, bool is_sync);
Classified classify_poll(int status, std::string_view body);

// True when a 200 result arrived in the JSON form (content-type application/json...).
bool is_json_content_type(std::string_view content_type);

// The JSON result form {"video"|"image": base64, "finish_reason", "seed"}.
struct JsonResult {
    std::string data;  // decoded bytes
    std::string finish_reason;
    std::string seed;  // as text
};
std::optional<JsonResult> parse_json_result(std::string_view body, std::string_view field);

}  // namespace genq::provider
