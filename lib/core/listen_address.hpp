// The TCP listener's address ([http] listen), parsed once: the config check and the server that
// binds it call this same function, so an address `--check-config` accepts is one genqd can bind.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace genq {

struct ListenAddress {
    std::string host;  // an IP literal, without brackets
    std::uint16_t port = 0;
    bool ipv6 = false;
    bool is_loopback() const;  // 127.0.0.0/8, ::1, ::ffff:127.x.x.x
};

enum class PortZero { refused, allowed };  // allowed: the kernel picks a free port (tests)

// "127.0.0.1:8080", "0.0.0.0:80", "[::1]:8080". Host names are not resolved: an address that
// depends on the resolver could pass the check and fail at start. Error code "invalid_listen";
// the message says what is wrong and what is allowed.
Result<ListenAddress> parse_listen_address(std::string_view text,
                                           PortZero zero = PortZero::refused);

}  // namespace genq
