// Core-private: what the files reading genq.toml share (config.cpp and config_*.cpp): toml++
// (included only here and in those files), the problem context, the key lists and the value
// readers. Callers use core/config.hpp.
#pragma once
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <filesystem>

// toml++ 3.3 asserts on some malformed input instead of reporting it (e.g. "[\n": an assertion
// in parse_key, found by tests/fuzz/fuzz_config), which aborts builds without NDEBUG. The parser
// then reports a proper parse_error, as it does in release builds; so its asserts are off here
// as they are there (only the config files include toml++, through this header).
#if !defined(NDEBUG) && !defined(TOML_ASSERT)
#define TOML_ASSERT(expr) static_assert(true)
#endif
#include <toml++/toml.h>

#include "core/config.hpp"

namespace genq::config_detail {

namespace fs = std::filesystem;
using Names = std::initializer_list<std::string_view>;

inline constexpr double kDay = 86400;
inline constexpr double kWeek = 7 * kDay;
inline constexpr std::size_t kMaxConfigBytes = 1 << 20;
inline constexpr std::size_t kMaxSecretBytes = 64 << 10;
// sizeof(sockaddr_un::sun_path) is 108 on Linux, one byte of which is the terminating NUL.
inline constexpr std::size_t kMaxSocketPath = 107;

inline const Names kTopKeys = {"state_dir", "output_dir", "socket", "socket_mode", "socket_group",
                        "log_level", "log_format", "api",    "keys",        "limits",
                        "retry",     "watch",      "budget", "http",        "stop_grace",
                        "store",     "retention"};
inline const Names kApiKeys = {"base_url", "ca_file", "timeout", "client_id", "result_form"};
inline const Names kResultForms = {"bytes", "json"};
inline const Names kKeyKeys = {"name", "file", "env", "credential", "weight"};
// Fields people reach for when they paste the key itself; refused with a pointed message.
inline const Names kLiteralKeyFields = {"key", "secret", "api_key", "value"};
inline const Names kLimitsKeys = {"requests_per_window", "window",  "safety_margin",
                           "poll_interval",       "lockout", "max_in_flight"};
inline const Names kRetryKeys = {"max_attempts", "base_delay", "max_delay"};
inline const Names kWatchKeys = {"dir", "kind", "params"};
inline const Names kBudgetKeys = {"daily_credits"};
inline const Names kHttpKeys = {"listen", "token"};
inline const Names kStoreKeys = {"url", "password_file", "node", "lease"};
inline const Names kRetentionKeys = {"finished_jobs", "sweep_every", "batch"};
inline const Names kLogLevels = {"trace", "debug", "info", "warn", "error"};
inline const Names kLogFormats = {"text", "json"};
// Every kind of the operation table (lib/provider/operation.cpp); a watch of a prompt-only
// kind (ultra, core, sd3) also takes *.txt prompt lists.
inline const Names kWatchKinds = {"video",         "video-v2alpha",        "upscale",
                           "inpaint",       "upscale-creative",     "inpaint-v2beta",
                           "ultra",         "core",                 "sd3",
                           "upscale-conservative", "upscale-fast",  "erase",
                           "outpaint",      "search-and-replace",   "search-and-recolor",
                           "remove-background", "relight",          "sketch",
                           "structure",     "style"};

// ---------------------------------------------------------------------------------------------
// Problem collection

struct Ctx {
    std::string file;
    fs::path base_dir;
    std::vector<ConfigProblem>& problems;
    int line = 0;  // the line problems point at, when a parser knows it ([[keys]] tables)

