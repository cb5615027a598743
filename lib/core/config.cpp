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
#include "core/listen_address.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <string_view>

// toml++ 3.3 asserts on some malformed input instead of reporting it (e.g. "[\n": an assertion
// in parse_key, found by tests/fuzz/fuzz_config), which aborts builds without NDEBUG. The parser
// then reports a proper parse_error, as it does in release builds; so its asserts are off here
// as they are there (this is the only file that includes toml++).
#if !defined(NDEBUG) && !defined(TOML_ASSERT)
#define TOML_ASSERT(expr) static_assert(true)
#endif
#include <toml++/toml.h>
#include <boost/url/parse.hpp>

extern char** environ;

namespace genq {
namespace {

namespace fs = std::filesystem;
using Names = std::initializer_list<std::string_view>;

constexpr double kDay = 86400;
constexpr double kWeek = 7 * kDay;
constexpr std::size_t kMaxConfigBytes = 1 << 20;
constexpr std::size_t kMaxSecretBytes = 64 << 10;
// sizeof(sockaddr_un::sun_path) is 108 on Linux, one byte of which is the terminating NUL.
constexpr std::size_t kMaxSocketPath = 107;

const Names kTopKeys = {"state_dir", "output_dir", "socket", "socket_mode", "socket_group",
                        "log_level", "log_format", "api",    "keys",        "limits",
                        "retry",     "watch",      "budget", "http",        "stop_grace",
                        "store",     "retention"};
const Names kApiKeys = {"base_url", "ca_file", "timeout", "client_id", "result_form"};
const Names kResultForms = {"bytes", "json"};
const Names kKeyKeys = {"name", "file", "env", "credential", "weight"};
// Fields people reach for when they paste the key itself; refused with a pointed message.
const Names kLiteralKeyFields = {"key", "secret", "api_key", "value"};
const Names kLimitsKeys = {"requests_per_window", "window",  "safety_margin",
                           "poll_interval",       "lockout", "max_in_flight"};
const Names kRetryKeys = {"max_attempts", "base_delay", "max_delay"};
const Names kWatchKeys = {"dir", "kind", "params"};
const Names kBudgetKeys = {"daily_credits"};
const Names kHttpKeys = {"listen", "token"};
const Names kStoreKeys = {"url", "password_file", "node", "lease"};
const Names kRetentionKeys = {"finished_jobs", "sweep_every", "batch"};
const Names kLogLevels = {"trace", "debug", "info", "warn", "error"};
const Names kLogFormats = {"text", "json"};
// Every kind of the operation table (lib/provider/operation.cpp); a watch of a prompt-only
// kind (ultra, core, sd3) also takes *.txt prompt lists.
const Names kWatchKinds = {"video",         "video-v2alpha",        "upscale",
                           "inpaint",       "upscale-creative",     "inpaint-v2beta",
                           "ultra",         "core",                 "sd3",
                           "upscale-conservative", "upscale-fast",  "erase",
                           "outpaint",      "search-and-replace",   "search-and-recolor",
                           "remove-background", "relight",          "sketch",
                           "structure",     "style"};

// ---------------------------------------------------------------------------------------------
// Small string helpers

bool contains(Names names, std::string_view s) {
    return std::find(names.begin(), names.end(), s) != names.end();
}

std::string join(Names names, std::string_view sep) {
    std::string out;
    for (std::string_view n : names) {
        if (!out.empty()) out += sep;
        out += n;
    }
    return out;
}

std::string quote(std::string_view s) {
    return nlohmann::json(std::string(s)).dump();
}

std::string dotted(std::string_view prefix, std::string_view name) {
    if (prefix.empty()) return std::string(name);
    return std::string(prefix) + "." + std::string(name);
}

std::string indexed(std::string_view name, std::size_t i) {
    return std::string(name) + "[" + std::to_string(i) + "]";
}

std::string format_number(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
}

std::string env_value(const Environment& env, const std::string& name) {
    auto it = env.find(name);
    return it == env.end() ? std::string() : it->second;
}

std::string first_of_path_list(const std::string& list) {
    return list.substr(0, list.find(':'));
}

bool all_chars(std::string_view s, bool (*ok)(char)) {
    return std::all_of(s.begin(), s.end(), ok);
}

bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

bool is_visible_ascii(char c) {
    return c > 0x20 && c < 0x7f;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
            diag = up;
        }
    }
    return row[b.size()];
}

// ---------------------------------------------------------------------------------------------
// Reading files (config and key files): errno is kept so messages can carry strerror.

