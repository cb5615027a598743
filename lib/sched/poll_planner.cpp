#include "sched/poll_planner.hpp"

#include <algorithm>
#include <cmath>

namespace genq::sched {

TimePoint PollPlanner::first_poll(TimePoint accepted_at, std::string_view kind,
                                  double load) const {
    const TimePoint floor = accepted_at + interval_;
    const auto* e = estimate(kind);
    if (!e || e->count() < kMinSamples) return floor;
    double rise = std::clamp((load - kLoadLow) / (kLoadHigh - kLoadLow), 0.0, 1.0);
    auto at = e->quantile(kLowQuantile + (kHighQuantile - kLowQuantile) * rise);
    if (!at || !std::isfinite(*at)) return floor;
    return std::max(floor, accepted_at + *at);
}

void PollPlanner::on_result(std::string_view kind, TimePoint accepted_at, TimePoint pending_at,
                            TimePoint result_at) {
    if (kind.empty() || accepted_at <= 0 || result_at < accepted_at) return;
    double lower = pending_at > accepted_at ? pending_at - accepted_at : 0;
    auto it = by_kind_.find(kind);
    if (it == by_kind_.end()) it = by_kind_.emplace(std::string(kind), GenTimeEstimate{}).first;
    it->second.observe(lower, result_at - accepted_at);
    changed_[it->first] = true;
}

bool PollPlanner::restore(const std::string& kind, std::string_view blob) {
    auto e = GenTimeEstimate::decode(blob);
    if (!e) return false;
    by_kind_[kind] = *e;
    return true;
}

std::vector<std::pair<std::string, std::string>> PollPlanner::take_changed() {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [kind, flag] : changed_)
        if (flag) out.emplace_back(kind, by_kind_[kind].encode());
    changed_.clear();
    return out;
}

const GenTimeEstimate* PollPlanner::estimate(std::string_view kind) const {
    auto it = by_kind_.find(kind);
    return it == by_kind_.end() ? nullptr : &it->second;
}

}  // namespace genq::sched
