// The [store] table (SPEC §2, §11): where the queue lives. Empty url = the embedded SQLite store.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace genq {

struct StoreConfig {
    std::string url;            // "" = SQLite at <state_dir>/genq.db; else a libpq URI/key=value
    std::string password_file;  // "" = libpq's own (PGPASSFILE, ~/.pgpass)
    std::string node;           // this node's name in a shared store (default: the host name)
    double lease = 30;          // seconds without a heartbeat after which a node is dead
    bool shared() const { return !url.empty(); }
};

// Why `url` cannot be used (nullopt = fine): not a postgresql:// URI or key=value string, or it
// carries a password (config files are readable by more than genq). Never quotes the value.
std::optional<std::string> store_url_problem(std::string_view url);

// The host name, as the default node name ("" if it cannot be read).
std::string host_name();

}  // namespace genq
