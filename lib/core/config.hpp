// The daemon's configuration (SPEC §2): every key optional, validated with messages that name the
// file, the key and the reason. API keys are referenced (file, env, credential), never literal.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "core/retention_config.hpp"
#include "core/store_config.hpp"

namespace genq {

struct KeyConfig {
    std::string name;
    enum class Source { file, env, credential } source = Source::env;
    std::string ref;   // the path, the variable name or the credential name
    double weight = 1;
    // Where the source is written, for messages: "/etc/genq/genq.toml:12: keys[0].file";
    // "" for the implicit key "default" (no [[keys]] table).
    std::string origin = {};
};

struct WatchConfig {
    std::string dir;
    std::string kind = "video";
    nlohmann::json params = nlohmann::json::object();
};

struct ApiConfig {
    std::string base_url = "https://api.stability.ai";
    std::string ca_file;
    double timeout = 60;
    std::string client_id = "genq";
    // "bytes": results are asked for as raw bytes (accept: video/* or image/*), the API's
    // default; "json": accept: application/json, the base64 form some proxies only answer.
    std::string result_form = "bytes";
};

struct LimitsConfig {
    int requests_per_window = 150;
    double window = 10;
    double safety_margin = 0.25;
    double poll_interval = 10;
    double lockout = 60;
    int max_in_flight = 0;  // 0 = no cap
};

struct RetryConfig {
    int max_attempts = 8;
    double base_delay = 2;
    double max_delay = 300;
};

struct HttpConfig {
    std::string listen;  // "" = off
    std::string token;
};

struct Config {
    std::string file;  // where it came from ("" = built-in defaults)
    std::string state_dir;
    std::string output_dir;
    std::string socket;
    unsigned socket_mode = 0660;
    std::string socket_group;
    std::string log_level = "info";
    std::string log_format = "text";
    // On SIGTERM: seconds that result downloads already streaming get to finish and be committed
    // before they are abandoned (every other request is abandoned at once).
    double stop_grace = 5;
    ApiConfig api;
    std::vector<KeyConfig> keys;  // never empty after load: the "default" key from the env
    LimitsConfig limits;
    RetryConfig retry;
    std::vector<WatchConfig> watches;
    double daily_credits = 0;
    HttpConfig http;
    StoreConfig store;
    RetentionConfig retention;
};

// One problem found while loading, e.g. {"/etc/genq/genq.toml", "limits.window",
// "must be a number of seconds greater than 0 (got -1)"}.
struct ConfigProblem {
    std::string file;
    std::string key;
    std::string reason;
    int line = 0;                   // in `file`, when known (0: not known)
    std::string to_string() const;  // "<file>[:<line>]: <key>: <reason>"
};

using Environment = std::map<std::string, std::string>;
Environment current_environment();

// The path SPEC §1 says to read: explicit, else $GENQ_CONFIG, else /etc/genq/genq.toml as root or
// under systemd (INVOCATION_ID set), else $XDG_CONFIG_HOME/genq/genq.toml or ~/.config/genq/genq.toml.
// `explicit_path` non-empty wins. `is_default` tells whether a missing file means "all defaults".
struct ConfigLocation {
    std::string path;
    bool is_default = true;
};
ConfigLocation locate_config(const std::string& explicit_path, const Environment& env);
// Same with the "run as root" test made by the caller (the overload above uses geteuid() == 0).
ConfigLocation locate_config(const std::string& explicit_path, const Environment& env,
                             bool as_root);

// Parses and validates; fills defaults for state_dir, output_dir and socket from the environment
// ($STATE_DIRECTORY, $XDG_STATE_HOME, $HOME, $RUNTIME_DIRECTORY, $XDG_RUNTIME_DIR, uid) and applies
// GENQ_SOCKET and GENQ_BASE_URL. Every problem is reported, not just the first.
struct ConfigLoad {
    Config config;
    std::vector<ConfigProblem> problems;  // empty = valid
};
ConfigLoad load_config(const ConfigLocation& where, const Environment& env);
// Same from TOML text (tests, reload); `file` is used in messages.
ConfigLoad parse_config(const std::string& toml_text, const std::string& file, const Environment& env);

// Reads one API key's secret. Errors name the key and the source, never the secret:
// "key \"main\": cannot read file /etc/genq/keys/main: No such file or directory".
// Surrounding whitespace is trimmed; an empty secret is an error. Error codes say what went
// wrong (key_missing, key_not_file, key_unreadable, key_empty, key_malformed, key_env_unset,
// key_no_credentials); key_problem_report (core/key_advice.hpp) adds where and how to fix it.
Result<std::string> load_key_secret(const KeyConfig& key, const Environment& env);
// The shared store's password from store.password_file ("" when none is configured).
Result<std::string> load_store_password(const StoreConfig& store);

}  // namespace genq
