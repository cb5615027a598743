#include "core/retention_config.hpp"

#include <charconv>
#include <string>
#include <utility>
#include <cmath>

namespace genq {
namespace {

constexpr std::string_view kAllowed =
    "must be a duration like \"30d\", \"12h\", \"10m\" or \"90s\" (units s, m, h, d, w)";

std::optional<double> unit_seconds(std::string_view unit) {
    if (unit == "s") return 1.0;
    if (unit == "m") return 60.0;
    if (unit == "h") return 3600.0;
    if (unit == "d") return 86400.0;
    if (unit == "w") return 7 * 86400.0;
    return std::nullopt;
}

// Appended in place: GCC 12 misreads the chain `std::string(...) + "..." + ...` as a copy out
// of bounds (-Warray-bounds in char_traits.h, a known false positive of its string inlining).
Error refused(std::string_view text) {
    std::string message(kAllowed);
    message += " (got \"";
    message += text;
    message += "\")";
    return Error{"invalid_param", std::move(message)};
}

}  // namespace

Result<double> parse_duration(std::string_view text) {
    if (text == "0") return 0.0;
    std::size_t digits = 0;
    while (digits < text.size() &&
           ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.'))
        ++digits;
    if (digits == 0 || digits == text.size()) return refused(text);
    double number = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + digits, number);
    if (ec != std::errc{} || end != text.data() + digits || !std::isfinite(number))
        return refused(text);
    auto unit = unit_seconds(text.substr(digits));
    if (!unit) return refused(text);
    return number * *unit;
}

std::string format_duration(double seconds) {
    if (seconds <= 0) return "0";
    for (auto [unit, size] : {std::pair{"w", 7 * 86400.0}, {"d", 86400.0}, {"h", 3600.0},
                              {"m", 60.0}}) {
        double n = seconds / size;
        if (n >= 1 && n == std::floor(n)) return std::to_string(static_cast<long long>(n)) + unit;
    }
    double whole = std::floor(seconds);
    if (whole == seconds) return std::to_string(static_cast<long long>(whole)) + "s";
    return std::to_string(seconds) + "s";
}

}  // namespace genq
