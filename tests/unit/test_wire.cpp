// The control API's wire types (api/wire): what genqd writes, genqctl reads back unchanged; the
// error body has one shape; the URL encoder escapes every byte a path segment cannot hold.
#include <doctest/doctest.h>

#include "api/status_render.hpp"
#include "api/wire.hpp"

namespace {

namespace wire = genq::api::wire;

genq::Job sample_job() {
    genq::Job j;
    j.id = "01JABCDEF0123456789ABCDEFG";
    j.kind = "video";
    j.state = genq::JobState::failed;
    j.priority = 5;
    j.params = {{"cfg_scale", 1.8}};
    j.input_name = "cat #1.png";
    j.input_sha256 = std::string(64, 'a');
    j.input_width = 1024;
    j.input_height = 576;
    j.input_bytes = 12345;
    j.key_name = "main";
    j.remote_id = "gen-1";
    j.attempts = 2;
    j.polls = 7;
    j.created_at = 1764583200123;
    j.updated_at = 1764583201456;
    j.finished_at = 1764583202789;
    j.error_code = "content_moderated";
    j.error_message = "refused by the provider";
    j.source = "http";
    j.uid = 1000;
    j.wait_reason = "";
    j.cost = 20;
    return j;
}

TEST_SUITE("wire") {
    TEST_CASE("a job survives the trip through its JSON") {
        genq::Job j = sample_job();
        auto back = wire::parse_job(wire::job_json(j));
        REQUIRE_MESSAGE(back.ok(), back.error().message);
        CHECK(wire::job_json(*back) == wire::job_json(j));
        CHECK(back->created_at == j.created_at);
        CHECK(back->finished_at == j.finished_at);
        CHECK(back->error_code == "content_moderated");
        CHECK(back->uid == 1000);
    }

    TEST_CASE("a malformed job names the field") {
        auto j = wire::job_json(sample_job());
        j["polls"] = "seven";
        auto r = wire::parse_job(j);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("polls") != std::string::npos);
        j = wire::job_json(sample_job());
        j.erase("state");
        CHECK(wire::parse_job(j).error().message.find("state") != std::string::npos);
        CHECK_FALSE(wire::parse_job(nlohmann::json::array()).ok());
    }

    TEST_CASE("the error body: one shape, read back; anything else is not an error body") {
        CHECK(nlohmann::json::parse(wire::error_body({"no job x", "not_found"})) ==
              nlohmann::json{{"error", "no job x"}, {"code", "not_found"}});
        // Bytes that are not UTF-8 (a file name, say) cannot make the error itself fail.
        CHECK(wire::error_body({"bad \xff name", "invalid_image"}).find("invalid_image") !=
              std::string::npos);
        auto e = wire::parse_error(R"({"error":"no job x","code":"not_found"})");
        REQUIRE(e);
        CHECK(e->code == "not_found");
        CHECK(e->error == "no job x");
        CHECK_FALSE(wire::parse_error("not json"));
        CHECK_FALSE(wire::parse_error(R"({"status":"complete"})"));
    }

    TEST_CASE("page, events and batch results round-trip") {
        wire::JobPage page{{sample_job()}, "01JNEXT"};
        auto p = wire::parse_page(wire::page_json(page));
        REQUIRE(p.ok());
        CHECK(p->next == "01JNEXT");
        CHECK(wire::page_json(*p) == wire::page_json(page));
        CHECK(wire::page_json({{}, ""})["next"].is_null());

        std::vector<genq::ports::JobEvent> events{{1, "j", 1764583200123, "", "queued", "accepted"},
                                                  {2, "j", 1764583200999, "queued", "canceled", ""}};
        auto ev = wire::parse_events(wire::events_json("j", events));
        REQUIRE(ev.ok());
        REQUIRE(ev->size() == 2);
        CHECK((*ev)[0].from_state.empty());
        CHECK((*ev)[1].at == 1764583200999);
        CHECK(wire::events_json("j", *ev) == wire::events_json("j", events));

        std::vector<wire::BatchItem> items{{"a.png", sample_job(), {}},
                                           {"b.png", std::nullopt, {"image: missing", "invalid_image"}}};
        auto b = wire::parse_batch(wire::batch_json(items));
        REQUIRE(b.ok());
        REQUIRE(b->size() == 2);
        CHECK((*b)[0].job.has_value());
        CHECK((*b)[1].error.code == "invalid_image");
        CHECK(wire::batch_json(*b) == wire::batch_json(items));
    }

