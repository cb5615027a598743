// One libpq connection, synchronous: each call is one statement and one round trip (or a short
// BEGIN..COMMIT). No libpq type in this header. Failures after the connection opened throw
// DbError, as SQLite failures do; a lost connection throws DbUnavailable, and the next calls
// reconnect, at most once per backoff step (0.25 s doubling to 5 s), throwing DbUnavailable at
// once in between, so a dead server costs the event loop nothing but failed connects.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace genq::store {

// A parameter or a cell: nullopt is SQL NULL. Text format, except where a call says binary.
using PgValue = std::optional<std::string>;
using PgParams = std::vector<PgValue>;

struct PgRows {
    std::vector<std::vector<PgValue>> rows;
    long affected = 0;  // rows changed by INSERT/UPDATE/DELETE
};

class PgConnection {
public:
    // `conninfo`: a libpq URI or key=value string; `password` ("" = libpq's own sources:
    // PGPASSFILE, ~/.pgpass). Error code db_open with libpq's message.
    static Result<std::unique_ptr<PgConnection>> open(const std::string& conninfo,
                                                      const std::string& password);
    ~PgConnection();
    PgConnection(const PgConnection&) = delete;
    PgConnection& operator=(const PgConnection&) = delete;

    // Runs one statement with $1..$n parameters. `binary_param`: index of a parameter sent as
    // bytes (bytea), -1 = none; `binary_result`: cells come back as raw bytes.
    PgRows exec(std::string_view sql, const PgParams& params = {}, int binary_param = -1,
                bool binary_result = false);
    // Several statements without parameters (migrations).
    void exec_script(std::string_view sql);
    // Whether the connection is up; if not, one reset attempt (the caller decides the backoff).
    bool ensure_connected();
    // How many times the connection was re-established: work the node did on the old one may
    // have been taken over meanwhile (a caller compares this to see it happened).
    std::uint64_t reconnects() const;

    // LISTEN/NOTIFY without blocking: after exec("LISTEN ch"), the connection's socket() turns
    // readable when a notification arrives, and notifications() reads what arrived (never
    // waits). A lost connection throws DbUnavailable.
    int socket() const;
    std::vector<std::string> notifications();

private:
    struct Impl;
    explicit PgConnection(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> p_;
};

// Runs BEGIN and ROLLBACK unless commit() was called.
class PgTransaction {
public:
    explicit PgTransaction(PgConnection& c) : c_(c) { c_.exec("BEGIN"); }
    ~PgTransaction();
    void commit();

private:
    PgConnection& c_;
    bool done_ = false;
};

// Cell helpers (text format).
std::string pg_text(const PgValue& v);
std::int64_t pg_int(const PgValue& v);
double pg_real(const PgValue& v);
PgValue pg_param(std::int64_t v);
PgValue pg_param(double v);
PgValue pg_text_or_null(const std::string& s);

}  // namespace genq::store
