#include "sched/rate_limiter.hpp"

#include <algorithm>

namespace genq::sched {
namespace {

// Sends exactly `window` apart would both sit in a closed window of that length: keep them apart
// by a microsecond more.
constexpr double kEpsilon = 1e-6;

}  // namespace

SlidingWindowLimiter::SlidingWindowLimiter(int limit, double window) { configure(limit, window); }

void SlidingWindowLimiter::configure(int limit, double window) {
    limit_ = std::max(1, limit);
    window_ = window;
    while (static_cast<int>(sends_.size()) > limit_) sends_.pop_front();
}

TimePoint SlidingWindowLimiter::next_free(TimePoint now, int reserved) const {
    int need_back = limit_ - reserved;  // the need_back-th most recent send decides
    if (need_back <= 0) return now + window_ + kEpsilon;  // only reservations: wait them out
    if (static_cast<int>(sends_.size()) < need_back) return now;
    TimePoint decisive = sends_[sends_.size() - static_cast<std::size_t>(need_back)];
    return std::max(now, decisive + window_ + kEpsilon);
}

bool SlidingWindowLimiter::can_send(TimePoint now, int reserved) const {
    return next_free(now, reserved) <= now;
}

void SlidingWindowLimiter::record(TimePoint t) {
    // Keep ascending order even if a caller records slightly out of order.
    auto pos = std::upper_bound(sends_.begin(), sends_.end(), t);
    sends_.insert(pos, t);
    while (static_cast<int>(sends_.size()) > limit_) sends_.pop_front();
}

void SlidingWindowLimiter::forget(TimePoint t) {
    auto pos = std::find(sends_.begin(), sends_.end(), t);
    if (pos != sends_.end()) sends_.erase(pos);
}

int SlidingWindowLimiter::in_window(TimePoint now) const {
    return static_cast<int>(
        sends_.end() - std::upper_bound(sends_.begin(), sends_.end(), now - window_));
}

}  // namespace genq::sched
