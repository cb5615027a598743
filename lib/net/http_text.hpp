// Net-private: the control server's text helpers (http_server.cpp), apart from Beast and Asio.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "net/http_server.hpp"

namespace genq::net::detail {

// Invalid escapes are kept verbatim: a handler then sees an unknown path and answers 404.
std::string percent_decode(std::string_view in, bool plus_is_space);
std::string lower(std::string_view s);
// Compares a bearer token without telling by its timing how much of it matched.
bool constant_time_equal(std::string_view a, std::string_view b);

struct ByteRange {
    enum Kind { whole, partial, unsatisfiable } kind = whole;
    std::uint64_t first = 0;
    std::uint64_t last = 0;  // inclusive
};

// A malformed or multi-range header is ignored (RFC 9110 allows serving the whole file).
ByteRange parse_range(std::string_view header, std::uint64_t size);
// One server-sent event: its name and each line of `data` as a data: line.
std::string sse_frame(const std::string& event, const std::string& data);

}  // namespace genq::net::detail
