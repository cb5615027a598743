#include "core/clock.hpp"

#include <chrono>
#include <ctime>

namespace genq {

TimePoint now() {
    static TimePoint last = 0;
    auto t = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch());
    if (t.count() > last) last = t.count();
    return last;
}

std::int64_t now_ms() { return static_cast<std::int64_t>(now() * 1000.0); }

namespace {
class SystemClock final : public Clock {
public:
    TimePoint now() const override { return genq::now(); }
};
}  // namespace

const Clock& system_clock() {
    static const SystemClock c;
    return c;
}

std::string iso8601_ms(std::int64_t ms) {
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
    return buf;
}

std::string utc_day(TimePoint t) {
    std::time_t secs = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
}

}  // namespace genq
