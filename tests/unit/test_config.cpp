// Config loading and validation (SPEC §1-2): defaults from the environment, every key checked,
// every problem reported with file, key and reason, secrets never echoed.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <doctest/doctest.h>

#include "core/config.hpp"
#include "temp_dir.hpp"

namespace {

using genq::ConfigLoad;
using genq::Environment;
using genq::KeyConfig;

const std::string kFile = "/etc/genq/genq.toml";

Environment home_env() {
    return {{"HOME", "/home/u"}};
}

ConfigLoad parse(const std::string& text, const Environment& env = home_env()) {
    return genq::parse_config(text, kFile, env);
}

std::string all_problems(const ConfigLoad& load) {
    std::string out;
    for (const auto& p : load.problems) out += p.to_string() + "\n";
    return out;
}

// True if some problem is about `key` and its reason contains `text`.
bool has_problem(const ConfigLoad& load, const std::string& key, const std::string& text = "") {
    for (const auto& p : load.problems) {
        if (p.key == key && p.reason.find(text) != std::string::npos) return true;
    }
    return false;
}

std::string tmp_socket() {
    return "/tmp/genq-" + std::to_string(::getuid()) + "/genq.sock";
}

using genq::test::TempDir;

}  // namespace

TEST_SUITE("core.config") {
    TEST_CASE("empty config: built-in defaults under $HOME") {
        ConfigLoad load = parse("");
        CHECK_MESSAGE(load.problems.empty(), all_problems(load));
        const genq::Config& c = load.config;
        CHECK(c.file == kFile);
        CHECK(c.state_dir == "/home/u/.local/state/genq");
        CHECK(c.output_dir == "/home/u/.local/state/genq/output");
        CHECK(c.socket == tmp_socket());
        CHECK(c.socket_mode == 0660);
        CHECK(c.socket_group.empty());
        CHECK(c.log_level == "info");
        CHECK(c.log_format == "text");
        CHECK(c.api.base_url == "https://api.stability.ai");
        CHECK(c.api.timeout == 60);
        CHECK(c.api.client_id == "genq");
        REQUIRE(c.keys.size() == 1);
        CHECK(c.keys[0].name == "default");
        CHECK(c.keys[0].source == KeyConfig::Source::env);
        CHECK(c.keys[0].ref == "STABILITY_API_KEY");
        CHECK(c.keys[0].weight == 1);
        CHECK(c.limits.requests_per_window == 150);
        CHECK(c.limits.window == 10);
        CHECK(c.retry.max_attempts == 8);
        CHECK(c.watches.empty());
        CHECK(c.daily_credits == 0);
        CHECK(c.http.listen.empty());
    }

    TEST_CASE("state_dir default: STATE_DIRECTORY, then XDG_STATE_HOME, then HOME") {
        Environment env = home_env();
        env["XDG_STATE_HOME"] = "/xdg/state";
        CHECK(parse("", env).config.state_dir == "/xdg/state/genq");
        env["STATE_DIRECTORY"] = "/var/lib/genq:/var/lib/other";
        CHECK(parse("", env).config.state_dir == "/var/lib/genq");
        CHECK(parse("", env).config.output_dir == "/var/lib/genq/output");
        // XDG: a relative value is invalid and ignored.
        Environment rel = home_env();
        rel["XDG_STATE_HOME"] = "relative/state";
        CHECK(parse("", rel).config.state_dir == "/home/u/.local/state/genq");
        // The file's value wins over all of them.
        ConfigLoad load = parse("state_dir = \"/srv/genq\"", env);
        CHECK(load.config.state_dir == "/srv/genq");
        CHECK(load.config.output_dir == "/srv/genq/output");
    }

    TEST_CASE("state_dir: no environment to derive a default from is a problem") {
        ConfigLoad load = parse("", Environment{});
        CHECK(has_problem(load, "state_dir", "set state_dir"));
        CHECK(parse("state_dir = \"/srv/genq\"", Environment{}).problems.empty());
    }

    TEST_CASE("socket default: RUNTIME_DIRECTORY, then XDG_RUNTIME_DIR, then /tmp/genq-<uid>") {
        Environment env = home_env();
        CHECK(parse("", env).config.socket == tmp_socket());
        env["XDG_RUNTIME_DIR"] = "/run/user/1000";
        CHECK(parse("", env).config.socket == "/run/user/1000/genq/genq.sock");
        env["RUNTIME_DIRECTORY"] = "/run/genq";
        CHECK(parse("", env).config.socket == "/run/genq/genq.sock");
        CHECK(parse("socket = \"/srv/s.sock\"", env).config.socket == "/srv/s.sock");
    }

    TEST_CASE("GENQ_SOCKET beats the config file's socket") {
        Environment env = home_env();
        env["GENQ_SOCKET"] = "/run/custom.sock";
        env["RUNTIME_DIRECTORY"] = "/run/genq";
        CHECK(parse("socket = \"/srv/s.sock\"", env).config.socket == "/run/custom.sock");
    }

    TEST_CASE("socket path longer than sun_path is refused") {
        ConfigLoad load = parse("socket = \"/" + std::string(120, 's') + "\"");
        CHECK(has_problem(load, "socket", "at most 107 bytes"));
    }

    TEST_CASE("GENQ_BASE_URL overrides api.base_url and is validated") {
        Environment env = home_env();
        env["GENQ_BASE_URL"] = "https://proxy.example:8443/stability/";
        ConfigLoad load = parse("[api]\nbase_url = \"https://other.example\"", env);
        CHECK_MESSAGE(load.problems.empty(), all_problems(load));
        CHECK(load.config.api.base_url == "https://proxy.example:8443/stability");

        env["GENQ_BASE_URL"] = "http://proxy.example";
        load = parse("", env);
        REQUIRE(load.problems.size() == 1);
        CHECK(load.problems[0].file == "environment");
        CHECK(load.problems[0].key == "GENQ_BASE_URL");
        CHECK(load.problems[0].reason.find("TLS cannot be switched off") != std::string::npos);
    }

    TEST_CASE("a full valid config round-trips every key") {
        const std::string text = R"(
state_dir = "/var/lib/genq"
output_dir = "/srv/out"
socket = "/run/genq/ctl.sock"
socket_mode = "0600"
socket_group = "genq"
log_level = "debug"
log_format = "json"

[api]
base_url = "https://proxy.example:8443/stab/"
ca_file = "/etc/ssl/extra.pem"
timeout = 12.5
client_id = "my-genq"

[[keys]]
name = "main"
file = "/etc/genq/keys/main"
weight = 2

[[keys]]
name = "spare.2"
env = "SPARE_KEY"

[[keys]]
name = "cred"
credential = "stability"
weight = 0.5

[limits]
requests_per_window = 100
window = 5
safety_margin = 0.5
poll_interval = 2.5
lockout = 30
max_in_flight = 4

[retry]
max_attempts = 3
base_delay = 0.5
max_delay = 60

[[watch]]
dir = "/var/lib/genq/inbox"
kind = "video"
params = { cfg_scale = 1.8, motion_bucket_id = 127, prompt = "cat", flag = true }

[[watch]]
dir = "/var/lib/genq/upscale"
kind = "upscale-creative"

[budget]
daily_credits = 250.5

[http]
listen = "0.0.0.0:8080"
token = "s3cret-token"
)";
        ConfigLoad load = parse(text);
        REQUIRE_MESSAGE(load.problems.empty(), all_problems(load));
        const genq::Config& c = load.config;
        CHECK(c.state_dir == "/var/lib/genq");
        CHECK(c.output_dir == "/srv/out");
        CHECK(c.socket == "/run/genq/ctl.sock");
        CHECK(c.socket_mode == 0600);
        CHECK(c.socket_group == "genq");
        CHECK(c.log_level == "debug");
        CHECK(c.log_format == "json");
        CHECK(c.api.base_url == "https://proxy.example:8443/stab");
        CHECK(c.api.ca_file == "/etc/ssl/extra.pem");
        CHECK(c.api.timeout == 12.5);
        CHECK(c.api.client_id == "my-genq");
        REQUIRE(c.keys.size() == 3);
        CHECK(c.keys[0].name == "main");
        CHECK(c.keys[0].source == KeyConfig::Source::file);
        CHECK(c.keys[0].ref == "/etc/genq/keys/main");
        CHECK(c.keys[0].weight == 2);
        CHECK(c.keys[1].name == "spare.2");
        CHECK(c.keys[1].source == KeyConfig::Source::env);
        CHECK(c.keys[1].ref == "SPARE_KEY");
        CHECK(c.keys[1].weight == 1);
        CHECK(c.keys[2].source == KeyConfig::Source::credential);
        CHECK(c.keys[2].ref == "stability");
        CHECK(c.keys[2].weight == 0.5);
        CHECK(c.limits.requests_per_window == 100);
        CHECK(c.limits.window == 5);
        CHECK(c.limits.safety_margin == 0.5);
        CHECK(c.limits.poll_interval == 2.5);
        CHECK(c.limits.lockout == 30);
        CHECK(c.limits.max_in_flight == 4);
        CHECK(c.retry.max_attempts == 3);
        CHECK(c.retry.base_delay == 0.5);
        CHECK(c.retry.max_delay == 60);
        REQUIRE(c.watches.size() == 2);
        CHECK(c.watches[0].dir == "/var/lib/genq/inbox");
        CHECK(c.watches[0].kind == "video");
        CHECK(c.watches[0].params == nlohmann::json{{"cfg_scale", 1.8},
                                                    {"motion_bucket_id", 127},
                                                    {"prompt", "cat"},
                                                    {"flag", true}});
        CHECK(c.watches[0].params["motion_bucket_id"].is_number_integer());
        CHECK(c.watches[1].kind == "upscale-creative");
        CHECK(c.watches[1].params == nlohmann::json::object());
        CHECK(c.daily_credits == 250.5);
        CHECK(c.http.listen == "0.0.0.0:8080");
        CHECK(c.http.token == "s3cret-token");
    }

    TEST_CASE("socket_mode: octal strings and octal literals only, within 0..0777") {
        CHECK(parse("socket_mode = \"660\"").config.socket_mode == 0660);
        CHECK(parse("socket_mode = 0o640").config.socket_mode == 0640);
        CHECK(parse("socket_mode = \"0000\"").config.socket_mode == 0);
        // A decimal 660 would be 0o1224: ambiguous, so refused rather than guessed.
        for (const char* bad : {"660", "\"0999\"", "\"01777\"", "\"rw\"", "0o1777", "true"}) {
            CAPTURE(bad);
            ConfigLoad load = parse(std::string("socket_mode = ") + bad);
            CHECK(has_problem(load, "socket_mode", "\"0660\""));
            CHECK(load.config.socket_mode == 0660);
        }
    }

    TEST_CASE("each invalid value is a problem naming its key, the rule and what was given") {
        struct Bad {
            std::string text, key, reason;
        };
        const Bad cases[] = {
            {"[limits]\nwindow = -1", "limits.window", "> 0 and <= 86400 (1 day) (got -1)"},
            {"stop_grace = -1", "stop_grace", ">= 0 and <= 300 (got -1)"},
            {"stop_grace = 301", "stop_grace", "(got 301)"},
            {"[limits]\nwindow = 0", "limits.window", "(got 0)"},
            {"[limits]\nwindow = nan", "limits.window", "(got nan)"},
            {"[limits]\nwindow = inf", "limits.window", "(got inf)"},
            {"[limits]\nwindow = 86401", "limits.window", "(got 86401)"},
            {"[limits]\nwindow = \"10\"", "limits.window", "(got \"10\")"},
            {"[limits]\npoll_interval = 100000", "limits.poll_interval", "86400"},
            {"[limits]\nlockout = -0.5", "limits.lockout", ">= 0"},
            {"[limits]\nsafety_margin = -1", "limits.safety_margin", ">= 0"},
            {"[limits]\nrequests_per_window = 0", "limits.requests_per_window", "1 to 100000"},
            {"[limits]\nrequests_per_window = 100001", "limits.requests_per_window",
             "(got 100001)"},
            {"[limits]\nrequests_per_window = 1.5", "limits.requests_per_window", "(got 1.5)"},
            {"[limits]\nmax_in_flight = -1", "limits.max_in_flight", "0 to 100000"},
            {"[retry]\nmax_attempts = 0", "retry.max_attempts", "1 to 1000"},
            {"[retry]\nmax_attempts = 1001", "retry.max_attempts", "1 to 1000"},
            {"[retry]\nmax_delay = 604801", "retry.max_delay", "604800 (1 week)"},
            {"[retry]\nbase_delay = 10\nmax_delay = 5", "retry.max_delay", ">= retry.base_delay"},
            {"[api]\ntimeout = 0", "api.timeout", "> 0"},
            {"[api]\ntimeout = 90000", "api.timeout", "86400"},
            {"[api]\nbase_url = \"http://api.stability.ai\"", "api.base_url",
             "TLS cannot be switched off"},
            {"[api]\nbase_url = \"ftp://x\"", "api.base_url", "https://"},
            {"[api]\nbase_url = \"not a url\"", "api.base_url", "not a valid URL"},
            {"[api]\nbase_url = \"https://u:p@host\"", "api.base_url", "user:password"},
            {"[api]\nbase_url = \"https://host?x=1\"", "api.base_url", "?query"},
            {"[api]\nbase_url = \"https://host:99999\"", "api.base_url", "port"},
            {"[api]\nbase_url = \"https://host:\"", "api.base_url", "port"},
            {"[api]\nclient_id = \"a\\r\\nX-Evil: 1\"", "api.client_id", "visible ASCII"},
            {"log_level = \"verbose\"", "log_level",
             "one of trace|debug|info|warn|error (got \"verbose\")"},
            {"log_format = \"xml\"", "log_format", "one of text|json"},
            {"state_dir = 5", "state_dir", "must be a string (got an integer)"},
            {"state_dir = \"~/genq\"", "state_dir", "not expanded"},
            {"[budget]\ndaily_credits = -1", "budget.daily_credits", ">= 0"},
            {"api = 3", "api", "must be a table"},
            {"keys = 3", "keys", "array of tables"},
            {"[[keys]]\nenv = \"A\"", "keys[0].name", "required"},
            {"[[keys]]\nname = \"has space\"\nenv = \"A\"", "keys[0].name", "[A-Za-z0-9_.-]"},
            {"[[keys]]\nname = \"" + std::string(65, 'k') + "\"\nenv = \"A\"", "keys[0].name",
             "1 to 64"},
            {"[[keys]]\nname = \"a\"", "keys[0]", "exactly one of file, env or credential (none"},
            {"[[keys]]\nname = \"a\"\nenv = \"A\"\nfile = \"/k\"", "keys[0]", "(several given)"},
            {"[[keys]]\nname = \"a\"\nfile = \"\"", "keys[0].file", "must not be empty"},
            {"[[keys]]\nname = \"a\"\nenv = \"1BAD\"", "keys[0].env", "environment variable"},
            {"[[keys]]\nname = \"a\"\ncredential = \"../x\"", "keys[0].credential", "credential"},
            {"[[keys]]\nname = \"a\"\nenv = \"A\"\nweight = 0", "keys[0].weight", "> 0"},
            {"[[keys]]\nname = \"a\"\nenv = \"A\"\nweight = 1001", "keys[0].weight", "<= 1000"},
            {"[[keys]]\nname = \"a\"\nenv = \"A\"\n[[keys]]\nname = \"a\"\nenv = \"B\"",
             "keys[1].name", "duplicate key name \"a\" (also keys[0].name)"},
            {"[[watch]]\nkind = \"video\"", "watch[0].dir", "required"},
            {"[[watch]]\ndir = \"\"", "watch[0].dir", "must not be empty"},
            {"[[watch]]\ndir = \"/in\"\nkind = \"gif\"", "watch[0].kind",
             "one of video|video-v2alpha|upscale|inpaint|upscale-creative|inpaint-v2beta|ultra|core"},
            {"[[watch]]\ndir = \"/in\"\nparams = 3", "watch[0].params", "must be a table"},
            {"[[watch]]\ndir = \"/in\"\nparams = { a = [1] }", "watch[0].params.a", "an array"},
            {"[[watch]]\ndir = \"/in\"\nparams = { a = nan }", "watch[0].params.a", "finite"},
            {"[[watch]]\ndir = \"/in\"\n[[watch]]\ndir = \"/in/\"", "watch[1].dir",
             "same directory as watch[0].dir"},
            {"watch = [1]", "watch[0]", "must be a table"},
            {"[http]\nlisten = \"8080\"", "http.listen", "host:port"},
            {"[http]\nlisten = \"127.0.0.1:0\"", "http.listen", "1 to 65535"},
            {"[http]\nlisten = \"127.0.0.1:70000\"", "http.listen", "1 to 65535"},
            {"[http]\nlisten = \"::1:8080\"", "http.listen", "brackets"},
            {"[http]\nlisten = \"[zz]:8080\"", "http.listen", "IPv6"},
            {"[http]\nlisten = \"bad host:8080\"", "http.listen", "host must be"},
            // The server binds IP literals only; a name would pass here and fail at start.
            {"[http]\nlisten = \"localhost:8080\"", "http.listen", "use 127.0.0.1 or [::1]"},
            {"[http]\nlisten = \"example.com:80\"\ntoken = \"t\"", "http.listen", "host must be"},
        };
        for (const Bad& bad : cases) {
            CAPTURE(bad.text);
            ConfigLoad load = parse(bad.text);
            CHECK_MESSAGE(has_problem(load, bad.key, bad.reason), all_problems(load));
            for (const auto& p : load.problems) CHECK(p.file == kFile);
        }
    }

    TEST_CASE("every problem is reported, not just the first") {
        ConfigLoad load = parse(R"(
log_level = "loud"
[limits]
window = -1
requests_per_window = 0
[retry]
max_attempts = 0
[http]
listen = "0.0.0.0:80"
)");
        CHECK(load.problems.size() == 5);
        CHECK(has_problem(load, "log_level"));
        CHECK(has_problem(load, "limits.window"));
        CHECK(has_problem(load, "limits.requests_per_window"));
        CHECK(has_problem(load, "retry.max_attempts"));
        CHECK(has_problem(load, "http.token"));
        // Invalid values leave the defaults in place rather than half-applied garbage.
        CHECK(load.config.limits.window == 10);
        CHECK(load.config.log_level == "info");
    }

    TEST_CASE("unknown keys are problems, with the known keys and a suggestion") {
        ConfigLoad load = parse(
            "[limts]\nwindow = 5\n[limits]\nwindwo = 5\n[[keys]]\n"
            "name = \"a\"\nenv = \"A\"\nwieght = 2\n"
            "[[watch]]\ndir = \"/in\"\nparam = {}");
        CHECK(has_problem(load, "limts", "unknown key \"limts\"; known keys: state_dir,"));
        CHECK(has_problem(load, "limts", "did you mean \"limits\"?"));
        CHECK(has_problem(load, "limits.windwo", "did you mean \"window\"?"));
        CHECK(has_problem(load, "keys[0].wieght", "did you mean \"weight\"?"));
        CHECK(has_problem(load, "watch[0].param", "known keys: dir, kind, params"));
        CHECK(load.problems.size() == 4);
        CHECK(has_problem(parse("frobnicate = 1"), "frobnicate", "unknown key"));
    }

    TEST_CASE("a literal API key is refused and never echoed") {
        const std::string secret = "sk-THISISASECRETVALUE123";
        for (const char* field : {"key", "secret", "api_key"}) {
            CAPTURE(field);
            ConfigLoad load =
                parse("[[keys]]\nname = \"main\"\n" + std::string(field) + " = \"" + secret + "\"");
            CHECK(has_problem(load, std::string("keys[0].") + field, "use file ="));
            CHECK(has_problem(load, std::string("keys[0].") + field, "credential"));
            CHECK(all_problems(load).find("SECRETVALUE") == std::string::npos);
        }
        // A secret pasted into the wrong field is not echoed either.
        ConfigLoad load = parse("[[keys]]\nname = \"main\"\nenv = \"" + secret + "\"\n" +
                                "[http]\nlisten = \"127.0.0.1:1\"\ntoken = \"a b SECRETVALUE\"");
        CHECK(has_problem(load, "keys[0].env", "value not shown"));
        CHECK(has_problem(load, "http.token", "value not shown"));
        CHECK(all_problems(load).find("SECRETVALUE") == std::string::npos);
    }

    TEST_CASE("http.token is required unless http.listen is a loopback address") {
        for (const char* loopback :
             {"127.0.0.1:8080", "127.1.2.3:80", "[::1]:8080", "[::ffff:127.0.0.1]:8080"}) {
            CAPTURE(loopback);
            ConfigLoad load = parse(std::string("[http]\nlisten = \"") + loopback + "\"");
            CHECK_MESSAGE(load.problems.empty(), all_problems(load));
            CHECK(load.config.http.listen == loopback);
        }
        for (const char* open :
             {"0.0.0.0:8080", "[::]:8080", "192.168.1.5:80", "128.0.0.1:80"}) {
            CAPTURE(open);
            ConfigLoad load = parse(std::string("[http]\nlisten = \"") + open + "\"");
            REQUIRE(load.problems.size() == 1);
            CHECK(load.problems[0].to_string() ==
                  kFile + ": http.token: required when http.listen is not a loopback address");
            load = parse(std::string("[http]\nlisten = \"") + open + "\"\ntoken = \"t0k\"");
            CHECK_MESSAGE(load.problems.empty(), all_problems(load));
        }
        CHECK(parse("[http]\nlisten = \"\"").problems.empty());
    }

    TEST_CASE("relative paths are resolved against the config file's directory") {
        ConfigLoad load = genq::parse_config(R"(
state_dir = "state"
output_dir = "../out"
socket = "run/genq.sock"
[api]
ca_file = "certs/ca.pem"
[[keys]]
name = "k"
file = "keys/main"
[[watch]]
dir = "./inbox"
)",
                                             "/opt/genq/conf/genq.toml", home_env());
        REQUIRE_MESSAGE(load.problems.empty(), all_problems(load));
        CHECK(load.config.state_dir == "/opt/genq/conf/state");
        CHECK(load.config.output_dir == "/opt/genq/out");
        CHECK(load.config.socket == "/opt/genq/conf/run/genq.sock");
        CHECK(load.config.api.ca_file == "/opt/genq/conf/certs/ca.pem");
        CHECK(load.config.keys.at(0).ref == "/opt/genq/conf/keys/main");
        CHECK(load.config.watches.at(0).dir == "/opt/genq/conf/inbox");
        // output_dir defaults under a resolved state_dir.
        load = genq::parse_config("state_dir = \"s\"", "/opt/genq/genq.toml", home_env());
        CHECK(load.config.output_dir == "/opt/genq/s/output");
    }

    TEST_CASE("a TOML syntax error is reported as file:line:column") {
        ConfigLoad load = parse("log_level = \"info\"\n[limits\nwindow = 3\n");
        REQUIRE(load.problems.size() == 1);
        CHECK(load.problems[0].file.rfind(kFile + ":2:", 0) == 0);
        CHECK(load.problems[0].key.empty());
        CHECK_FALSE(load.problems[0].reason.empty());
        // Defaults are still filled in.
        CHECK(load.config.state_dir == "/home/u/.local/state/genq");
    }

    TEST_CASE("ConfigProblem::to_string") {
        CHECK(genq::ConfigProblem{"/f.toml", "limits.window", "bad"}.to_string() ==
              "/f.toml: limits.window: bad");
        CHECK(genq::ConfigProblem{"/f.toml", "", "cannot read"}.to_string() ==
              "/f.toml: cannot read");
    }

    TEST_CASE("locate_config follows SPEC §1") {
        Environment env = home_env();
        CHECK(genq::locate_config("/x.toml", env, false).path == "/x.toml");
        CHECK_FALSE(genq::locate_config("/x.toml", env, false).is_default);
        CHECK(genq::locate_config("", env, false).path == "/home/u/.config/genq/genq.toml");
        CHECK(genq::locate_config("", env, false).is_default);
        env["XDG_CONFIG_HOME"] = "/xdg/config";
        CHECK(genq::locate_config("", env, false).path == "/xdg/config/genq/genq.toml");
        CHECK(genq::locate_config("", env, true).path == "/etc/genq/genq.toml");
        CHECK(genq::locate_config("", env, true).is_default);
        env["INVOCATION_ID"] = "abc";
        CHECK(genq::locate_config("", env, false).path == "/etc/genq/genq.toml");
        env["GENQ_CONFIG"] = "/env.toml";
        CHECK(genq::locate_config("", env, true).path == "/env.toml");
        CHECK_FALSE(genq::locate_config("", env, true).is_default);
        CHECK(genq::locate_config("/x.toml", env, true).path == "/x.toml");
        CHECK(genq::locate_config("", Environment{}, false).path.empty());
    }

    TEST_CASE("load_config: missing default file, missing explicit file, unreadable, real file") {
        TempDir dir;
        std::string missing = dir.file("nope.toml");

        ConfigLoad load = genq::load_config({missing, true}, home_env());
        CHECK_MESSAGE(load.problems.empty(), all_problems(load));
        CHECK(load.config.file.empty());
        CHECK(load.config.state_dir == "/home/u/.local/state/genq");

        load = genq::load_config({missing, false}, home_env());
        REQUIRE(load.problems.size() == 1);
        CHECK(load.problems[0].to_string() == missing + ": cannot read: No such file or directory");

        // A directory where the file should be: exists but cannot be read, even at a default path.
        load = genq::load_config({dir.path, true}, home_env());
        REQUIRE(load.problems.size() == 1);
        CHECK(load.problems[0].reason == "cannot read: Is a directory");

        std::string file = dir.write("genq.toml", "state_dir = \"st\"\nlog_level = \"warn\"\n");
        load = genq::load_config({file, false}, home_env());
        CHECK_MESSAGE(load.problems.empty(), all_problems(load));
        CHECK(load.config.file == file);
        CHECK(load.config.log_level == "warn");
        CHECK(load.config.state_dir == dir.file("st"));

        file = dir.write("bad.toml", "[limits]\nwindow = -1\n");
        load = genq::load_config({file, true}, home_env());
        REQUIRE(load.problems.size() == 1);
        CHECK(load.problems[0].file == file);
        CHECK(load.problems[0].key == "limits.window");
    }

    TEST_CASE("load_key_secret from a file: trimmed; errors name key and file, never the text") {
        TempDir dir;
        const std::string secret = "sk-abcdefSECRET0123456789";
        KeyConfig key{"main", KeyConfig::Source::file, dir.write("main", "  " + secret + "\n\n")};
        auto r = genq::load_key_secret(key, {});
        REQUIRE(r.ok());
        CHECK(*r == secret);

        key.ref = dir.write("two", secret + "\nsecond line SECRET\n");
        r = genq::load_key_secret(key, {});
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("key \"main\": file " + key.ref) == 0);
        CHECK(r.error().message.find("SECRET") == std::string::npos);

        key.ref = dir.write("empty", " \n");
        r = genq::load_key_secret(key, {});
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message == "key \"main\": file " + key.ref + " is empty");

        key.ref = dir.file("missing");
        r = genq::load_key_secret(key, {});
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message ==
              "key \"main\": cannot read file " + key.ref + ": No such file or directory");
    }

    TEST_CASE("load_key_secret from the environment") {
        KeyConfig key{"default", KeyConfig::Source::env, "STABILITY_API_KEY", 1};
        auto r = genq::load_key_secret(key, {{"STABILITY_API_KEY", "sk-live\n"}});
        REQUIRE(r.ok());
        CHECK(*r == "sk-live");

        r = genq::load_key_secret(key, {});
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message ==
              "key \"default\": environment variable STABILITY_API_KEY is not set");
        r = genq::load_key_secret(key, {{"STABILITY_API_KEY", ""}});
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("is empty") != std::string::npos);
        r = genq::load_key_secret(key, {{"STABILITY_API_KEY", "sk-HIDDEN\r\nX: y"}});
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("HIDDEN") == std::string::npos);
        CHECK(r.error().message.find("STABILITY_API_KEY") != std::string::npos);
    }

    TEST_CASE("load_key_secret from a systemd credential") {
        TempDir dir;
        dir.write("stability", "sk-from-cred\n");
        KeyConfig key{"cred", KeyConfig::Source::credential, "stability", 1};
        auto r = genq::load_key_secret(key, {{"CREDENTIALS_DIRECTORY", dir.path}});
        REQUIRE(r.ok());
        CHECK(*r == "sk-from-cred");

        r = genq::load_key_secret(key, {});
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("key \"cred\": credential stability needs "
                                     "$CREDENTIALS_DIRECTORY") == 0);

        key.ref = "absent";
        r = genq::load_key_secret(key, {{"CREDENTIALS_DIRECTORY", dir.path}});
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message ==
              "key \"cred\": cannot read credential absent: No such file or directory");
    }

    TEST_CASE("current_environment reads the process environment") {
        ::setenv("GENQ_CONFIG_TEST_VAR", "a=b", 1);
        Environment env = genq::current_environment();
        ::unsetenv("GENQ_CONFIG_TEST_VAR");
        CHECK(env["GENQ_CONFIG_TEST_VAR"] == "a=b");
        CHECK(env.count("GENQ_CONFIG_TEST_VAR_NOT_THERE") == 0);
    }
}
