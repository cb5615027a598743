#include "store/pg_errors.hpp"

namespace genq::store {

PgFailure classify_pg_failure(std::string_view sqlstate, bool connected) {
    if (!connected) return PgFailure::unavailable;
    if (sqlstate == "53100") return PgFailure::disk_full;
    return PgFailure::error;
}

}  // namespace genq::store
