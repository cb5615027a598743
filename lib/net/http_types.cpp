#include "net/http_types.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

namespace genq::net {

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

std::string error_body(std::string_view code, std::string_view message) {
    nlohmann::json body = {{"error", message}, {"code", code}};
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string_view find_header(const Headers& h, std::string_view name) {
    for (const auto& [k, v] : h) {
        if (iequals(k, name)) {
            return v;
        }
    }
    return {};
}

}  // namespace genq::net
