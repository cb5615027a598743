#include "store/send_log.hpp"

#include "store/database.hpp"

namespace genq::store {

void SendLog::record(std::string_view key, TimePoint t) {
    Transaction tx(db_, Durability::relaxed);
    auto st = db_.prepare("INSERT INTO key_sends (key_name, at_s) VALUES (?, ?)");
    st->bind(1, key).bind(2, t);
    st->run();
    tx.commit();
}

std::vector<TimePoint> SendLog::since(std::string_view key, TimePoint from) {
    auto st = db_.prepare("SELECT at_s FROM key_sends WHERE key_name=? AND at_s>=? ORDER BY at_s");
    st->bind(1, key).bind(2, from);
    std::vector<TimePoint> out;
    while (st->step()) out.push_back(st->real(0));
    return out;
}

void SendLog::prune(TimePoint before) {
    Transaction tx(db_, Durability::relaxed);
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
