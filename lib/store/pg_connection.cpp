#include "store/pg_connection.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <spdlog/spdlog.h>
#include <cstdio>

#include "store/database.hpp"
#include "store/pg_errors.hpp"

namespace genq::store {

struct PgConnection::Impl {
    PGconn* conn = nullptr;
    std::uint64_t reconnects = 0;
    int failures = 0;  // reconnects tried and failed in a row
    std::chrono::steady_clock::time_point next_try{};
    ~Impl() {
        if (conn) PQfinish(conn);
    }
};

namespace {

std::string trimmed_error(PGconn* c) {
    std::string m = c ? PQerrorMessage(c) : "out of memory";
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
}

struct ResultGuard {
    PGresult* r;
    ~ResultGuard() { PQclear(r); }
};

}  // namespace

Result<std::unique_ptr<PgConnection>> PgConnection::open(const std::string& conninfo,
                                                         const std::string& password) {
    // expand_dbname = 1: "dbname" carries the whole URI or key=value string; a password given
    // apart overrides nothing written there (the config refuses one in the URL).
    // connect_timeout first: a value in the conninfo overrides it. Without it a reconnect to
    // a host that does not answer would hold the loop for the system's TCP timeout.
    const char* keys[] = {"connect_timeout", "dbname", password.empty() ? nullptr : "password",
                          nullptr};
    const char* values[] = {"5", conninfo.c_str(), password.empty() ? nullptr : password.c_str(),
                            nullptr};
    auto impl = std::make_unique<Impl>();
    impl->conn = PQconnectdbParams(keys, values, 1);
    if (!impl->conn || PQstatus(impl->conn) != CONNECTION_OK)
        return Error{"db_open", "cannot connect to PostgreSQL: " + trimmed_error(impl->conn)};
    // Quiet NOTICEs ("relation already exists, skipping") stay out of genq's log.
    PQsetNoticeProcessor(impl->conn, [](void*, const char*) {}, nullptr);
    return std::unique_ptr<PgConnection>(new PgConnection(std::move(impl)));
}

PgConnection::PgConnection(std::unique_ptr<Impl> impl) : p_(std::move(impl)) {}
PgConnection::~PgConnection() = default;

bool PgConnection::ensure_connected() {
    if (PQstatus(p_->conn) == CONNECTION_OK) return true;
    auto now = std::chrono::steady_clock::now();
    if (now < p_->next_try) return false;
    PQreset(p_->conn);
    if (PQstatus(p_->conn) == CONNECTION_OK) {
        ++p_->reconnects;
        p_->failures = 0;
        spdlog::info("PostgreSQL: reconnected");
        return true;
    }
    ++p_->failures;
    double wait = std::min(5.0, 0.25 * std::pow(2.0, std::min(p_->failures - 1, 8)));
    p_->next_try = now + std::chrono::microseconds(static_cast<std::int64_t>(wait * 1e6));
    return false;
}

std::uint64_t PgConnection::reconnects() const { return p_->reconnects; }

int PgConnection::socket() const { return PQsocket(p_->conn); }

std::vector<std::string> PgConnection::notifications() {
    if (!PQconsumeInput(p_->conn) || PQstatus(p_->conn) != CONNECTION_OK)
        throw DbUnavailable("PostgreSQL: connection lost: " + trimmed_error(p_->conn));
    std::vector<std::string> out;
    while (PGnotify* n = PQnotifies(p_->conn)) {
        out.emplace_back(n->extra ? n->extra : "");
        PQfreemem(n);
    }
    return out;
}

namespace {

// A failed statement: the connection lost (the caller may try again later), the server's disk
// full (held and written later, as for the state disk: store/pg_errors.hpp) or a real error.
[[noreturn]] void throw_failure(PGconn* c, const PGresult* r) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    switch (classify_pg_failure(state ? state : "", PQstatus(c) == CONNECTION_OK)) {
        case PgFailure::unavailable:
            throw DbUnavailable("PostgreSQL: connection lost: " + trimmed_error(c));
        case PgFailure::disk_full:
            throw DiskFullError(std::string(kPgDiskFull) + ": " + trimmed_error(c));
        case PgFailure::error:
            break;
    }
    throw DbError("PostgreSQL: " + trimmed_error(c));
}

}  // namespace

PgRows PgConnection::exec(std::string_view sql, const PgParams& params, int binary_param,
                          bool binary_result) {
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;
    for (std::size_t i = 0; i < params.size(); ++i) {
        const auto& v = params[i];
        values.push_back(v ? v->data() : nullptr);
        lengths.push_back(v ? static_cast<int>(v->size()) : 0);
        formats.push_back(static_cast<int>(i) == binary_param ? 1 : 0);
    }
    if (!ensure_connected())
        throw DbUnavailable("PostgreSQL: not connected: " + trimmed_error(p_->conn));
    std::string text(sql);
    ResultGuard r{PQexecParams(p_->conn, text.c_str(), static_cast<int>(params.size()), nullptr,
                               values.data(), lengths.data(), formats.data(),
                               binary_result ? 1 : 0)};
    auto status = PQresultStatus(r.r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw_failure(p_->conn, r.r);
    PgRows out;
    const char* tuples = PQcmdTuples(r.r);
    if (tuples && *tuples) out.affected = std::stol(tuples);
    int n = PQntuples(r.r), cols = PQnfields(r.r);
    out.rows.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        std::vector<PgValue> row;
        row.reserve(static_cast<std::size_t>(cols));
        for (int c = 0; c < cols; ++c) {
            if (PQgetisnull(r.r, i, c))
                row.emplace_back(std::nullopt);
            else
                row.emplace_back(std::string(PQgetvalue(r.r, i, c),
                                             static_cast<std::size_t>(PQgetlength(r.r, i, c))));
        }
        out.rows.push_back(std::move(row));
    }
    return out;
}

void PgConnection::exec_script(std::string_view sql) {
    std::string text(sql);
    ResultGuard r{PQexec(p_->conn, text.c_str())};
    auto status = PQresultStatus(r.r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw_failure(p_->conn, r.r);
}

PgTransaction::~PgTransaction() {
    if (done_) return;
    try {
        c_.exec("ROLLBACK");
    } catch (const DbError&) {
        // The connection is gone: the server rolled back already.
    }
}

void PgTransaction::commit() {
    c_.exec("COMMIT");
    done_ = true;
}

std::string pg_text(const PgValue& v) { return v ? *v : std::string(); }

std::int64_t pg_int(const PgValue& v) {
    if (!v) return 0;
    std::int64_t out = 0;
    std::from_chars(v->data(), v->data() + v->size(), out);
    return out;
}

double pg_real(const PgValue& v) { return v ? std::strtod(v->c_str(), nullptr) : 0.0; }

PgValue pg_param(std::int64_t v) { return std::to_string(v); }

PgValue pg_param(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return std::string(buf);
}

PgValue pg_text_or_null(const std::string& s) {
    if (s.empty()) return std::nullopt;
    return s;
}

}  // namespace genq::store
