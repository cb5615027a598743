// genq.toml's [[watch]], [budget], [http], [store] and [retention] tables.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/config_toml.hpp"
#include "core/listen_address.hpp"

namespace genq::config_detail {

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

void parse_retention(const Ctx& ctx, const toml::table& root, RetentionConfig& r) {
    const toml::table* t = sub_table(ctx, root, "retention");
    if (!t) return;
    check_known(ctx, *t, "retention", kRetentionKeys);
    read_duration(ctx, *t, "finished_jobs", kDay, "days", 0, 100 * 365 * kDay, r.finished_jobs);
    read_duration(ctx, *t, "sweep_every", 1, "seconds", 1, kDay, r.sweep_every);
    read_int(ctx, *t, "retention", "batch", 1, 100000, r.batch);
}

}  // namespace genq::config_detail
