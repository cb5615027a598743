#include "store/database.hpp"

#include <sqlite3.h>

#include <cerrno>

namespace genq::store {
namespace {

// SQLite reports a full disk as SQLITE_FULL on most paths, but as SQLITE_IOERR_* (write, fsync,
// truncate, shm) with errno ENOSPC on others.
bool no_space(sqlite3* db, int rc) {
    int primary = rc & 0xff;
    return primary == SQLITE_FULL ||
           (primary == SQLITE_IOERR && sqlite3_system_errno(db) == ENOSPC);
}

[[noreturn]] void throw_for(sqlite3* db, int rc, std::string message) {
    if (no_space(db, rc)) throw DiskFullError(message);
    throw DbError(message);
}

[[noreturn]] void fail(sqlite3* db, std::string_view what) {
    throw_for(db, sqlite3_extended_errcode(db), std::string(what) + ": " + sqlite3_errmsg(db));
}

}  // namespace

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &stmt_, nullptr) != SQLITE_OK)
        fail(db, "prepare \"" + std::string(sql.substr(0, 60)) + "\"");
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int i, std::int64_t v) {
    if (sqlite3_bind_int64(stmt_, i, v) != SQLITE_OK) fail(db_, "bind");
    return *this;
}

Statement& Statement::bind(int i, double v) {
    if (sqlite3_bind_double(stmt_, i, v) != SQLITE_OK) fail(db_, "bind");
    return *this;
}

Statement& Statement::bind(int i, std::string_view v) {
    if (sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) !=
        SQLITE_OK)
        fail(db_, "bind");
    return *this;
}

Statement& Statement::bind_null(int i) {
    if (sqlite3_bind_null(stmt_, i) != SQLITE_OK) fail(db_, "bind");
    return *this;
}

Statement& Statement::bind_opt(int i, const std::optional<std::int64_t>& v) {
    return v ? bind(i, *v) : bind_null(i);
}

Statement& Statement::bind_text_or_null(int i, std::string_view v) {
    return v.empty() ? bind_null(i) : bind(i, v);
}

bool Statement::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, "step");
}

void Statement::run() {
    while (step()) {
    }
    reset();
}

std::int64_t Statement::int64(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::real(int col) const { return sqlite3_column_double(stmt_, col); }
bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

std::string Statement::text(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    if (!p) return {};
    return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

void Statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

Result<std::unique_ptr<Database>> Database::open(const std::string& path) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close(db);
        return Error{"db_open", "cannot open database " + path + ": " + msg};
    }
    std::unique_ptr<Database> owner(new Database(db));
    sqlite3_busy_timeout(db, 2000);
    try {
        // First, before anything creates a table: a new database gives the pages retention
        // frees back to the file system (store/auto_vacuum.hpp). On an existing one this
        // changes nothing until a VACUUM. Touching the file, a corrupt or foreign one fails here.
        owner->exec("PRAGMA auto_vacuum=INCREMENTAL");
        owner->exec("PRAGMA journal_mode=WAL");
        owner->exec("PRAGMA synchronous=FULL");
        owner->exec("PRAGMA foreign_keys=ON");
        owner->exec("PRAGMA temp_store=MEMORY");
    } catch (const DbError& e) {
        std::string what = e.what();
        bool locked = what.find("locked") != std::string::npos;
        // Opening makes the WAL and shared-memory files: on a full file system that fails.
        if (dynamic_cast<const DiskFullError*>(&e))
            what += " (No space left on device: free space in the state directory)";
        return Error{locked ? "db_locked" : "db_open", "database " + path + ": " + what};
    }
    return owner;
}

Database::~Database() {
    cache_.clear();
    sqlite3_close(db_);
}

StatementUse Database::prepare(std::string_view sql) {
    auto it = cache_.find(std::string(sql));
    if (it == cache_.end())
        it = cache_.emplace(std::string(sql), std::make_unique<Statement>(db_, sql)).first;
    return StatementUse(*it->second);
}

void Database::exec(std::string_view sql) {
    char* err = nullptr;
    if (int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &err);
        rc != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        throw_for(db_, sqlite3_extended_errcode(db_), msg);
    }
}

std::int64_t Database::changes() const { return sqlite3_changes64(db_); }

void Database::set_durability(Durability d) {
    if (d == durability_) return;
    run_cached(d == Durability::full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    durability_ = d;
}

void Database::run_cached(std::string_view sql) { prepare(sql)->run(); }

Transaction::Transaction(Database& db, Durability d) : db_(db), durability_(d) {
    db_.set_durability(durability_);
    db_.run_cached("BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
    try {
        if (!done_) db_.exec("ROLLBACK");
    } catch (const DbError&) {
        // A failed rollback leaves SQLite to roll back on close; nothing more to do here.
    }
}

void Transaction::commit() {
    db_.before_commit();
    db_.run_cached("COMMIT");
    done_ = true;
}

}  // namespace genq::store
