#include "sched/spool_scanner.hpp"

#include <limits>

namespace genq::sched {
namespace {

bool is_hex64(std::string_view s) {
    if (s.size() != 64) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

// "<sha256>.tmp<digits>" (a fast write) or ".<sha256>.tmp<digits>" (a durable write).
bool is_partial(std::string_view s) {
    if (!s.empty() && s.front() == '.') s.remove_prefix(1);
    if (s.size() <= 68 || !is_hex64(s.substr(0, 64)) || s.substr(64, 4) != ".tmp") return false;
    for (char c : s.substr(68))
        if (c < '0' || c > '9') return false;
    return true;
}

}  // namespace

SpoolVerdict judge_spool_file(const ports::SpoolEntry& f, TimePoint now, double grace) {
    // Young files are someone's write in progress, whatever their name says.
    if (f.mtime_s > now - grace) return SpoolVerdict::keep;
    if (is_hex64(f.name)) return f.referenced ? SpoolVerdict::keep : SpoolVerdict::orphan;
    if (is_partial(f.name)) return SpoolVerdict::partial;
    return SpoolVerdict::keep;  // not a name genq writes: not genq's to delete
}

void SpoolScanner::request(TimePoint now) {
    if (phase_ != Phase::idle) return;
    phase_ = Phase::first;
    next_at_ = now;
    started_ = now;
    report_ = {};
}

TimePoint SpoolScanner::next_at() const {
    return phase_ == Phase::idle ? std::numeric_limits<TimePoint>::infinity() : next_at_;
}

std::optional<SpoolScanner::Step> SpoolScanner::step(TimePoint now) {
    if (phase_ == Phase::idle || now < next_at_) return std::nullopt;
    Step s;
    s.from_start = phase_ == Phase::first;
    return s;
}

SpoolScanner::Decision SpoolScanner::on_page(const ports::SpoolPage& page, TimePoint now) {
    Decision d;
    if (phase_ == Phase::idle) return d;
    ++report_.pages;
    for (const auto& f : page.entries) {
        ++report_.examined;
        switch (judge_spool_file(f, now, kGrace)) {
            case SpoolVerdict::orphan:
                ++report_.orphans;
                d.remove.push_back(f.name);
                break;
            case SpoolVerdict::partial:
                ++report_.partials;
                d.remove.push_back(f.name);
                break;
            case SpoolVerdict::keep:
                break;
        }
    }
    if (page.end) {
        report_.seconds = now - started_;
        d.finished = report_;
        phase_ = Phase::idle;
        return d;
    }
    phase_ = Phase::next;
    next_at_ = now + kPagePause;
    return d;
}

}  // namespace genq::sched
