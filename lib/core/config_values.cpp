// The value readers of genq.toml: string helpers, TOML node helpers, typed readers that record
// a problem naming the key and what is allowed, and checks of values that do not need TOML.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <sstream>

#include <boost/url/parse.hpp>

#include "core/config_toml.hpp"

namespace genq::config_detail {

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

namespace {

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

}  // namespace

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

namespace {

// Cuts `s` longer than 80 characters to its first `keep` and `tail`, in place: GCC 12 misreads
// `substr(...) + tail` and moves of such temporaries as out-of-bounds copies (-Warray-bounds).
void clip(std::string& s, std::size_t keep, std::string_view tail) {
    if (s.size() <= 80) return;
    s.resize(keep);
    s += tail;
}

}  // namespace

// The offending value as written (scalars) or its type. Never used on values that may be secret.
std::string describe(const toml::node& n) {
    if (n.is_table() || n.is_array()) return type_name(n);
    std::string out;
    if (const auto* str = n.as_string()) {
        out = quote(str->get());
        clip(out, 76, "...\"");
        return out;
    }
    std::ostringstream os;
    n.visit([&os](auto&& v) { os << v; });
    out = os.str();
    clip(out, 77, "...");
    return out;
}

namespace {

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

}  // namespace

void check_known(const Ctx& ctx, const toml::table& t, std::string_view prefix, Names known,
                 Names skip) {
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

namespace {

std::optional<double> as_number(const toml::node& n) {
    if (const auto* i = n.as_integer()) return static_cast<double>(i->get());
    if (const auto* f = n.as_floating_point()) return f->get();
    return std::nullopt;
}

std::string rule_text(const NumberRule& r) {
    std::string s =
        "must be " + std::string(r.what) + (r.lo_open ? " > " : " >= ") + format_number(r.lo);
    if (std::isfinite(r.hi)) {
        s += " and <= " + format_number(r.hi);
        if (!r.hi_note.empty()) s += " (" + std::string(r.hi_note) + ")";
    }
    return s;
}

}  // namespace

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

}  // namespace genq::config_detail
