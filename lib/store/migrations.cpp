#include "store/migrations.hpp"

#include "store/database.hpp"

namespace genq::store {

int schema_version(Database& db) {
    auto st = db.prepare("PRAGMA user_version");
    st->step();
    return static_cast<int>(st->int64(0));
}

Status migrate(Database& db, const std::vector<Migration>& migrations) {
    int current = schema_version(db);
    int newest = migrations.empty() ? 0 : migrations.back().version;
    if (current > newest)
        return Error{"db_too_new", "database schema version " + std::to_string(current) +
                                       " is newer than this genq understands (" +
                                       std::to_string(newest) + ")"};
    for (const auto& m : migrations) {
        if (m.version <= current) continue;
        Transaction tx(db);
        db.exec(m.sql);
        db.exec("PRAGMA user_version = " + std::to_string(m.version));
        tx.commit();
    }
    return ok_status();
}

}  // namespace genq::store
