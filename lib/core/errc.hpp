// genq's own error codes for what goes wrong below the provider's answers: a transport failure,
// a cancellation, a result that could not be kept. One category decides, in one place, which of
// them are worth trying again (`is_retryable`), instead of string codes compared where they arrive.
#pragma once
#include <string_view>
#include <system_error>

namespace genq {

enum class errc {
    // Transport towards the provider: the request may or may not have reached it.
    connect_failed = 1,
    tls_failed,
    timeout,
    connection_reset,
    truncated,         // the answer ended before its declared length
    body_too_large,    // an answer bigger than genq keeps in memory
    io_error,
    // Local decisions: nothing (more) went on the wire.
    canceled,            // the job was canceled or the daemon stops
    rate_limited_local,  // the limiter refused a transparent resend
    // Results and inputs.
    bad_result,  // a 200 whose result could not be decoded
    disk_full,
    spool_error,  // the job's input could not be read back
};

const std::error_category& genq_category();
std::error_code make_error_code(errc e);
// The code's name as it appears in job errors and logs ("timeout", "connection_reset", ...).
std::string_view errc_name(errc e);

// Transport failures, a bad result body and a full disk pass with time; a cancellation or a
// missing input does not.
bool is_retryable(std::error_code ec);

}  // namespace genq

template <>
struct std::is_error_code_enum<genq::errc> : std::true_type {};
