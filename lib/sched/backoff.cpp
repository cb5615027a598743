#include "sched/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace genq::sched {

double Backoff::ceiling(int attempt) const {
    int exp = std::clamp(attempt - 1, 0, 62);
    return std::min(max_, base_ * std::ldexp(1.0, exp));
}

double Backoff::delay(int attempt, double uniform01) const {
    return ceiling(attempt) * std::clamp(uniform01, 0.0, 1.0);
}

}  // namespace genq::sched
