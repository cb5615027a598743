#include "sched/key_pool.hpp"

#include <algorithm>
#include <limits>

namespace genq::sched {
namespace {

constexpr TimePoint kNever = std::numeric_limits<TimePoint>::infinity();

}  // namespace

std::string_view to_string(KeyStatus s) {
    switch (s) {
        case KeyStatus::active:
            return "active";
        case KeyStatus::unauthorized:
            return "unauthorized";
        case KeyStatus::out_of_credits:
            return "out_of_credits";
    }
    return "active";
}

void KeyPool::configure(const KeyLimits& limits, const std::vector<KeySpec>& specs) {
    limits_ = limits;
    std::map<std::string, Key, std::less<>> next;
    for (const auto& spec : specs) {
        auto old = keys_.find(spec.name);
        Key k = old != keys_.end() ? std::move(old->second) : Key{};
        k.spec = spec;
        k.status = KeyStatus::active;
        k.limiter.configure(limits.requests_per_window, limits.window);
        next.emplace(spec.name, std::move(k));
    }
    keys_ = std::move(next);
}

std::vector<std::string> KeyPool::names() const {
    std::vector<std::string> out;
    for (const auto& [name, k] : keys_) out.push_back(name);
    return out;
}

KeyPool::Key* KeyPool::find(std::string_view name) {
    auto it = keys_.find(name);
    return it == keys_.end() ? nullptr : &it->second;
}

const KeyPool::Key* KeyPool::find(std::string_view name) const {
    auto it = keys_.find(name);
    return it == keys_.end() ? nullptr : &it->second;
}

TimePoint KeyPool::spacing() const {
    return limits_.window / std::max(1, limits_.requests_per_window);
}

TimePoint KeyPool::paced(const Key& k) const { return k.pace_next; }

// The next slot is one spacing after this one's slot on the grid, not after the moment it was
// taken: a decision made late (the loop was in an fsync, a timer fired a little after its
// time) is made up by the next ones, up to kPaceCatchUp slots. Lateness used to accumulate:
// with sends 6.7 ms apart, 0.85 ms of lateness per send cost 11 % of the budget. Later than
// that (the key was idle), the grid starts again from now.
// Sends restored from before a restart carry no such credit: the time the process was down
// is not lateness, and making it up would send the next ones back to back.
void KeyPool::advance_pace(Key& k, TimePoint now) const {
    bool new_grid = k.pace_from_now || now > k.pace_next + kPaceCatchUp * spacing();
    TimePoint base = new_grid ? std::max(now, k.pace_next) : k.pace_next;
    k.pace_next = base + spacing();
    k.pace_from_now = false;
}

bool KeyPool::can_take_submit(const Key& k, TimePoint now) const {
    if (k.status != KeyStatus::active || k.paused || now < k.locked_until || now < k.held_until)
        return false;
    if (limits_.max_in_flight > 0 && k.in_flight >= limits_.max_in_flight) return false;
    return now >= paced(k) && k.limiter.can_send(now, k.reserved);
}

std::optional<std::string> KeyPool::choose_for_submit(TimePoint now, std::string_view requested,
                                                      const std::set<std::string>& excluded) {
    if (!requested.empty()) {
        const Key* k = find(requested);
        if (!k || !can_take_submit(*k, now) || excluded.count(std::string(requested)))
            return std::nullopt;
        return std::string(requested);
    }
    // Smooth weighted round robin (as nginx): over time each key gets its weight's share of
    // the submissions it could take.
    double total = 0;
    Key* best = nullptr;
    for (auto& [name, k] : keys_) {
        if (!can_take_submit(k, now) || excluded.count(name)) continue;
        k.current_weight += k.spec.weight;
        total += k.spec.weight;
        if (!best || k.current_weight > best->current_weight) best = &k;
    }
    if (!best) return std::nullopt;
    best->current_weight -= total;
    return best->spec.name;
}

bool KeyPool::can_send(std::string_view name, TimePoint now) const {
    return next_send_time(name, now) <= now;
}

TimePoint KeyPool::next_send_time(std::string_view name, TimePoint now) const {
    const Key* k = find(name);
    if (!k) return kNever;
    return std::max(
        {k->locked_until, k->held_until, paced(*k), k->limiter.next_free(now, k->reserved)});
}

TimePoint KeyPool::next_submit_time(TimePoint now) const {
    TimePoint best = kNever;
    for (const auto& [name, k] : keys_) {
        if (k.status != KeyStatus::active || k.paused) continue;
        if (limits_.max_in_flight > 0 && k.in_flight >= limits_.max_in_flight) continue;
        best = std::min(best, std::max({k.locked_until, k.held_until, paced(k),
                                        k.limiter.next_free(now, k.reserved)}));
    }
    return best;
}

void KeyPool::reserve(std::string_view name, TimePoint now) {
    if (Key* k = find(name)) {
        ++k->reserved;
        advance_pace(*k, now);
    }
}

void KeyPool::commit_send(std::string_view name, TimePoint t) {
    if (Key* k = find(name)) {
        k->reserved = std::max(0, k->reserved - 1);
        k->limiter.record(t);
    }
}

void KeyPool::release(std::string_view name) {
    if (Key* k = find(name)) k->reserved = std::max(0, k->reserved - 1);
}

bool KeyPool::try_send_now(std::string_view name, TimePoint now) {
    Key* k = find(name);
    if (!k || now < k->locked_until || now < k->held_until ||
        !k->limiter.can_send(now, k->reserved))
        return false;
    k->limiter.record(now);
    advance_pace(*k, now);
    return true;
}

void KeyPool::restore_sends(std::string_view name, const std::vector<TimePoint>& times) {
    Key* k = find(name);
    if (!k) return;
    for (TimePoint t : times) {
        k->limiter.record(t);
        k->pace_next = std::max(k->pace_next, t + spacing());
    }
    k->pace_from_now = true;
}

void KeyPool::on_shared_refusal(std::string_view name, TimePoint t, TimePoint until,
                                bool locked_out) {
    Key* k = find(name);
    if (!k) return;
    k->limiter.forget(t);
    if (locked_out)
        k->locked_until = std::max(k->locked_until, until);
    else
        k->held_until = std::max(k->held_until, until);
}

void KeyPool::on_rate_limited(std::string_view name, TimePoint now) {
    if (Key* k = find(name)) k->locked_until = std::max(k->locked_until, now + limits_.lockout);
}

void KeyPool::set_locked_until(std::string_view name, TimePoint until) {
    if (Key* k = find(name)) k->locked_until = until;
}

void KeyPool::set_status(std::string_view name, KeyStatus s) {
    if (Key* k = find(name)) k->status = s;
}

void KeyPool::set_paused(std::string_view name, bool paused) {
    if (Key* k = find(name)) k->paused = paused;
}

void KeyPool::add_in_flight(std::string_view name, int delta) {
    if (Key* k = find(name)) k->in_flight = std::max(0, k->in_flight + delta);
}

std::optional<KeySnapshot> KeyPool::snapshot(std::string_view name, TimePoint now) const {
    const Key* k = find(name);
    if (!k) return std::nullopt;
    return KeySnapshot{k->spec.name, k->spec.weight,          k->status,   k->paused,
                       k->locked_until, k->limiter.in_window(now), k->reserved, k->in_flight};
}

std::vector<KeySnapshot> KeyPool::snapshots(TimePoint now) const {
    std::vector<KeySnapshot> out;
    for (const auto& [name, k] : keys_) out.push_back(*snapshot(name, now));
    return out;
}

}  // namespace genq::sched
