#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "provider/base64.hpp"
#include "provider/response.hpp"

using namespace genq::provider;

namespace {

const std::string kId64(64, 'a');
const std::string kModeration =
    R"({"id":"err-1","name":"content_moderation","errors":["flagged","try again"]})";

void check_failure(const Classified& c, Outcome outcome, std::string_view code,
                   std::string_view message) {
    CHECK(outcome_name(c.outcome) == outcome_name(outcome));
    CHECK(c.error_code == code);
    CHECK(c.error_message == message);
    CHECK(c.remote_id.empty());
}

}  // namespace

TEST_SUITE("provider.response") {
    TEST_CASE("outcome names") {
        CHECK(outcome_name(Outcome::accepted) == "accepted");
        CHECK(outcome_name(Outcome::in_progress) == "in_progress");
        CHECK(outcome_name(Outcome::result) == "result");
        CHECK(outcome_name(Outcome::permanent_failure) == "permanent_failure");
        CHECK(outcome_name(Outcome::not_found) == "not_found");
        CHECK(outcome_name(Outcome::rate_limited) == "rate_limited");
        CHECK(outcome_name(Outcome::unauthorized) == "unauthorized");
        CHECK(outcome_name(Outcome::out_of_credits) == "out_of_credits");
        CHECK(outcome_name(Outcome::retryable) == "retryable");
    }

    TEST_CASE("submit 200 with a generation id is accepted") {
        const auto c = classify_submit(200, R"({"id":")" + kId64 + R"("})", false);
        CHECK(c.outcome == Outcome::accepted);
        CHECK(c.remote_id == kId64);
        CHECK(c.error_code.empty());
        const std::string id128 = std::string(127, 'Z') + "_";
        CHECK(classify_submit(200, R"({"id":")" + id128 + R"("})", false).remote_id == id128);
        CHECK(classify_submit(200, R"({"id":"a-b_C9"})", false).outcome == Outcome::accepted);
    }

    TEST_CASE("submit 200 without a usable id is retried, never trusted") {
        for (const std::string& body : std::vector<std::string>{
                 R"({"id":""})", R"({"id":"../../etc"})", R"({"id":"a b"})", R"({"id":42})",
              R"({"id":")" + std::string(129, 'a') + R"("})", R"({})", "not json", "",
              R"(["id"])", R"({"id":"caf\u00e9"})"}) {
            CAPTURE(body);
            const auto c = classify_submit(200, body, false);
            check_failure(c, Outcome::retryable, "bad_response",
                          "submit answered 200 without a valid generation id");
        }
    }

    TEST_CASE("a sync submit's 200 is the result") {
        const auto c = classify_submit(200, "\x89PNG binary", true);
        CHECK(c.outcome == Outcome::result);
        CHECK(c.remote_id.empty());
        CHECK(c.error_code.empty());
    }

    TEST_CASE("400, 403, 413, 422 fail for good with the provider's name and errors") {
        for (const int status : {400, 403, 413, 422}) {
            CAPTURE(status);
            check_failure(classify_submit(status, kModeration, false),
                          Outcome::permanent_failure, "content_moderation", "flagged; try again");
            check_failure(classify_poll(status, kModeration), Outcome::permanent_failure,
                          "content_moderation", "flagged; try again");
        }
        check_failure(classify_submit(413, "", false), Outcome::permanent_failure, "http_413",
                      "the request was too large for the provider (HTTP 413)");
        check_failure(classify_submit(422, R"({"name":"invalid_language","errors":[]})", true),
                      Outcome::permanent_failure, "invalid_language",
                      "the provider rejected the request (HTTP 422)");
    }

    TEST_CASE("other 4xx are permanent failures too; 404 on submit is not a lost generation") {
        for (const int status : {405, 409, 410, 415, 418, 451, 499}) {
            CAPTURE(status);
            const auto c = classify_submit(status, "", false);
            check_failure(c, Outcome::permanent_failure, "http_" + std::to_string(status),
                          "unexpected answer from the provider (HTTP " + std::to_string(status) +
                              ")");
        }
        check_failure(classify_submit(404, R"({"name":"not_found","errors":["no route"]})", false),
                      Outcome::permanent_failure, "not_found", "no route");
        CHECK(classify_submit(404, "", true).outcome == Outcome::permanent_failure);
    }

    TEST_CASE("401, 402 and 429 act on the key") {
        for (const bool sync : {false, true}) {
            check_failure(classify_submit(401, "", sync), Outcome::unauthorized, "http_401",
                          "the provider refused the API key (HTTP 401)");
            check_failure(classify_submit(402, R"({"name":"payment_required","errors":["buy"]})",
                                          sync),
                          Outcome::out_of_credits, "payment_required", "buy");
            check_failure(classify_submit(429, R"({"name":"rate_limit_exceeded"})", sync),
                          Outcome::rate_limited, "rate_limit_exceeded",
                          "rate limited by the provider (HTTP 429)");
        }
        CHECK(classify_poll(401, "").outcome == Outcome::unauthorized);
        CHECK(classify_poll(402, "").outcome == Outcome::out_of_credits);
        CHECK(classify_poll(429, "").outcome == Outcome::rate_limited);
    }

    TEST_CASE("5xx and anything unexpected is retried") {
        check_failure(classify_submit(500, R"({"name":"internal_error","errors":["oops"]})", false),
                      Outcome::retryable, "internal_error", "oops");
        check_failure(classify_submit(502, "<html>Bad Gateway</html>", false), Outcome::retryable,
                      "http_502", "unexpected answer from the provider (HTTP 502)");
        for (const int status : {503, 504, 599, 100, 201, 202, 204, 301, 304, 0, -1, 600, 999}) {
            CAPTURE(status);
            const auto c = classify_submit(status, "", false);
            CHECK(c.outcome == Outcome::retryable);
            CHECK(c.error_code == "http_" + std::to_string(status));
        }
        for (const int status : {500, 503, 201, 204, 302, 0}) {
            CAPTURE(status);
            CHECK(classify_poll(status, "").outcome == Outcome::retryable);
        }
    }

    TEST_CASE("poll: 202 in progress, 200 result") {
        const auto running = classify_poll(202, R"({"id":"x","status":"in-progress"})");
        CHECK(running.outcome == Outcome::in_progress);
        CHECK(running.error_code.empty());
        CHECK(classify_poll(200, "").outcome == Outcome::result);
    }

    TEST_CASE("poll: 404 is generation_not_found whatever the body says") {
        check_failure(classify_poll(404, R"({"name":"not_found","errors":["expired"]})"),
                      Outcome::not_found, "generation_not_found", "expired");
        check_failure(classify_poll(404, ""), Outcome::not_found, "generation_not_found",
                      "the generation does not exist or has expired (HTTP 404)");
    }

    TEST_CASE("a huge errors list is cut at a character boundary") {
        nlohmann::json body = {{"name", "bad_request"}, {"errors", nlohmann::json::array()}};
        for (int i = 0; i < 1000; ++i) body["errors"].push_back("\xc3\xa9\xc3\xa9");
        const auto c = classify_submit(400, body.dump(), false);
        CHECK(c.error_message.size() <= 2003);
        CHECK(c.error_message.ends_with("..."));
        CHECK(c.error_message.starts_with("\xc3\xa9\xc3\xa9; "));
        // Still valid UTF-8: dumping would throw otherwise.
        CHECK_NOTHROW((void)nlohmann::json(c.error_message).dump());
    }

    TEST_CASE("parse_error_body reads what is there and never throws") {
        const auto full = parse_error_body(kModeration);
        REQUIRE(full.has_value());
        CHECK(full->id == "err-1");
        CHECK(full->name == "content_moderation");
        CHECK(full->errors == std::vector<std::string>{"flagged", "try again"});

        const auto name_only = parse_error_body(R"({"name":"bad_request"})");
        REQUIRE(name_only.has_value());
        CHECK(name_only->id.empty());
        CHECK(name_only->errors.empty());

        const auto mixed = parse_error_body(R"({"errors":["a",1,{"k":true}],"name":5})");
        REQUIRE(mixed.has_value());
        CHECK(mixed->name.empty());
        CHECK(mixed->errors == std::vector<std::string>{"a", "1", R"({"k":true})"});

        const auto single = parse_error_body(R"({"errors":"just one"})");
        REQUIRE(single.has_value());
        CHECK(single->errors == std::vector<std::string>{"just one"});

        for (const std::string& bad : std::vector<std::string>{
                 "", "null", "[]", "\"text\"", "{", "<html></html>", R"({"other":1})",
              "{\"name\":\"\xff\"}", std::string(20000, '['),
              R"({"name":"x","pad":")" + std::string(70 * 1024, 'p') + R"("})"}) {
            CAPTURE(bad.substr(0, 40));
            CHECK_FALSE(parse_error_body(bad));
        }
    }

    TEST_CASE("JSON content types") {
        CHECK(is_json_content_type("application/json"));
        CHECK(is_json_content_type("application/json; type=video/mp4"));
        CHECK(is_json_content_type("Application/JSON;charset=utf-8"));
        CHECK(is_json_content_type("  application/json  ; x=y"));
        CHECK_FALSE(is_json_content_type("video/mp4"));
        CHECK_FALSE(is_json_content_type("image/png"));
        CHECK_FALSE(is_json_content_type("application/jsonl"));
        CHECK_FALSE(is_json_content_type("text/json"));
        CHECK_FALSE(is_json_content_type(""));
    }

    TEST_CASE("the JSON result form: base64 data, finish reason, seed as text") {
        const std::string video("\0\0\0\x20" "ftypisom", 12);
        const std::string body = nlohmann::json{{"video", base64_encode(video)},
                                                {"finish_reason", "CONTENT_FILTERED"},
                                                {"seed", 4294967294u}}
                                     .dump();
        const auto r = parse_json_result(body, "video");
        REQUIRE(r.has_value());
        CHECK(r->data == video);
        CHECK(r->finish_reason == "CONTENT_FILTERED");
        CHECK(r->seed == "4294967294");

        const auto s = parse_json_result(R"({"image":"aGk=","finish_reason":"SUCCESS","seed":"7"})",
                                         "image");
        REQUIRE(s.has_value());
        CHECK(s->data == "hi");
        CHECK(s->seed == "7");
        CHECK(parse_json_result(R"({"image":"aGk=","seed":-3})", "image")->seed == "-3");
        CHECK(parse_json_result(R"({"image":"aGk=","seed":12.5})", "image")->seed == "12.5");

        const auto bare = parse_json_result(R"({"image":""})", "image");
        REQUIRE(bare.has_value());
        CHECK(bare->data.empty());
        CHECK(bare->finish_reason.empty());
        CHECK(bare->seed.empty());
    }

    TEST_CASE("the JSON result form: anything else is refused") {
        CHECK_FALSE(parse_json_result(R"({"image":"aGk="})", "video"));
        CHECK_FALSE(parse_json_result(R"({"video":"aGk"})", "video"));
        CHECK_FALSE(parse_json_result(R"({"video":"a Gk="})", "video"));
        CHECK_FALSE(parse_json_result(R"({"video":42})", "video"));
        CHECK_FALSE(parse_json_result(R"(["aGk="])", "video"));
        CHECK_FALSE(parse_json_result("aGk=", "video"));
        CHECK_FALSE(parse_json_result("", "video"));
    }
}
