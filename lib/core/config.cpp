// Loading and validating genq.toml (SPEC §1-2).
//
// Decisions worth knowing:
// - Every problem is collected, never just the first, so one run of `genqd --check-config` lists
//   everything to fix. Unknown keys are problems: a typo must not silently do nothing.
// - Relative paths in the file (state_dir, output_dir, socket, api.ca_file, keys[].file,
//   watch[].dir) are resolved against the directory of the config file, not the working
//   directory (systemd starts the daemon in /), so a config and its key files can move together.
//   A leading "~" is refused rather than silently taken as a directory named "~".
// - An empty string for state_dir, output_dir, socket or api.ca_file means "the default".
// - api.base_url loses its trailing slashes so callers can append "/v2beta/...".
// - Values that may hold a secret (keys[] fields, http.token) are never echoed in messages.
#include "core/config.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/config_toml.hpp"

// The tables are read in config_tables.cpp and config_services.cpp, the values in
// config_values.cpp; this file holds the defaults, the environment and the public API.

extern char** environ;

namespace genq {

using namespace config_detail;

namespace {

void parse_root(const Ctx& ctx, const toml::table& root, Config& c) {
    check_known(ctx, root, "", kTopKeys);
    parse_top_scalars(ctx, root, c);
    parse_api(ctx, root, c.api);
    parse_keys(ctx, root, c.keys);
    parse_limits(ctx, root, c.limits);
    parse_retry(ctx, root, c.retry);
    parse_watches(ctx, root, c.watches);
    parse_budget(ctx, root, c.daily_credits);
    parse_http(ctx, root, c.http);
    parse_store(ctx, root, c.store);
    parse_retention(ctx, root, c.retention);
    if (c.store.node.empty()) c.store.node = host_name();
}

// ---------------------------------------------------------------------------------------------
// Defaults and environment overrides

std::string default_state_dir(const Environment& env) {
    if (auto s = first_of_path_list(env_value(env, "STATE_DIRECTORY")); !s.empty()) return s;
    // XDG says relative values are invalid and must be ignored.
    if (auto x = env_value(env, "XDG_STATE_HOME"); !x.empty() && x[0] == '/') return x + "/genq";
    if (auto h = env_value(env, "HOME"); !h.empty()) return h + "/.local/state/genq";
    return "";
}

std::string default_socket(const Environment& env) {
    if (auto r = first_of_path_list(env_value(env, "RUNTIME_DIRECTORY")); !r.empty()) {
        return r + "/genq.sock";
    }
    if (auto x = env_value(env, "XDG_RUNTIME_DIR"); !x.empty() && x[0] == '/') {
        return x + "/genq/genq.sock";
    }
    return "/tmp/genq-" + std::to_string(::getuid()) + "/genq.sock";
}

void apply_path_defaults(const Ctx& ctx, const Environment& env, Config& c) {
    if (c.state_dir.empty()) c.state_dir = default_state_dir(env);
    if (c.state_dir.empty()) {
        ctx.add("state_dir",
                "no default: none of $STATE_DIRECTORY, $XDG_STATE_HOME, $HOME is set; "
                "set state_dir");
    }
    if (c.output_dir.empty() && !c.state_dir.empty()) {
        c.output_dir = (fs::path(c.state_dir) / "output").string();
    }
    if (auto s = env_value(env, "GENQ_SOCKET"); !s.empty()) {
        c.socket = s;
    } else if (c.socket.empty()) {
        c.socket = default_socket(env);
    }
    if (c.socket.size() > kMaxSocketPath) {
        ctx.add("socket", "a Unix socket path is at most " + std::to_string(kMaxSocketPath) +
                              " bytes (got " + std::to_string(c.socket.size()) + ": " +
                              quote(c.socket) + ")");
    }
}

void apply_environment(const Ctx& ctx, const Environment& env, Config& c) {
    apply_path_defaults(ctx, env, c);
    if (auto url = env_value(env, "GENQ_BASE_URL"); !url.empty()) {
        std::string why = base_url_problem(url);
        if (why.empty()) {
            c.api.base_url = strip_trailing_slashes(url);
        } else {
            ctx.problems.push_back({"environment", "GENQ_BASE_URL", base_url_rule(url, why)});
        }
    }
    if (c.keys.empty()) {
        c.keys.push_back({"default", KeyConfig::Source::env, "STABILITY_API_KEY", 1,
                          (ctx.file.empty() ? std::string("no configuration file")
                                            : ctx.file + ": no [[keys]] table") +
                              ", so key \"default\" comes from $STABILITY_API_KEY"});
    }
}

ConfigProblem syntax_problem(const std::string& file, const toml::parse_error& e) {
    const toml::source_position& at = e.source().begin;
    return {(file.empty() ? std::string("config") : file) + ":" + std::to_string(at.line) + ":" +
                std::to_string(at.column),
            "", std::string(e.description())};
}

// ---------------------------------------------------------------------------------------------
// Secrets

Error key_error(const std::string& message, const char* code) { return Error{code, message}; }

// `who` prefixes every message ("key \"main\": "); `source` names where the text came from.
Result<std::string> checked_secret(const std::string& who, const std::string& source,
                                   const std::string& raw) {
    constexpr std::string_view space = " \t\r\n\f\v";
    std::size_t begin = raw.find_first_not_of(space);
    if (begin == std::string::npos) return key_error(who + source + " is empty", "key_empty");
    std::string secret = raw.substr(begin, raw.find_last_not_of(space) - begin + 1);
    // It goes into an Authorization header: inner whitespace or control bytes mean a wrong file.
    if (!all_chars(secret, is_visible_ascii)) {
        return key_error(who + source +
                         " contains spaces, line breaks or control characters "
                         "inside the key (expected one API key)",
                         "key_malformed");
    }
    return secret;
}

Result<std::string> secret_from_file(const std::string& who, const std::string& path,
                                     const std::string& source) {
    std::string text;
    int err = read_file(path, kMaxSecretBytes, text);
    if (err == EFBIG) {
        return key_error(who + source + " is larger than 64 KiB; expected one API key",
                         "key_malformed");
    }
    if (err != 0)
        return key_error(who + "cannot read " + source + ": " + std::strerror(err),
                         err == ENOENT || err == ENOTDIR ? "key_missing"
                         : err == EISDIR                 ? "key_not_file"
                                                         : "key_unreadable");
    return checked_secret(who, source, text);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public API

std::string ConfigProblem::to_string() const {
    std::string out = file;
    if (line > 0) out += ":" + std::to_string(line);
    for (const std::string* part : {&key, &reason}) {
        if (part->empty()) continue;
        if (!out.empty()) out += ": ";
        out += *part;
    }
    return out;
}

Environment current_environment() {
    Environment env;
    for (char** e = environ; e && *e; ++e) {
        std::string_view entry(*e);
        std::size_t eq = entry.find('=');
        if (eq == std::string_view::npos) continue;
        env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    }
    return env;
}

ConfigLocation locate_config(const std::string& explicit_path, const Environment& env,
                             bool as_root) {
    if (!explicit_path.empty()) return {explicit_path, false};
    if (auto v = env_value(env, "GENQ_CONFIG"); !v.empty()) return {v, false};
    if (as_root || !env_value(env, "INVOCATION_ID").empty()) return {"/etc/genq/genq.toml", true};
    if (auto x = env_value(env, "XDG_CONFIG_HOME"); !x.empty() && x[0] == '/') {
        return {x + "/genq/genq.toml", true};
    }
    if (auto h = env_value(env, "HOME"); !h.empty()) return {h + "/.config/genq/genq.toml", true};
    return {"", true};  // nowhere to look: all defaults
}

ConfigLocation locate_config(const std::string& explicit_path, const Environment& env) {
    return locate_config(explicit_path, env, ::geteuid() == 0);
}

namespace {

// toml++ 3.3 reaches __builtin_unreachable (undefined behaviour) when it meets some non-ASCII
// characters outside strings and comments, e.g. "a = \u03D5" (found by tests/fuzz/fuzz_config).
// TOML allows non-ASCII only inside strings and comments, so such text is refused here, before
// the parser sees it. Returns the 1-based line of the first offending byte, or 0.
std::size_t non_ascii_outside_strings(std::string_view t) {
    std::size_t line = 1;
    for (std::size_t i = 0; i < t.size(); ++i) {
        const char c = t[i];
        if (c == '\n') {
            ++line;
        } else if (c == '#') {
            while (i + 1 < t.size() && t[i + 1] != '\n') ++i;
        } else if (c == '"' || c == '\'') {
            const bool multi = t.compare(i, 3, std::string(3, c)) == 0;
            const std::string_view close = multi ? std::string_view(c == '"' ? "\"\"\"" : "\'\'\'")
                                                 : std::string_view(c == '"' ? "\"" : "'");
            i += multi ? 3 : 1;
            for (; i < t.size(); ++i) {
                if (t[i] == '\n') {
                    if (!multi) break;  // an unterminated string: toml++ reports it
                    ++line;
                } else if (c == '"' && t[i] == '\\') {
                    if (i + 1 < t.size() && t[i + 1] == '\n') ++line;
                    ++i;  // the escaped character
                } else if (t.compare(i, close.size(), close) == 0) {
                    // """a"""" : up to two quotes may end a multi-line string's content
                    if (multi)
                        while (i + 3 < t.size() && t[i + 3] == c) ++i;
                    i += close.size() - 1;
                    break;
                }
            }
            if (i < t.size() && t[i] == '\n') ++line;
        } else if (static_cast<unsigned char>(c) >= 0x80) {
            return line;
        }
    }
    return 0;
}

}  // namespace

ConfigLoad parse_config(const std::string& toml_text, const std::string& file,
                        const Environment& env) {
    ConfigLoad out;
    out.config.file = file;
    Ctx ctx{file, base_dir_of(file), out.problems};
    if (std::size_t line = non_ascii_outside_strings(toml_text); line != 0) {
        out.problems.push_back({file + ":" + std::to_string(line), "",
                                "non-ASCII character outside a string or comment"});
        apply_environment(ctx, env, out.config);
        return out;
    }
    try {
        toml::table root = toml::parse(std::string_view(toml_text), std::string_view(file));
        parse_root(ctx, root, out.config);
    } catch (const toml::parse_error& e) {
        out.problems.push_back(syntax_problem(file, e));
    }
    apply_environment(ctx, env, out.config);
    return out;
}

ConfigLoad load_config(const ConfigLocation& where, const Environment& env) {
    if (where.path.empty()) return parse_config("", "", env);
    std::string text;
    int err = read_file(where.path, kMaxConfigBytes, text);
    if (err == 0) return parse_config(text, where.path, env);
    if (where.is_default && (err == ENOENT || err == ENOTDIR)) return parse_config("", "", env);
    // Defaults are still filled in so a caller can show what would have been used.
    ConfigLoad out = parse_config("", "", env);
    out.config.file = where.path;
    std::string why = err == EFBIG ? "larger than 1 MiB" : std::strerror(err);
    out.problems.insert(out.problems.begin(), ConfigProblem{where.path, "", "cannot read: " + why});
    return out;
}

Result<std::string> load_store_password(const StoreConfig& store) {
    if (store.password_file.empty()) return std::string();
    return secret_from_file("store.password_file: ", store.password_file,
                            "file " + store.password_file);
}

Result<std::string> load_key_secret(const KeyConfig& key, const Environment& env) {
    const std::string who = "key " + quote(key.name) + ": ";
    switch (key.source) {
        case KeyConfig::Source::file:
            return secret_from_file(who, key.ref, "file " + key.ref);
        case KeyConfig::Source::env: {
            auto it = env.find(key.ref);
            if (it == env.end()) {
                return key_error(who + "environment variable " + key.ref + " is not set",
                                 "key_env_unset");
            }
            return checked_secret(who, "environment variable " + key.ref, it->second);
        }
        case KeyConfig::Source::credential: {
            std::string dir = env_value(env, "CREDENTIALS_DIRECTORY");
            if (dir.empty()) {
                return key_error(who + "credential " + key.ref +
                                 " needs $CREDENTIALS_DIRECTORY, which "
                                 "is not set (use LoadCredential= in the systemd unit)",
                                 "key_no_credentials");
            }
            return secret_from_file(who, dir + "/" + key.ref, "credential " + key.ref);
        }
    }
    return key_error(who + "unknown key source", "key_unreadable");
}

}  // namespace genq
