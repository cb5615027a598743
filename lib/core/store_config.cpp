#include "core/store_config.hpp"

#include <unistd.h>

#include <cctype>

namespace genq {
namespace {

bool starts_with_ci(std::string_view s, std::string_view p) {
    if (s.size() < p.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(s[i])) != p[i]) return false;
    return true;
}

// "postgresql://user:secret@host/db" or "...?password=secret".
bool uri_has_password(std::string_view url) {
    auto rest = url.substr(url.find("://") + 3);
    auto at = rest.find('@');
    auto slash = rest.find('/');
    if (at != std::string_view::npos && (slash == std::string_view::npos || at < slash) &&
        rest.substr(0, at).find(':') != std::string_view::npos)
        return true;
    auto q = url.find('?');
    if (q == std::string_view::npos) return false;
    std::string_view query = url.substr(q + 1);
    for (std::size_t pos = 0; pos <= query.size();) {
        auto amp = query.find('&', pos);
        auto item = query.substr(pos, amp == std::string_view::npos ? query.npos : amp - pos);
        if (starts_with_ci(item, "password=")) return true;
        if (amp == std::string_view::npos) break;
        pos = amp + 1;
    }
    return false;
}

// "host=db1 password=secret": a keyword at the start or after whitespace.
bool keywords_have_password(std::string_view s) {
    for (std::size_t pos = s.find("password"); pos != std::string_view::npos;
         pos = s.find("password", pos + 1)) {
        bool at_word = pos == 0 || std::isspace(static_cast<unsigned char>(s[pos - 1]));
        std::size_t after = pos + 8;
        while (after < s.size() && std::isspace(static_cast<unsigned char>(s[after]))) ++after;
        if (at_word && after < s.size() && s[after] == '=') return true;
    }
    return false;
}

}  // namespace

std::optional<std::string> store_url_problem(std::string_view url) {
    if (url.empty()) return std::nullopt;
    for (char c : url)
        if (static_cast<unsigned char>(c) < 0x20)
            return "must not contain control characters (value not shown)";
    bool uri = starts_with_ci(url, "postgresql://") || starts_with_ci(url, "postgres://");
    if (!uri && url.find('=') == std::string_view::npos)
        return "must be a PostgreSQL URI \"postgresql://user@host:port/dbname\" or a libpq "
               "key=value string \"host=... dbname=...\" (value not shown)";
    if (uri ? uri_has_password(url) : keywords_have_password(url))
        return "must not contain a password; use store.password_file, PGPASSFILE or ~/.pgpass "
               "(value not shown)";
    return std::nullopt;
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "";
    return buf;
}

}  // namespace genq
