// Schema migrations: schema/NNNN_name.sql, embedded at build time, applied in order and tracked
// with PRAGMA user_version.
#pragma once
#include <string>
#include <vector>

#include "core/result.hpp"

namespace genq::store {

class Database;

struct Migration {
    int version;
    std::string name;
    std::string sql;
};

const std::vector<Migration>& embedded_migrations();  // generated: schema_embed.cpp
const std::vector<Migration>& pg_migrations();  // the shared store's: pg_schema_embed.cpp

// Applies every migration newer than the database, each in its own transaction. A database newer
// than this build ("db_too_new") is refused rather than touched.
Status migrate(Database& db, const std::vector<Migration>& migrations = embedded_migrations());
int schema_version(Database& db);

}  // namespace genq::store
