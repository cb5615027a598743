// Result<T>: a value or an Error, for failures that are expected (bad input, I/O, provider
// answers). Exceptions are kept for bugs.
#pragma once
#include <string>
#include <utility>
#include <variant>

#include "core/errc.hpp"

namespace genq {

struct Error {
    Error() = default;
    Error(std::string code_, std::string message_)
        : code(std::move(code_)), message(std::move(message_)) {}
    // A code of genq's category: `ec` says what kind of failure it is, `code` its name.
    Error(errc e, std::string message_)
        : code(errc_name(e)), message(std::move(message_)), ec(make_error_code(e)) {}

    std::string code;     // machine-readable, e.g. "invalid_param", "io_error"
    std::string message;  // human-readable; never contains secrets
    std::error_code ec;   // set for genq's own category (transport, cancel, results)
};

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

// Result<void>.
struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

}  // namespace genq
