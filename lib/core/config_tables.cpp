// genq.toml's top-level scalars and its [api], [[keys]], [limits] and [retry] tables.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/config_toml.hpp"
#include "core/listen_address.hpp"

namespace genq::config_detail {

// ---------------------------------------------------------------------------------------------
// Sections

namespace {

void parse_socket_mode(const Ctx& ctx, const toml::table& root, unsigned& out) {
    const toml::node* n = root.get("socket_mode");
    if (!n) return;
    std::optional<unsigned> v;
    if (const auto* s = n->as_string()) v = parse_octal(s->get());
    // A decimal 660 would silently mean 0o1224; only an octal literal (0o660) is unambiguous.
    const auto* i = n->as_integer();
    if (i && (i->flags() & toml::value_flags::format_as_octal) != toml::value_flags::none &&
        i->get() >= 0 && i->get() <= 0777) {
        v = static_cast<unsigned>(i->get());
    }
    if (v && *v <= 0777) {
        out = *v;
        return;
    }
    ctx.add("socket_mode",
            "must be an octal mode from \"0000\" to \"0777\", as a string like "
            "\"0660\" or an octal literal like 0o660 (got " +
                describe(*n) + ")");
}

}  // namespace

void parse_top_scalars(const Ctx& ctx, const toml::table& root, Config& c) {
    if (auto p = read_path(ctx, root, "", "state_dir")) c.state_dir = *p;
    if (auto p = read_path(ctx, root, "", "output_dir")) c.output_dir = *p;
    if (auto p = read_path(ctx, root, "", "socket")) c.socket = *p;
    parse_socket_mode(ctx, root, c.socket_mode);
    read_string(ctx, root, "", "socket_group", c.socket_group);
    read_choice(ctx, root, "", "log_level", kLogLevels, c.log_level);
    read_choice(ctx, root, "", "log_format", kLogFormats, c.log_format);
    // Below systemd's TimeoutStopSec (10 s in genqd.service), so the daemon ends on its own.
    read_number(ctx, root, "", "stop_grace", {"a number of seconds", 0, false, 300, ""},
                c.stop_grace);
}

void parse_api(const Ctx& ctx, const toml::table& root, ApiConfig& api) {
    const toml::table* t = sub_table(ctx, root, "api");
    if (!t) return;
    check_known(ctx, *t, "api", kApiKeys);
    if (auto url = get_string(ctx, *t, "api", "base_url")) {
        std::string why = base_url_problem(*url);
        if (why.empty()) {
            api.base_url = strip_trailing_slashes(*url);
        } else {
            ctx.add("api.base_url", base_url_rule(*url, why));
        }
    }
    if (auto p = read_path(ctx, *t, "api", "ca_file")) api.ca_file = *p;
    read_number(ctx, *t, "api", "timeout", kSeconds, api.timeout);
    read_choice(ctx, *t, "api", "result_form", kResultForms, api.result_form);
    if (auto id = get_string(ctx, *t, "api", "client_id")) {
        // Sent as an HTTP header value: no control characters, no CR/LF injection.
        if (!id->empty() && id->size() <= 128 && all_chars(*id, is_visible_ascii)) {
            api.client_id = *id;
        } else {
            ctx.add("api.client_id",
                    "must be 1 to 128 visible ASCII characters without spaces (got " + quote(*id) +
                        ")");
        }
    }
}

namespace {

void parse_key_source(const Ctx& ctx, const toml::table& t, const std::string& prefix,
                      KeyConfig& key) {
    int given = t.contains("file") + t.contains("env") + t.contains("credential");
    if (given != 1) {
        ctx.add(prefix, "needs exactly one of file, env or credential (" +
                            std::string(given == 0 ? "none" : "several") +
                            " given); to fix: keep one, e.g. credential = \"main\" under "
                            "systemd (LoadCredential=main:/etc/genq/keys/main) or file = "
                            "\"/path/to/key\" (see genq.toml(5))");
    }
    for (std::string_view field : {"file", "env", "credential"})
        if (const toml::node* n = t.get(field)) {
            key.origin = (ctx.file.empty() ? std::string("config") : ctx.file) + ":" +
                         std::to_string(n->source().begin.line) + ": " + prefix + "." +
                         std::string(field);
        }
    // Values below are never echoed: a pasted secret in the wrong field must not reach a log.
    if (auto p = read_path(ctx, t, prefix, "file")) {
        if (p->empty()) ctx.add(prefix + ".file", "must not be empty");
        key.source = KeyConfig::Source::file;
        key.ref = *p;
    }
    if (auto e = get_string(ctx, t, prefix, "env")) {
        if (!is_env_name(*e)) {
            ctx.add(
                prefix + ".env",
                "must be an environment variable name like STABILITY_API_KEY (value not shown)");
        }
        key.source = KeyConfig::Source::env;
        key.ref = *e;
    }
    if (auto c = get_string(ctx, t, prefix, "credential")) {
        if (!is_credential_name(*c)) {
            ctx.add(prefix + ".credential",
                    "must be a systemd credential name ([A-Za-z0-9_.:@-], no /) (value not shown)");
        }
        key.source = KeyConfig::Source::credential;
        key.ref = *c;
    }
}

KeyConfig parse_key(const Ctx& ctx, const toml::table& t, const std::string& prefix) {
    for (std::string_view f : kLiteralKeyFields) {
        if (t.contains(f)) {
            ctx.add(dotted(prefix, f),
                    "an API key is never written in the config file; use file = \"/path\", "
                    "env = \"VARIABLE\" or credential = \"NAME\" (value not shown)");
        }
    }
    check_known(ctx, t, prefix, kKeyKeys, kLiteralKeyFields);
    KeyConfig key;
    auto name = get_string(ctx, t, prefix, "name");
    if (!name && !t.contains("name")) {
        ctx.add(prefix + ".name", "required: a name of 1 to 64 characters from [A-Za-z0-9_.-]");
    } else if (name && !is_key_name(*name)) {
        ctx.add(prefix + ".name",
                "must be 1 to 64 characters from [A-Za-z0-9_.-] (got " + quote(*name) + ")");
    } else if (name) {
        key.name = *name;
    }
    parse_key_source(ctx, t, prefix, key);
    read_number(ctx, t, prefix, "weight", {"a number", 0, true, 1000, ""}, key.weight);
    return key;
}

}  // namespace

void parse_keys(const Ctx& ctx, const toml::table& root, std::vector<KeyConfig>& keys) {
    std::map<std::string, std::string> seen;  // name -> where first defined
    for_each_table(ctx, root, "keys", [&](const toml::table& t, const std::string& prefix) {
        Ctx at = ctx;  // a key's problems name the line of its table
        at.line = static_cast<int>(t.source().begin.line);
        KeyConfig key = parse_key(at, t, prefix);
        if (!key.name.empty()) {
            auto [it, fresh] = seen.emplace(key.name, prefix + ".name");
            if (!fresh) {
                at.add(prefix + ".name",
                       "duplicate key name " + quote(key.name) + " (also " + it->second + ")");
            }
        }
        keys.push_back(std::move(key));
    });
}

void parse_limits(const Ctx& ctx, const toml::table& root, LimitsConfig& l) {
    const toml::table* t = sub_table(ctx, root, "limits");
    if (!t) return;
    check_known(ctx, *t, "limits", kLimitsKeys);
    read_int(ctx, *t, "limits", "requests_per_window", 1, 100000, l.requests_per_window);
    read_number(ctx, *t, "limits", "window", kSeconds, l.window);
    read_number(ctx, *t, "limits", "safety_margin", kSecondsOrZero, l.safety_margin);
    read_number(ctx, *t, "limits", "poll_interval", kSeconds, l.poll_interval);
    read_number(ctx, *t, "limits", "lockout", kSecondsOrZero, l.lockout);
    read_int(ctx, *t, "limits", "max_in_flight", 0, 100000, l.max_in_flight);
}

void parse_retry(const Ctx& ctx, const toml::table& root, RetryConfig& r) {
    const toml::table* t = sub_table(ctx, root, "retry");
    if (!t) return;
    check_known(ctx, *t, "retry", kRetryKeys);
    read_int(ctx, *t, "retry", "max_attempts", 1, 1000, r.max_attempts);
    read_number(ctx, *t, "retry", "base_delay", kSecondsOrZero, r.base_delay);
    read_number(ctx, *t, "retry", "max_delay", {"a number of seconds", 0, false, kWeek, "1 week"},
                r.max_delay);
    if (r.max_delay < r.base_delay) {
        ctx.add("retry.max_delay", "must be >= retry.base_delay (" + format_number(r.base_delay) +
                                       ") (got " + format_number(r.max_delay) + ")");
    }
}

}  // namespace genq::config_detail
