#include "core/errc.hpp"

#include <array>
#include <string>

namespace genq {
namespace {

constexpr std::array<std::string_view, 13> kNames = {
    "ok",         "connect_failed",     "tls_failed", "timeout",   "connection_reset",
    "truncated",  "body_too_large",     "io_error",   "canceled",  "rate_limited_local",
    "bad_result", "disk_full",          "spool_error"};

class Category : public std::error_category {
public:
    const char* name() const noexcept override { return "genq"; }
    std::string message(int ev) const override {
        if (ev < 0 || static_cast<std::size_t>(ev) >= kNames.size()) return "unknown";
        return std::string(kNames[static_cast<std::size_t>(ev)]);
    }
};

}  // namespace

const std::error_category& genq_category() {
    static const Category c;
    return c;
}

std::error_code make_error_code(errc e) { return {static_cast<int>(e), genq_category()}; }

std::string_view errc_name(errc e) { return kNames[static_cast<std::size_t>(e)]; }

bool is_retryable(std::error_code ec) {
    if (ec.category() != genq_category()) return false;
    switch (static_cast<errc>(ec.value())) {
        case errc::connect_failed:
        case errc::tls_failed:
        case errc::timeout:
        case errc::connection_reset:
        case errc::truncated:
        case errc::body_too_large:
        case errc::io_error:
        case errc::bad_result:
        case errc::disk_full:
            return true;
        case errc::canceled:
        case errc::rate_limited_local:
        case errc::spool_error:
            return false;
    }
    return false;
}

}  // namespace genq
