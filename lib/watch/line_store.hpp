// The watch_lines table: every line of a watched *.txt file turned into a job (or refused),
// keyed by (dir, file name, line key), so one line makes one job, also across restarts. Writes
// go inside the caller's transaction.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace genq::store {
class Database;
}

namespace genq::watch {

struct LineRecord {
    std::string dir, name, line_key;
    std::string job_name;  // the job's input name ("prompts-3")
    std::string job_id;    // "" = claimed (job not known to be committed yet) or refused
    std::string error;     // "" unless the intake refused the line
    std::int64_t at = 0;
};

class LineStore {
public:
    explicit LineStore(store::Database& db) : db_(db) {}

    bool known(const std::string& dir, const std::string& name, const std::string& line_key);
    void put(const LineRecord& r);  // insert or replace
    void erase(const LineRecord& r);
    // Claims left by a crash in `dir` (job_id NULL, not refused).
    std::vector<LineRecord> claims(const std::string& dir);
    // The job a claim produced, if its commit happened: a watch job without an image, of the
    // claim's name, created after the claim, owned by no line.
    std::optional<std::string> orphan_job(const LineRecord& claim);

private:
    store::Database& db_;
};

}  // namespace genq::watch
