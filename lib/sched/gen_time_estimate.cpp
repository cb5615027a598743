#include "sched/gen_time_estimate.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <sstream>

namespace genq::sched {

namespace {
constexpr const char* kMagic = "gte1";
}

double GenTimeEstimate::edge(int i) {
    if (i <= 0) return 0;
    if (i >= kBuckets) return kHigh;
    return kLow * std::pow(kHigh / kLow, static_cast<double>(i - 1) / (kBuckets - 1));
}

void GenTimeEstimate::observe(double lower, double upper) {
    if (!std::isfinite(lower) || !std::isfinite(upper) || upper < 0) return;
    lower = std::clamp(lower, 0.0, upper);
    upper = std::min(upper, kHigh);
    lower = std::min(lower, upper);
    std::array<double, kBuckets> share{};  // how much of (lower, upper] each bucket covers
    double prior = 0, plain = 0;
    for (int i = 0; i < kBuckets; ++i) {
        double a = edge(i), b = i + 1 < kBuckets ? edge(i + 1) : kHigh;
        double cover = upper - lower < 1e-9 ? (lower >= a && (lower < b || i + 1 == kBuckets))
                                            : std::max(0.0, std::min(b, upper) - std::max(a, lower)) /
                                                  (b - a);
        share[i] = cover;
        plain += cover;
        prior += cover * weight_[i];
    }
    if (plain <= 0) return;
    // E step: the posterior over the buckets the observation allows; the histogram's own belief
    // where it has one, uniform over the interval where it has none.
    const bool informed = prior > 1e-12;
    const double total = informed ? prior : plain;
    ++count_;
    const double rate = 1.0 / static_cast<double>(std::min<long>(count_, kWindow));
    for (int i = 0; i < kBuckets; ++i) {
        double post = (informed ? share[i] * weight_[i] : share[i]) / total;
        weight_[i] = (1 - rate) * weight_[i] + rate * post;
    }
}

std::optional<double> GenTimeEstimate::quantile(double q) const {
    if (count_ == 0) return std::nullopt;
    q = std::clamp(q, 0.0, 1.0);
    double cum = 0;
    for (int i = 0; i < kBuckets; ++i) {
        double w = weight_[i];
        if (cum + w >= q && w > 0) {
            double a = edge(i), b = i + 1 < kBuckets ? edge(i + 1) : kHigh;
            return a + (b - a) * std::clamp((q - cum) / w, 0.0, 1.0);
        }
        cum += w;
    }
    return kHigh;
}

std::string GenTimeEstimate::encode() const {
    std::string out = fmt::format("{} {}", kMagic, count_);
    for (double w : weight_) out += fmt::format(" {:.6g}", w);
    return out;
}

std::optional<GenTimeEstimate> GenTimeEstimate::decode(std::string_view text) {
    std::istringstream in{std::string(text)};
    std::string magic;
    GenTimeEstimate e;
    if (!(in >> magic >> e.count_) || magic != kMagic || e.count_ < 0) return std::nullopt;
    double sum = 0;
    for (double& w : e.weight_) {
        if (!(in >> w) || !std::isfinite(w) || w < 0) return std::nullopt;
        sum += w;
    }
    std::string extra;
    if (in >> extra) return std::nullopt;
    if (e.count_ == 0) return GenTimeEstimate{};
    if (sum <= 0) return std::nullopt;
    for (double& w : e.weight_) w /= sum;  // rounding in the text form
    return e;
}

}  // namespace genq::sched
