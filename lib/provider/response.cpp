#include "provider/response.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "provider/base64.hpp"
#include "provider/utf8.hpp"

namespace genq::provider {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxErrorBody = 64 * 1024;   // an error body larger than this is not JSON
constexpr std::size_t kMaxErrorMessage = 2000;     // bytes kept of the provider's `errors`
constexpr std::size_t kMaxRemoteId = 128;

// Never throws: a malformed or hostile body is "no JSON".
std::optional<json> parse_object(std::string_view body) {
    try {
        json j = json::parse(body, nullptr, false);
        if (j.is_object()) return j;
    } catch (const json::exception&) {
    }
    return std::nullopt;
}

std::string string_member(const json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool valid_remote_id(std::string_view id) {
    return !id.empty() && id.size() <= kMaxRemoteId &&
           std::all_of(id.begin(), id.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
           });
}

// genq's own sentence when the provider gave no `errors`.
std::string default_message(int status) {
    switch (status) {
        case 400: return "the provider refused the request as invalid (HTTP 400)";
        case 401: return "the provider refused the API key (HTTP 401)";
        case 402: return "the API key is out of credits (HTTP 402)";
        case 403: return "the provider refused the request (HTTP 403)";
        case 404: return "the generation does not exist or has expired (HTTP 404)";
        case 413: return "the request was too large for the provider (HTTP 413)";
        case 422: return "the provider rejected the request (HTTP 422)";
        case 429: return "rate limited by the provider (HTTP 429)";
        default: return "unexpected answer from the provider (HTTP " + std::to_string(status) + ")";
    }
}

Classified make(Outcome outcome) {
    Classified c;
    c.outcome = outcome;
    return c;
}

Outcome failure_outcome(int status) {
    if (status == 401) return Outcome::unauthorized;
    if (status == 402) return Outcome::out_of_credits;
    if (status == 429) return Outcome::rate_limited;
    if (status >= 400 && status <= 499) return Outcome::permanent_failure;
    return Outcome::retryable;  // 5xx, 1xx/3xx/unexpected 2xx, garbage
}

Classified failure(int status, std::string_view body, Outcome outcome) {
    Classified c = make(outcome);
    const auto err = parse_error_body(body);
    c.error_code = err && !err->name.empty() ? err->name : "http_" + std::to_string(status);
    std::string joined;
    for (const std::string& e : err ? err->errors : std::vector<std::string>{}) {
        if (!joined.empty()) joined += "; ";
        joined += e;
    }
    c.error_message = joined.empty() ? default_message(status)
                                     : truncate_utf8(joined, kMaxErrorMessage);
    return c;
}

Classified accepted_or_retry(std::string_view body) {
    const auto j = parse_object(body);
    std::string id = j ? string_member(*j, "id") : std::string();
    Classified c = make(valid_remote_id(id) ? Outcome::accepted : Outcome::retryable);
    if (c.outcome == Outcome::accepted) {
        c.remote_id = std::move(id);
    } else {
        c.error_code = "bad_response";
        c.error_message = "submit answered 200 without a valid generation id";
    }
    return c;
}

// The seed arrives as a JSON number (documented) or, from some clients and stand-ins, a string.
std::string seed_text(const json& j) {
    const auto it = j.find("seed");
    if (it == j.end()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number_unsigned()) return std::to_string(it->get<std::uint64_t>());
    if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());
    if (it->is_number_float()) return it->dump();
    return {};
}

}  // namespace

std::string_view outcome_name(Outcome o) {
    switch (o) {
        case Outcome::accepted: return "accepted";
        case Outcome::in_progress: return "in_progress";
        case Outcome::result: return "result";
        case Outcome::permanent_failure: return "permanent_failure";
        case Outcome::not_found: return "not_found";
        case Outcome::rate_limited: return "rate_limited";
        case Outcome::unauthorized: return "unauthorized";
        case Outcome::out_of_credits: return "out_of_credits";
        case Outcome::retryable: return "retryable";
    }
    return "unknown";
}

std::optional<ProviderError> parse_error_body(std::string_view body) {
    if (body.size() > kMaxErrorBody) return std::nullopt;
    const auto j = parse_object(body);
    if (!j) return std::nullopt;
    ProviderError e;
    e.id = string_member(*j, "id");
    e.name = string_member(*j, "name");
    const auto errors = j->find("errors");
    if (errors != j->end() && errors->is_array()) {
        for (const json& item : *errors) {
            e.errors.push_back(item.is_string() ? item.get<std::string>() : item.dump());
        }
    } else if (errors != j->end() && errors->is_string()) {
        e.errors.push_back(errors->get<std::string>());
    }
    if (e.id.empty() && e.name.empty() && e.errors.empty()) return std::nullopt;
    return e;
}

Classified classify_submit(int status, std::string_view body, bool is_sync) {
    if (status == 200) {
        return is_sync ? make(Outcome::result) : accepted_or_retry(body);
    }
    return failure(status, body, failure_outcome(status));
}

Classified classify_poll(int status, std::string_view body) {
    if (status == 200) return make(Outcome::result);
    if (status == 202) return make(Outcome::in_progress);
    if (status == 404) {
        Classified c = failure(status, body, Outcome::not_found);
        c.error_code = "generation_not_found";  // whatever the body says: expired or unknown
        return c;
    }
    return failure(status, body, failure_outcome(status));
}

bool is_json_content_type(std::string_view content_type) {
    std::string_view media = content_type.substr(0, std::min(content_type.find(';'),
                                                             content_type.size()));
    while (!media.empty() && std::isspace(static_cast<unsigned char>(media.front()))) {
        media.remove_prefix(1);
    }
    while (!media.empty() && std::isspace(static_cast<unsigned char>(media.back()))) {
        media.remove_suffix(1);
    }
    constexpr std::string_view kJson = "application/json";
    return media.size() == kJson.size() &&
           std::equal(media.begin(), media.end(), kJson.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) == b;
           });
}

std::optional<JsonResult> parse_json_result(std::string_view body, std::string_view field) {
    const auto j = parse_object(body);
    if (!j) return std::nullopt;
    const auto it = j->find(field);
    if (it == j->end() || !it->is_string()) return std::nullopt;
    auto data = base64_decode(it->get_ref<const std::string&>());
    if (!data) return std::nullopt;
    return JsonResult{std::move(*data), string_member(*j, "finish_reason"), seed_text(*j)};
}

}  // namespace genq::provider
