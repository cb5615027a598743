#include "store/send_log.hpp"

#include "store/database.hpp"

namespace genq::store {

SendLog::SendLog(Database& db) : db_(db) {
    db_.set_before_commit([this] { write_pending(); });
}

SendLog::~SendLog() {
    try {
        flush();
    } catch (const DbError&) {
        // Closing on a failed database: the sends of the last turn are lost, as in a kill.
    }
    db_.set_before_commit(nullptr);
}

void SendLog::record(std::string_view key, TimePoint t) { pending_.emplace_back(key, t); }

void SendLog::flush() {
    if (pending_.empty()) return;
    Transaction tx(db_, Durability::relaxed);
    tx.commit();  // the before-commit hook writes them
}

void SendLog::write_pending() {
    if (pending_.empty()) return;
    auto st = db_.prepare("INSERT INTO key_sends (key_name, at_s) VALUES (?, ?)");
    for (const auto& [key, t] : pending_) {
        st->bind(1, key).bind(2, t);
        st->run();
    }
    pending_.clear();
}

std::vector<TimePoint> SendLog::since(std::string_view key, TimePoint from) {
    flush();
    auto st = db_.prepare("SELECT at_s FROM key_sends WHERE key_name=? AND at_s>=? ORDER BY at_s");
    st->bind(1, key).bind(2, from);
    std::vector<TimePoint> out;
    while (st->step()) out.push_back(st->real(0));
    return out;
}

void SendLog::prune(TimePoint before) {
    Transaction tx(db_, Durability::relaxed);  // writes the pending sends first
    auto st = db_.prepare("DELETE FROM key_sends WHERE at_s < ?");
    st->bind(1, before);
    st->run();
    tx.commit();
}

void SendLog::save_lockout(std::string_view key, TimePoint until) {
    Transaction tx(db_);
    auto st = db_.prepare(
        "INSERT INTO key_status (name, status, locked_until_s, updated_at) VALUES (?, 'active', ?, "
        "?) ON CONFLICT(name) DO UPDATE SET locked_until_s=excluded.locked_until_s, "
        "updated_at=excluded.updated_at");
    st->bind(1, key).bind(2, until).bind(3, static_cast<std::int64_t>(until * 1000));
    st->run();
    tx.commit();
}

TimePoint SendLog::lockout(std::string_view key) {
    auto st = db_.prepare("SELECT locked_until_s FROM key_status WHERE name=?");
    st->bind(1, key);
    return st->step() ? st->real(0) : 0;
}

}  // namespace genq::store
