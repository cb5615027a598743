// A small RAII layer over SQLite: one connection, statements prepared once and reset after use,
// transactions that roll back unless committed. sqlite3.h stays in database.cpp.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/result.hpp"
#include "core/unavailable.hpp"
#include "store/durability.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace genq::store {

// Thrown for SQLite failures that are bugs or environment failures (disk I/O, corruption) after
// the database opened: the daemon cannot go on safely, so it stops with exit 1.
class DbError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The database cannot be reached (a shared store's server down, restarting, or the connection
// lost): the caller waits and tries again; the connection reconnects with backoff.
class DbUnavailable : public DbError, public Unavailable {
public:
    using DbError::DbError;
};

// A write found no space on the database's file system (SQLITE_FULL, or an I/O error whose
// errno is ENOSPC). Unlike other DbErrors the daemon goes on: the transaction rolled back, the
// file is intact, and the write can be made again once space returns (app/state_disk.hpp).
class DiskFullError : public DbError {
public:
    using DbError::DbError;
};

class Statement {
public:
    Statement(sqlite3* db, std::string_view sql);
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    // Parameters are 1-based, as in SQLite.
    Statement& bind(int i, std::int64_t v);
    Statement& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
    Statement& bind(int i, double v);
    Statement& bind(int i, std::string_view v);
    Statement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
    Statement& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
    Statement& bind_null(int i);
    Statement& bind_opt(int i, const std::optional<std::int64_t>& v);
    // Empty text is stored as NULL (for optional text columns).
    Statement& bind_text_or_null(int i, std::string_view v);

    bool step();  // true: a row is ready; false: done
    void run();   // step to completion, then reset

    std::int64_t int64(int col) const;
    double real(int col) const;
    std::string text(int col) const;  // "" for NULL
    bool is_null(int col) const;

    void reset();  // also clears bindings

private:
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

// Resets a statement when the scope ends, so a cached statement never holds a read lock.
class StatementUse {
public:
    explicit StatementUse(Statement& s) : s_(s) {}
    ~StatementUse() { s_.reset(); }
    Statement* operator->() { return &s_; }
    Statement& operator*() { return s_; }

private:
    Statement& s_;
};

class Database {
public:
    // Opens (creating) the file in WAL mode with synchronous=FULL, foreign keys on and a busy
    // timeout. Error codes: "db_open" (cannot open / not a database / read-only directory),
    // "db_locked" (another process holds it).
    static Result<std::unique_ptr<Database>> open(const std::string& path);
    ~Database();

    // Statements are prepared once and cached by their SQL text.
    StatementUse prepare(std::string_view sql);
    void exec(std::string_view sql);  // for pragmas and migrations
    std::int64_t changes() const;
    sqlite3* handle() const { return db_; }

    // Sets PRAGMA synchronous for the commits that follow (FULL or NORMAL), only when it
    // changes: a run of relaxed commits (sends, progress) no longer toggles it twice each.
    // A write outside a Transaction commits with the durability of the last transaction.
    void set_durability(Durability d);
    // Runs `sql` (BEGIN, COMMIT, ...) as a cached statement instead of parsing it each time.
    void run_cached(std::string_view sql);
    // Runs inside every transaction just before its COMMIT (the send log's deferred rows).
    void set_before_commit(std::function<void()> f) { before_commit_ = std::move(f); }
    void before_commit() {
        if (before_commit_) before_commit_();
    }

private:
    explicit Database(sqlite3* db) : db_(db) {}
    sqlite3* db_;
    std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;
    Durability durability_ = Durability::full;  // what PRAGMA synchronous says now
    std::function<void()> before_commit_;
};


// BEGIN IMMEDIATE ... COMMIT; rolls back in the destructor unless committed. Never held across a
// co_await: every use is a synchronous block on the event loop.
class Transaction {
public:
    explicit Transaction(Database& db, Durability d = Durability::full);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

private:
    Database& db_;
    Durability durability_;
    bool done_ = false;
};

}  // namespace genq::store
