#include "watch/watch_store.hpp"

#include "store/database.hpp"

namespace genq::watch {
namespace {

constexpr std::string_view kSelect =
    "SELECT dir, name, sha256, job_id, place, stored, at FROM watch_files ";

WatchRecord read_row(const store::Statement& st) {
    WatchRecord r;
    r.dir = st.text(0);
    r.name = st.text(1);
    r.sha256 = st.text(2);
    r.job_id = st.text(3);
    r.place = parse_place(st.text(4)).value_or(Place::processing);
    r.stored = st.text(5);
    r.at = st.int64(6);
    return r;
}

}  // namespace

std::optional<WatchRecord> WatchStore::find(const std::string& dir, const std::string& name,
                                            const std::string& sha256) {
    auto st = db_.prepare(std::string(kSelect) + "WHERE dir=? AND name=? AND sha256=?");
    st->bind(1, dir).bind(2, name).bind(3, sha256);
    if (!st->step()) return std::nullopt;
    return read_row(*st);
}

std::optional<WatchRecord> WatchStore::by_job(const std::string& job_id) {
    auto st = db_.prepare(std::string(kSelect) + "WHERE job_id=? LIMIT 1");
    st->bind(1, job_id);
    if (!st->step()) return std::nullopt;
    return read_row(*st);
}

std::vector<WatchRecord> WatchStore::in_place(const std::string& dir, Place place) {
    auto st = db_.prepare(std::string(kSelect) + "WHERE dir=? AND place=? ORDER BY at");
    st->bind(1, dir).bind(2, to_string(place));
    std::vector<WatchRecord> out;
    while (st->step()) out.push_back(read_row(*st));
    return out;
}

void WatchStore::put(const WatchRecord& r) {
    auto st = db_.prepare(
        "INSERT OR REPLACE INTO watch_files (dir, name, sha256, job_id, at, place, stored) "
        "VALUES (?,?,?,?,?,?,?)");
    st->bind(1, r.dir).bind(2, r.name).bind(3, r.sha256).bind_text_or_null(4, r.job_id);
    st->bind(5, r.at).bind(6, to_string(r.place)).bind(7, r.stored);
    st->run();
}

void WatchStore::erase(const WatchRecord& r) {
    auto st = db_.prepare("DELETE FROM watch_files WHERE dir=? AND name=? AND sha256=?");
    st->bind(1, r.dir).bind(2, r.name).bind(3, r.sha256);
    st->run();
}

std::optional<std::string> WatchStore::orphan_job(const WatchRecord& claim) {
    // No index on input_sha256: this runs only for claims left by a crash, at start-up.
    auto st = db_.prepare(
        "SELECT id FROM jobs j WHERE source='watch' AND input_sha256=? AND input_name=? "
        "AND created_at>=? AND NOT EXISTS (SELECT 1 FROM watch_files w WHERE w.job_id=j.id) "
        "ORDER BY id LIMIT 1");
    st->bind(1, claim.sha256).bind(2, claim.name).bind(3, claim.at);
    if (!st->step()) return std::nullopt;
    return st->text(0);
}

}  // namespace genq::watch
