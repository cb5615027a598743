#include "core/listen_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

namespace genq {
namespace {

Error invalid(std::string why) { return Error{"invalid_listen", std::move(why)}; }

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<std::uint16_t> parse_port(std::string_view s, PortZero zero) {
    const int low = zero == PortZero::allowed ? 0 : 1;
    const std::string rule = "port must be from " + std::to_string(low) + " to 65535";
    if (!all_digits(s) || s.size() > 5) return invalid(rule);
    int v = std::stoi(std::string(s));
    if (v < low || v > 65535) return invalid(rule);
    return static_cast<std::uint16_t>(v);
}

}  // namespace

bool ListenAddress::is_loopback() const {
    if (ipv6) {
        in6_addr a6{};
        if (inet_pton(AF_INET6, host.c_str(), &a6) != 1) return false;
        if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
        return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
    }
    in_addr a4{};
    return inet_pton(AF_INET, host.c_str(), &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

Result<ListenAddress> parse_listen_address(std::string_view s, PortZero zero) {
    std::size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return invalid("must be host:port or [ipv6]:port");
    std::string_view host = s.substr(0, colon);
    auto port = parse_port(s.substr(colon + 1), zero);
    if (!port) return port.error();
    ListenAddress out;
    out.port = *port;
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        out.host = std::string(host.substr(1, host.size() - 2));
        out.ipv6 = true;
        in6_addr a6{};
        if (inet_pton(AF_INET6, out.host.c_str(), &a6) == 1) return out;
        return invalid("is not a valid IPv6 address in brackets");
    }
    if (host.find(':') != std::string_view::npos)
        return invalid("an IPv6 address must be in brackets, e.g. [::1]:8080");
    out.host = std::string(host);
    in_addr a4{};
    if (inet_pton(AF_INET, out.host.c_str(), &a4) == 1) return out;
    return invalid("host must be an IPv4 address or [an IPv6 address] (names such as localhost "
                   "are not resolved: use 127.0.0.1 or [::1])");
}

}  // namespace genq
