// The API keys as the scheduler sees them: each key's limiter, lock-out, status, in-flight count
// and pause flag, and the choice of key for a new submission (smooth weighted round robin among
// the keys that can send now). Sans-io: every decision takes `now`.
#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "sched/rate_limiter.hpp"

namespace genq::sched {

enum class KeyStatus { active, unauthorized, out_of_credits };
std::string_view to_string(KeyStatus s);

struct KeyLimits {
    int requests_per_window = 150;
    double window = 10.25;  // window + safety_margin
    double lockout = 60;
    int max_in_flight = 0;  // 0 = no cap
};

struct KeySpec {
    std::string name;
    double weight = 1;
};

struct KeySnapshot {
    std::string name;
    double weight;
    KeyStatus status;
    bool paused;
    TimePoint locked_until;
    int in_window;
    int reserved;
    int in_flight;
};

class KeyPool {
public:
    // Lateness made up by later sends, in spacings: at most kPaceCatchUp + 1 sends in a row.
    static constexpr int kPaceCatchUp = 2;

    // Keys that stay keep their history, lock-out and counts; new keys start fresh; removed keys
    // are forgotten. Statuses unauthorized/out_of_credits are cleared (a reload is the cure).
    void configure(const KeyLimits& limits, const std::vector<KeySpec>& keys);
    bool has(std::string_view name) const { return keys_.count(std::string(name)) > 0; }
    std::vector<std::string> names() const;

    // The key for a new submission, or nullopt when none may take one now. `requested` = "" for
    // any key; `excluded` keys are passed over (too few credits for the job). Does not reserve:
    // call reserve() once the submission is decided.
    std::optional<std::string> choose_for_submit(TimePoint now, std::string_view requested,
                                                 const std::set<std::string>& excluded = {});
    // Whether `name` may put one more request on the wire now (polls go through this too).
    bool can_send(std::string_view name, TimePoint now) const;
    // Earliest time the key may send again (lock-out and limiter); +inf for an unusable key.
    TimePoint next_send_time(std::string_view name, TimePoint now) const;
    // Earliest time any key that could take a submission may send; +inf if none could.
    TimePoint next_submit_time(TimePoint now) const;

    // A request was decided (reserve, at `now`), reached the wire (commit_send, at its send
    // time), or was dropped before sending (release).
    void reserve(std::string_view name, TimePoint now);
    void commit_send(std::string_view name, TimePoint t);
    void release(std::string_view name);
    // A send that was not reserved (a transparent retry); false if the limiter forbids it now.
    bool try_send_now(std::string_view name, TimePoint now);
    // Sends from before a restart, so the limiter's memory survives it.
    void restore_sends(std::string_view name, const std::vector<TimePoint>& times);

    // A send recorded at `t` did not go: the shared limiter (several nodes' sends of the key)
    // refused it, and the key waits until `until` (its window is full there, or, with
    // `locked_out`, another node saw a 429).
    void on_shared_refusal(std::string_view name, TimePoint t, TimePoint until, bool locked_out);
    void on_rate_limited(std::string_view name, TimePoint now);  // 429: rest `lockout`
    void set_locked_until(std::string_view name, TimePoint until);
    void set_status(std::string_view name, KeyStatus s);
    void set_paused(std::string_view name, bool paused);
    void add_in_flight(std::string_view name, int delta);

    std::optional<KeySnapshot> snapshot(std::string_view name, TimePoint now) const;
    std::vector<KeySnapshot> snapshots(TimePoint now) const;
    const KeyLimits& limits() const { return limits_; }

private:
    struct Key {
        KeySpec spec;
        SlidingWindowLimiter limiter{150, 10.25};
        KeyStatus status = KeyStatus::active;
        bool paused = false;
        TimePoint locked_until = 0;
        TimePoint held_until = 0;  // the shared limiter's window is full until then
        int reserved = 0;
        int in_flight = 0;
        double current_weight = 0;  // smooth weighted round robin state
        TimePoint pace_next = -1e18;  // the earliest next reservation or send, for pacing
        bool pace_from_now = true;    // the next decision starts a new grid (no catch-up)
    };
    // Sends of one key are paced at least window/limit apart: the budget is spent evenly instead
    // of in bursts of a whole window at once, so a request delayed on its way (network, a busy
    // provider) cannot crowd the next window at the provider. The long-run rate is unchanged.
    TimePoint spacing() const;
    TimePoint paced(const Key& k) const;
    void advance_pace(Key& k, TimePoint now) const;
    bool can_take_submit(const Key& k, TimePoint now) const;
    Key* find(std::string_view name);
    const Key* find(std::string_view name) const;

    KeyLimits limits_;
    std::map<std::string, Key, std::less<>> keys_;
};

}  // namespace genq::sched
