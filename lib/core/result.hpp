// Result<T>: a value or an Error, for failures that are expected (bad input, I/O, provider
// answers). Exceptions are kept for bugs.
#pragma once
#include <string>
#include <utility>
#include <variant>

namespace genq {

struct Error {
    std::string code;     // machine-readable, e.g. "invalid_param", "io_error"
    std::string message;  // human-readable; never contains secrets
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
