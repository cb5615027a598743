#include "core/ids.hpp"

#include <random>

namespace genq {
namespace {

constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";  // Crockford base32, lower case

void append_base32(std::string& out, std::uint64_t v, int digits) {
    for (int i = digits - 1; i >= 0; --i) out += kAlphabet[(v >> (5 * i)) & 31];
}

}  // namespace

std::string new_job_id(std::int64_t now_ms) {
    static std::int64_t last_ms = 0;
    static std::uint64_t counter = 0;
    static std::mt19937_64 rng{std::random_device{}()};
    if (now_ms <= last_ms) {
        now_ms = last_ms;  // monotonic even if the clock steps back
        ++counter;
    } else {
        last_ms = now_ms;
        counter = 0;
    }
    std::string id;
    id.reserve(20);
    append_base32(id, static_cast<std::uint64_t>(now_ms), 10);
    append_base32(id, counter, 3);
    append_base32(id, rng(), 7);
    return id;
}

bool looks_like_job_id(const std::string& s) {
    if (s.size() != 20) return false;
    for (char c : s)
        if (std::string_view(kAlphabet).find(c) == std::string_view::npos) return false;
    return true;
}

}  // namespace genq