    TEST_CASE("the status view round-trips; a lock-out shows only while it lasts") {
        genq::ports::StatusView s;
        s.version = "0.1.0";
        s.uptime_s = 12.34;
        s.counts = {{"queued", 3}, {"succeeded", 9}};
        s.keys.push_back({"main", 2, "locked", 1764583260.5, false, 4, 150, 1, 20, 400, 120.5});
        s.keys.push_back({"spare", 1, "active", 0, true, 0, 150, 0, 0, 0, std::nullopt});
        s.daily_credits = 250;
        s.spent_today = 20;
        auto j = wire::status_json(s);
        CHECK(j["uptime_s"] == 12.3);
        CHECK(j["budget"]["daily_credits"].is_number_integer());
        CHECK(j["keys"][0]["locked_until"] == "2025-12-01T10:01:00.500Z");
        CHECK(j["keys"][1]["locked_until"].is_null());
        CHECK(j["keys"][0]["balance"] == 120.5);
        CHECK(j["keys"][1]["balance"].is_null());  // not read yet
        auto back = wire::parse_status(j);
        REQUIRE_MESSAGE(back.ok(), back.error().message);
        CHECK(wire::status_json(*back) == j);
    }

    TEST_CASE("the state disk in the status view: full with its message, clear without; an "
              "older daemon's answer without it reads as clear") {
        genq::ports::StatusView s;
        s.version = "0.1.0";
        s.state_disk = {true, "/var/lib/genq", 1764583260.5,
                        "the state directory /var/lib/genq is full (No space left on device); "
                        "free space there",
                        3};
        auto j = wire::status_json(s);
        CHECK(j["state_disk"]["full"] == true);
        CHECK(j["state_disk"]["since"] == "2025-12-01T10:01:00.500Z");
        CHECK(j["state_disk"]["unsaved"] == 3);
        auto back = wire::parse_status(j);
        REQUIRE_MESSAGE(back.ok(), back.error().message);
        CHECK(back->state_disk.message == s.state_disk.message);
        CHECK(wire::status_json(*back) == j);
        s.state_disk = {false, "/var/lib/genq", 0, "", 0};
        j = wire::status_json(s);
        CHECK(j["state_disk"]["since"].is_null());
        CHECK(j["state_disk"]["message"].is_null());
        j.erase("state_disk");
        auto old = wire::parse_status(j);
        REQUIRE_MESSAGE(old.ok(), old.error().message);
        CHECK_FALSE(old->state_disk.full);
        genq::ports::ProviderCounters c;
        s.state_disk.full = true;
        std::string text = genq::api::render_metrics(s, c);
        CHECK(text.find("\ngenq_state_disk_full 1\n") != std::string::npos);
    }

    TEST_CASE("Prometheus text: counters, then the live families from the status view") {
        genq::ports::ProviderCounters c;
        c.requests["main"]["2xx"] = 3;
        c.polls = 2;
        c.latency_buckets[0] = 1;
        c.latency_count = 1;
        c.latency_sum = 0.01;
        genq::ports::StatusView s;
        s.counts = {{"queued", 1}};
        s.keys.push_back({"main", 1, "active", 0, false, 4, 150, 2, 0, 0, 37.5});
        s.keys.push_back({"unread", 1, "active", 0, false, 0, 150, 0, 0, 0, std::nullopt});
        std::string text = genq::api::render_metrics(s, c);
        CHECK(text.find("genq_key_balance_credits{key=\"main\"} 37.5\n") != std::string::npos);
        CHECK(text.find("genq_key_balance_credits{key=\"unread\"}") == std::string::npos);
        CHECK(text.find("genq_provider_requests_total{key=\"main\",class=\"2xx\"} 3\n") !=
              std::string::npos);
        CHECK(text.find("genq_request_duration_seconds_bucket{le=\"0.05\"} 1\n") != std::string::npos);
        CHECK(text.find("genq_jobs{state=\"queued\"} 1\n") != std::string::npos);
        CHECK(text.find("genq_key_requests_in_window{key=\"main\"} 4\n") != std::string::npos);
        CHECK(text.find("genq_key_in_flight{key=\"main\"} 2\n") != std::string::npos);
        CHECK(text.find("genq_polls_total 2\n") < text.find("genq_jobs{"));
    }

    TEST_CASE("url_segment escapes all but the unreserved characters") {
        CHECK(wire::url_segment("cat #1.png") == "cat%20%231.png");
        CHECK(wire::url_segment("a/b?c&d=e") == "a%2Fb%3Fc%26d%3De");
        CHECK(wire::url_segment("Az09-._~") == "Az09-._~");
        CHECK(wire::url_segment("\xc3\xa9") == "%C3%A9");
    }
}

}  // namespace
