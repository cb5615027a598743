#include "watch/line_store.hpp"

#include "store/database.hpp"

namespace genq::watch {

bool LineStore::known(const std::string& dir, const std::string& name,
                      const std::string& line_key) {
    auto st = db_.prepare("SELECT 1 FROM watch_lines WHERE dir=? AND name=? AND line_key=?");
    st->bind(1, dir).bind(2, name).bind(3, line_key);
    return st->step();
}

void LineStore::put(const LineRecord& r) {
    auto st = db_.prepare(
        "INSERT OR REPLACE INTO watch_lines (dir, name, line_key, job_name, job_id, error, at) "
        "VALUES (?,?,?,?,?,?,?)");
    st->bind(1, r.dir).bind(2, r.name).bind(3, r.line_key).bind(4, r.job_name);
    st->bind_text_or_null(5, r.job_id).bind(6, r.error).bind(7, r.at);
    st->run();
}

void LineStore::erase(const LineRecord& r) {
    auto st = db_.prepare("DELETE FROM watch_lines WHERE dir=? AND name=? AND line_key=?");
    st->bind(1, r.dir).bind(2, r.name).bind(3, r.line_key);
    st->run();
}

std::vector<LineRecord> LineStore::claims(const std::string& dir) {
    auto st = db_.prepare(
        "SELECT dir, name, line_key, job_name, at FROM watch_lines "
        "WHERE dir=? AND job_id IS NULL AND error='' ORDER BY at");
    st->bind(1, dir);
    std::vector<LineRecord> out;
    while (st->step())
        out.push_back({st->text(0), st->text(1), st->text(2), st->text(3), "", "", st->int64(4)});
    return out;
}

std::optional<std::string> LineStore::orphan_job(const LineRecord& claim) {
    // Runs only for claims left by a crash, at start-up.
    auto st = db_.prepare(
        "SELECT id FROM jobs j WHERE source='watch' AND input_sha256='' AND input_name=? "
        "AND created_at>=? AND NOT EXISTS (SELECT 1 FROM watch_lines w WHERE w.job_id=j.id) "
        "ORDER BY id LIMIT 1");
    st->bind(1, claim.job_name).bind(2, claim.at);
    if (!st->step()) return std::nullopt;
    return st->text(0);
}

}  // namespace genq::watch