int read_file(const std::string& path, std::size_t max_bytes, std::string& out) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    out.clear();
    char buf[8192];
    int err = 0;
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) err = errno;
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > max_bytes) {
            err = EFBIG;
            break;
        }
    }
    ::close(fd);
    return err;
}

// ---------------------------------------------------------------------------------------------
// Problem collection and TOML node helpers

// Where messages point and where relative paths start; shared by every section parser.
struct Ctx {
    std::string file;
    fs::path base_dir;
    std::vector<ConfigProblem>& problems;
    int line = 0;  // the line problems point at, when a parser knows it ([[keys]] tables)

    void add(std::string key, std::string reason) const {
        problems.push_back({file, std::move(key), std::move(reason), line});
    }
};

std::string type_name(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        default:
            return "a date/time";
    }
}

// The offending value as written (scalars) or its type. Never used on values that may be secret.
std::string describe(const toml::node& n) {
    if (n.is_table() || n.is_array()) return type_name(n);
    if (const auto* str = n.as_string()) {
        std::string q = quote(str->get());
        return q.size() > 80 ? q.substr(0, 76) + "...\"" : q;
    }
    std::ostringstream os;
    n.visit([&os](auto&& v) { os << v; });
    std::string s = os.str();
    return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

std::string unknown_key_reason(std::string_view key, Names known) {
    std::string reason = "unknown key " + quote(key) + "; known keys: " + join(known, ", ");
    std::string_view best;
    std::size_t best_distance = 3;  // farther than 2 edits is not a typo worth suggesting
    for (std::string_view k : known) {
        std::size_t d = edit_distance(key, k);
        if (d < best_distance) {
            best = k;
            best_distance = d;
        }
    }
    if (best.empty()) return reason;
    return reason + " (did you mean " + quote(best) + "?)";
}

void check_known(const Ctx& ctx, const toml::table& t, std::string_view prefix, Names known,
                 Names skip = {}) {
    for (auto&& [k, v] : t) {
        std::string_view name = k.str();
        if (contains(known, name) || contains(skip, name)) continue;
        ctx.add(dotted(prefix, name), unknown_key_reason(name, known));
    }
}

const toml::table* sub_table(const Ctx& ctx, const toml::table& root, std::string_view name) {
    const toml::node* n = root.get(name);
    if (!n) return nullptr;
    if (const toml::table* t = n->as_table()) return t;
    ctx.add(std::string(name),
            "must be a table ([" + std::string(name) + "]) (got " + type_name(*n) + ")");
    return nullptr;
}

// Calls `each(table, "name[i]")` for every element of an array of tables ([[name]]).
template <class Each>
void for_each_table(const Ctx& ctx, const toml::table& root, std::string_view name, Each each) {
    const toml::node* n = root.get(name);
    if (!n) return;
    const toml::array* arr = n->as_array();
    if (!arr) {
        ctx.add(std::string(name), "must be an array of tables ([[" + std::string(name) +
                                       "]]) (got " + type_name(*n) + ")");
        return;
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const toml::node& el = *arr->get(i);
        if (const toml::table* t = el.as_table()) {
            each(*t, indexed(name, i));
        } else {
            ctx.add(indexed(name, i), "must be a table (got " + type_name(el) + ")");
        }
    }
}

// The string at t[name]; nullopt when absent or not a string (then a problem is recorded).
// The message names only the type, so it is safe for secret-bearing fields.
std::optional<std::string> get_string(const Ctx& ctx, const toml::table& t, std::string_view prefix,
                                      std::string_view name) {
    const toml::node* n = t.get(name);
    if (!n) return std::nullopt;
    if (const auto* s = n->as_string()) return s->get();
    ctx.add(dotted(prefix, name), "must be a string (got " + type_name(*n) + ")");
    return std::nullopt;
}

void read_string(const Ctx& ctx, const toml::table& t, std::string_view prefix,
                 std::string_view name, std::string& out) {
    if (auto s = get_string(ctx, t, prefix, name)) out = *s;
}

void read_choice(const Ctx& ctx, const toml::table& t, std::string_view prefix,
                 std::string_view name, Names allowed, std::string& out) {
    auto s = get_string(ctx, t, prefix, name);
    if (!s) return;
    if (contains(allowed, *s)) {
        out = *s;
        return;
    }
    ctx.add(dotted(prefix, name),
            "must be one of " + join(allowed, "|") + " (got " + quote(*s) + ")");
}

std::optional<double> as_number(const toml::node& n) {
    if (const auto* i = n.as_integer()) return static_cast<double>(i->get());
    if (const auto* f = n.as_floating_point()) return f->get();
    return std::nullopt;
}

// An accepted numeric range: lo < v (lo_open) or lo <= v, and v <= hi.
struct NumberRule {
    std::string_view what;  // "a number of seconds"
    double lo;
    bool lo_open;
    double hi;
    std::string_view hi_note;  // e.g. "1 day"
};

constexpr NumberRule kSeconds{"a number of seconds", 0, true, kDay, "1 day"};
constexpr NumberRule kSecondsOrZero{"a number of seconds", 0, false, kDay, "1 day"};

std::string rule_text(const NumberRule& r) {
    std::string s =
        "must be " + std::string(r.what) + (r.lo_open ? " > " : " >= ") + format_number(r.lo);
    if (std::isfinite(r.hi)) {
        s += " and <= " + format_number(r.hi);
        if (!r.hi_note.empty()) s += " (" + std::string(r.hi_note) + ")";
    }
    return s;
}

void read_number(const Ctx& ctx, const toml::table& t, std::string_view prefix,
                 std::string_view name, const NumberRule& rule, double& out) {
    const toml::node* n = t.get(name);
    if (!n) return;
    std::optional<double> v = as_number(*n);
    bool above = v && (rule.lo_open ? *v > rule.lo : *v >= rule.lo);
    if (v && std::isfinite(*v) && above && *v <= rule.hi) {
        out = *v;
        return;
    }
    ctx.add(dotted(prefix, name), rule_text(rule) + " (got " + describe(*n) + ")");
}

void read_int(const Ctx& ctx, const toml::table& t, std::string_view prefix, std::string_view name,
              int lo, int hi, int& out) {
    const toml::node* n = t.get(name);
    if (!n) return;
    const auto* i = n->as_integer();
    if (i && i->get() >= lo && i->get() <= hi) {
        out = static_cast<int>(i->get());
        return;
    }
    ctx.add(dotted(prefix, name), "must be an integer from " + std::to_string(lo) + " to " +
                                      std::to_string(hi) + " (got " + describe(*n) + ")");
}

// The directory relative paths start from: the config file's, or the working directory's when
// the text has no file (tests, built-in defaults).
fs::path base_dir_of(const std::string& file) {
    std::error_code ec;
    if (file.empty()) return fs::current_path(ec);
    fs::path abs = fs::absolute(fs::path(file), ec);
    return ec ? fs::path(file).parent_path() : abs.parent_path();
}

// A path value, resolved against the config file's directory when relative. "" stays "" (the
// caller decides whether that means "default" or is a problem); nullopt means absent or invalid.
std::optional<std::string> read_path(const Ctx& ctx, const toml::table& t, std::string_view prefix,
                                     std::string_view name) {
    auto s = get_string(ctx, t, prefix, name);
    if (!s || s->empty()) return s;
    if (s->find('\0') != std::string::npos) {
        ctx.add(dotted(prefix, name), "must not contain a NUL character");
        return std::nullopt;
    }
    if ((*s)[0] == '~') {
        ctx.add(dotted(prefix, name),
                "\"~\" is not expanded; write the full path (got " + quote(*s) + ")");
        return std::nullopt;
    }
    fs::path p(*s);
    if (p.is_absolute()) return *s;
    return (ctx.base_dir / p).lexically_normal().string();
}

// ---------------------------------------------------------------------------------------------
// Value checks that do not depend on TOML

// Digits only, e.g. "0660" or "660"; nullopt if not octal.
std::optional<unsigned> parse_octal(std::string_view s) {
    if (s.empty() || s.size() > 4) return std::nullopt;
    unsigned v = 0;
    for (char c : s) {
        if (c < '0' || c > '7') return std::nullopt;
        v = v * 8 + static_cast<unsigned>(c - '0');
    }
    return v;
}

// Decimal 1..65535, nothing else.
bool is_port(std::string_view s) {
    if (s.empty() || s.size() > 5) return false;
    if (!all_chars(s, [](char c) { return c >= '0' && c <= '9'; })) return false;
    int v = std::stoi(std::string(s));
    return v >= 1 && v <= 65535;
}

// "" if `url` is an acceptable API base URL, else why not.
std::string base_url_problem(const std::string& url) {
    auto r = boost::urls::parse_absolute_uri(url);
    if (!r) return "is not a valid URL";
    const boost::urls::url_view& u = *r;
    if (u.scheme_id() == boost::urls::scheme::http) {
        return "must use https:// (http:// is refused: TLS cannot be switched off)";
    }
    if (u.scheme_id() != boost::urls::scheme::https) return "must use https://";
    if (!u.has_authority() || u.encoded_host().empty()) return "must name a host";
    if (u.has_userinfo()) return "must not contain user:password@ (keys go in [[keys]])";
    if (u.has_port() && !is_port(u.port())) {
        return "has an invalid port (1..65535)";
    }
    if (u.has_query() || u.has_fragment()) return "must not have a ?query or #fragment";
    return "";
}

std::string base_url_rule(const std::string& url, const std::string& why) {
    return why +
           "; expected https://host[:port][/prefix], e.g. \"https://api.stability.ai\" (got " +
           quote(url) + ")";
}

std::string strip_trailing_slashes(std::string url) {
    while (url.size() > 1 && url.back() == '/') url.pop_back();
    return url;
}

bool is_env_name(std::string_view s) {
    if (s.empty() || s.size() > 255 || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    return all_chars(
        s, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// systemd credential names are file names under $CREDENTIALS_DIRECTORY.
bool is_credential_name(std::string_view s) {
    if (s.empty() || s.size() > 255 || s == "." || s == "..") return false;
    return all_chars(s, [](char c) { return is_name_char(c) || c == ':' || c == '@'; });
}

bool is_key_name(std::string_view s) {
    return !s.empty() && s.size() <= 64 && all_chars(s, is_name_char);
}

// ---------------------------------------------------------------------------------------------
// Sections

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

// A [[watch]] params table as JSON; only scalars, since they become job parameters.
nlohmann::json params_to_json(const Ctx& ctx, const toml::table& t, const std::string& prefix) {
    nlohmann::json out = nlohmann::json::object();
    for (auto&& [k, v] : t) {
        std::string name(k.str());
        if (const auto* i = v.as_integer()) {
            out[name] = i->get();
        } else if (const auto* s = v.as_string()) {
            out[name] = s->get();
        } else if (const auto* b = v.as_boolean()) {
            out[name] = b->get();
        } else if (const auto* f = v.as_floating_point(); f && std::isfinite(f->get())) {
            out[name] = f->get();
        } else {
            ctx.add(dotted(prefix, name),
                    "must be a finite number, a string or a boolean (got " + describe(v) + ")");
        }
    }
    return out;
}

WatchConfig parse_watch(const Ctx& ctx, const toml::table& t, const std::string& prefix) {
    check_known(ctx, t, prefix, kWatchKeys);
    WatchConfig w;
    auto dir = read_path(ctx, t, prefix, "dir");
    if (!dir && !t.contains("dir")) {
        ctx.add(prefix + ".dir", "required: the directory to watch");
    } else if (dir && dir->empty()) {
        ctx.add(prefix + ".dir", "must not be empty");
    } else if (dir) {
        w.dir = *dir;
    }
    read_choice(ctx, t, prefix, "kind", kWatchKinds, w.kind);
    if (const toml::node* p = t.get("params")) {
        if (const toml::table* pt = p->as_table()) {
            w.params = params_to_json(ctx, *pt, prefix + ".params");
        } else {
            ctx.add(prefix + ".params",
                    "must be a table, e.g. { cfg_scale = 1.8 } (got " + type_name(*p) + ")");
        }
    }
    return w;
}

// "/in", "/in/" and "/x/../in" name one directory.
std::string comparable_dir(const std::string& dir) {
    std::string s = fs::path(dir).lexically_normal().string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
}

void parse_watches(const Ctx& ctx, const toml::table& root, std::vector<WatchConfig>& watches) {
    std::map<std::string, std::string> seen;  // dir -> where first defined
    for_each_table(ctx, root, "watch", [&](const toml::table& t, const std::string& prefix) {
        WatchConfig w = parse_watch(ctx, t, prefix);
        if (!w.dir.empty()) {
            // Two watches on one directory would race for every file dropped there.
            auto [it, fresh] = seen.emplace(comparable_dir(w.dir), prefix);
            if (!fresh) ctx.add(prefix + ".dir", "same directory as " + it->second + ".dir");
        }
        watches.push_back(std::move(w));
    });
}

void parse_budget(const Ctx& ctx, const toml::table& root, double& daily_credits) {
    const toml::table* t = sub_table(ctx, root, "budget");
    if (!t) return;
    check_known(ctx, *t, "budget", kBudgetKeys);
    read_number(ctx, *t, "budget", "daily_credits", {"a number of credits", 0, false, 1e12, ""},
                daily_credits);
}

void parse_http(const Ctx& ctx, const toml::table& root, HttpConfig& h) {
    const toml::table* t = sub_table(ctx, root, "http");
    if (!t) return;
    check_known(ctx, *t, "http", kHttpKeys);
    std::optional<ListenAddress> addr;
    if (auto listen = get_string(ctx, *t, "http", "listen"); listen && !listen->empty()) {
        // The parser the server binds with: what passes here is what genqd can listen on.
        auto parsed = parse_listen_address(*listen);
        if (parsed) {
            addr = *parsed;
            h.listen = *listen;
        } else {
            ctx.add("http.listen", parsed.error().message + ", e.g. \"127.0.0.1:8080\" (got " +
                                       quote(*listen) + ")");
        }
    }
    if (auto token = get_string(ctx, *t, "http", "token")) {
        // Compared with an Authorization header: spaces or control characters could never match.
        if (all_chars(*token, is_visible_ascii)) {
            h.token = *token;
        } else {
            ctx.add("http.token", "must be visible ASCII without spaces (value not shown)");
        }
    }
    if (addr && !addr->is_loopback() && h.token.empty()) {
        ctx.add("http.token", "required when http.listen is not a loopback address");
    }
}

void parse_store(const Ctx& ctx, const toml::table& root, StoreConfig& st) {
    const toml::table* t = sub_table(ctx, root, "store");
    if (!t) return;
    check_known(ctx, *t, "store", kStoreKeys);
    if (auto url = get_string(ctx, *t, "store", "url")) {
        if (auto problem = store_url_problem(*url))
            ctx.add("store.url", *problem);
        else
            st.url = *url;
    }
    if (auto p = read_path(ctx, *t, "store", "password_file")) st.password_file = *p;
    if (auto node = get_string(ctx, *t, "store", "node")) {
        if (node->size() <= 64 && all_chars(*node, is_name_char))
            st.node = *node;
        else
            ctx.add("store.node", "must be 1-64 letters, digits, '_', '.' or '-' (got " +
                                      quote(*node) + ")");
    }
    read_number(ctx, *t, "store", "lease", {"a number of seconds", 1, false, kDay, "1 day"},
                st.lease);
}

// A duration of the [retention] table: a string such as "30d" (core/retention_config's parser,
// the one genqctl purge --older-than uses) or a bare integer counted in `integer_unit` seconds.
void read_duration(const Ctx& ctx, const toml::table& t, std::string_view name,
                   double integer_unit, std::string_view integer_word, double lo, double hi,
                   double& out) {
    const toml::node* n = t.get(name);
    if (!n) return;
    std::string key = dotted("retention", name);
    std::string allowed = "must be a duration like \"30d\", \"12h\", \"10m\" or \"90s\", or an "
                          "integer number of " + std::string(integer_word);
    std::optional<double> v;
    if (const auto* i = n->as_integer()) {
        v = static_cast<double>(i->get()) * integer_unit;
    } else if (const auto* s = n->as_string()) {
        auto d = parse_duration(s->get());
        if (!d) {
            ctx.add(key, allowed + " (got " + describe(*n) + ")");
            return;
        }
        v = *d;
    } else {
        ctx.add(key, allowed + " (got " + type_name(*n) + ")");
        return;
    }
    bool zero_ok = lo == 0;
    if ((zero_ok && *v == 0) || (*v >= std::max(lo, 1.0) && *v <= hi)) {
        out = *v;
        return;
    }
    ctx.add(key, "must be " + std::string(zero_ok ? "0 (keep forever) or " : "") + "from " +
                     format_duration(std::max(lo, 1.0)) + " to " + format_duration(hi) +
                     " (got " + describe(*n) + ")");
}

void parse_retention(const Ctx& ctx, const toml::table& root, RetentionConfig& r) {
    const toml::table* t = sub_table(ctx, root, "retention");
    if (!t) return;
    check_known(ctx, *t, "retention", kRetentionKeys);
    read_duration(ctx, *t, "finished_jobs", kDay, "days", 0, 100 * 365 * kDay, r.finished_jobs);
    read_duration(ctx, *t, "sweep_every", 1, "seconds", 1, kDay, r.sweep_every);
    read_int(ctx, *t, "retention", "batch", 1, 100000, r.batch);
}

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
