// The checks genqd makes on a config above core (app/config_check): a watch's params go through
// the provider's validator for its kind, so a value every dropped file would fail on is refused
// by --check-config, start-up and reload alike.
#include <doctest/doctest.h>

#include "app/config_check.hpp"
#include "core/listen_address.hpp"

namespace {

const std::string kFile = "/etc/genq/genq.toml";

std::vector<genq::ConfigProblem> uses(const std::string& toml) {
    genq::ConfigLoad load = genq::parse_config(toml, kFile, {{"HOME", "/home/u"}});
    REQUIRE(load.problems.empty());
    return genq::app::check_config_uses(load.config);
}

TEST_SUITE("config_check") {
    TEST_CASE("a watch's params out of range for its kind are refused, naming the field") {
        auto problems = uses("[[watch]]\ndir = \"/in\"\nparams = { cfg_scale = 50 }");
        REQUIRE(problems.size() == 1);
        CHECK(problems[0].file == kFile);
        CHECK(problems[0].key == "watch[0].params.cfg_scale");
        CHECK(problems[0].reason.find("0 to 10") != std::string::npos);
        CHECK(problems[0].reason.find("kind video") != std::string::npos);
    }

    TEST_CASE("a field the watch's kind does not take is refused") {
        auto problems = uses("[[watch]]\ndir = \"/in\"\nkind = \"upscale\"\n"
                             "params = { motion_bucket_id = 127 }");
        REQUIRE(problems.size() == 1);
        CHECK(problems[0].key == "watch[0].params.motion_bucket_id");
        CHECK(problems[0].reason.find("unknown field for upscale") != std::string::npos);
    }

    TEST_CASE("every watch is checked; valid params and missing required ones pass") {
        // upscale-creative requires a prompt: a sidecar may give it per file.
        auto problems = uses("[[watch]]\ndir = \"/a\"\nparams = { cfg_scale = 1.8 }\n"
                             "[[watch]]\ndir = \"/b\"\nkind = \"upscale-creative\"\n"
                             "[[watch]]\ndir = \"/c\"\nparams = { seed = -1 }\n"
                             // search_prompt may come from each file's sidecar
                             "[[watch]]\ndir = \"/d\"\nkind = \"inpaint\"\n"
                             "params = { mode = \"search\" }");
        REQUIRE(problems.size() == 1);
        CHECK(problems[0].key == "watch[2].params.seed");
    }

    TEST_CASE("a choice outside its list is refused") {
        auto problems = uses("[[watch]]\ndir = \"/in\"\nkind = \"inpaint\"\n"
                             "params = { mode = \"lasso\" }");
        REQUIRE(problems.size() == 1);
        CHECK(problems[0].key == "watch[0].params.mode");
    }

    TEST_CASE("the listen parser is the server's: IP literals, port 0 only where allowed") {
        auto a = genq::parse_listen_address("127.0.0.1:8080");
        REQUIRE(a.ok());
        CHECK(a->port == 8080);
        CHECK(a->is_loopback());
        CHECK_FALSE(genq::parse_listen_address("localhost:8080").ok());
        CHECK_FALSE(genq::parse_listen_address("127.0.0.1:0").ok());
        CHECK(genq::parse_listen_address("127.0.0.1:0", genq::PortZero::allowed).ok());
        auto v6 = genq::parse_listen_address("[::ffff:127.0.0.1]:1");
        REQUIRE(v6.ok());
        CHECK(v6->ipv6);
        CHECK(v6->is_loopback());
        CHECK_FALSE(genq::parse_listen_address("[::]:80")->is_loopback());
    }
}

}  // namespace