    void add(std::string key, std::string reason) const {
        problems.push_back({file, std::move(key), std::move(reason), line});
    }
};

// ---------------------------------------------------------------------------------------------
// Small string helpers (config_values.cpp)

bool contains(Names names, std::string_view s);
std::string join(Names names, std::string_view sep);
std::string quote(std::string_view s);
std::string dotted(std::string_view prefix, std::string_view name);
std::string indexed(std::string_view name, std::size_t i);
std::string format_number(double v);
std::string env_value(const Environment& env, const std::string& name);
std::string first_of_path_list(const std::string& list);
bool all_chars(std::string_view s, bool (*ok)(char));
bool is_name_char(char c);
bool is_visible_ascii(char c);
// Reads at most `max_bytes` of `path` into `out`; 0 or the errno (EFBIG when larger).
int read_file(const std::string& path, std::size_t max_bytes, std::string& out);

// ---------------------------------------------------------------------------------------------
// TOML node helpers and value readers (config_values.cpp)

std::string type_name(const toml::node& n);
std::string describe(const toml::node& n);
void check_known(const Ctx& ctx, const toml::table& t, std::string_view prefix, Names known,
                 Names skip = {});
const toml::table* sub_table(const Ctx& ctx, const toml::table& root, std::string_view name);
std::optional<std::string> get_string(const Ctx& ctx, const toml::table& t, std::string_view prefix,
                                      std::string_view name);
void read_string(const Ctx& ctx, const toml::table& t, std::string_view prefix,
                 std::string_view name, std::string& out);
void read_choice(const Ctx& ctx, const toml::table& t, std::string_view prefix,
                 std::string_view name, Names allowed, std::string& out);

// An accepted numeric range: lo < v (lo_open) or lo <= v, and v <= hi.
struct NumberRule {
    std::string_view what;  // "a number of seconds"
    double lo;
    bool lo_open;
    double hi;
    std::string_view hi_note;  // e.g. "1 day"
};

inline constexpr NumberRule kSeconds{"a number of seconds", 0, true, kDay, "1 day"};
inline constexpr NumberRule kSecondsOrZero{"a number of seconds", 0, false, kDay, "1 day"};

void read_number(const Ctx& ctx, const toml::table& t, std::string_view prefix,
                 std::string_view name, const NumberRule& rule, double& out);
void read_int(const Ctx& ctx, const toml::table& t, std::string_view prefix, std::string_view name,
              int lo, int hi, int& out);
fs::path base_dir_of(const std::string& file);
std::optional<std::string> read_path(const Ctx& ctx, const toml::table& t, std::string_view prefix,
                                     std::string_view name);

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

// ---------------------------------------------------------------------------------------------
// Value checks that do not depend on TOML (config_values.cpp)

std::optional<unsigned> parse_octal(std::string_view s);
bool is_port(std::string_view s);
std::string base_url_problem(const std::string& url);
std::string base_url_rule(const std::string& url, const std::string& why);
std::string strip_trailing_slashes(std::string url);
bool is_env_name(std::string_view s);
bool is_credential_name(std::string_view s);
bool is_key_name(std::string_view s);

// ---------------------------------------------------------------------------------------------
// The tables: top-level scalars, [api], [[keys]], [limits], [retry] (config_tables.cpp);
// [[watch]], [budget], [http], [store], [retention] (config_services.cpp).

void parse_top_scalars(const Ctx& ctx, const toml::table& root, Config& c);
void parse_api(const Ctx& ctx, const toml::table& root, ApiConfig& api);
void parse_keys(const Ctx& ctx, const toml::table& root, std::vector<KeyConfig>& keys);
void parse_limits(const Ctx& ctx, const toml::table& root, LimitsConfig& l);
void parse_retry(const Ctx& ctx, const toml::table& root, RetryConfig& r);
void parse_watches(const Ctx& ctx, const toml::table& root, std::vector<WatchConfig>& watches);
void parse_budget(const Ctx& ctx, const toml::table& root, double& daily_credits);
void parse_http(const Ctx& ctx, const toml::table& root, HttpConfig& h);
void parse_store(const Ctx& ctx, const toml::table& root, StoreConfig& st);
void parse_retention(const Ctx& ctx, const toml::table& root, RetentionConfig& r);

}  // namespace genq::config_detail
