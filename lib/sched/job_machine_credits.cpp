// Credits before they run out (issue 15): each key's balance, read with GET /v1/user/balance at
// start-up, after each reload and every kBalanceEvery seconds, and the rule that a key whose
// balance cannot pay for a job's price gets no new work (the job waits with reason "credits")
// instead of collecting 402s. The reads are requests of their key: reserved on its limiter,
// sent only when may_send() allows.
#include <fmt/format.h>

#include <limits>

#include "sched/job_machine.hpp"

namespace genq::sched {

void JobMachine::schedule_balance_reads() {
    std::map<std::string, KeyCredits> kept;
    for (const auto& name : keys_.names()) {
        KeyCredits c = credits_.count(name) ? credits_[name] : KeyCredits{};
        c.due = 0;  // read again as soon as the key can send
        kept[name] = c;
    }
    credits_ = std::move(kept);
}

Actions JobMachine::dispatch_balances(TimePoint now) {
    Actions out;
    for (auto& [key, c] : credits_) {
        if (c.reading || c.due > now || !keys_.can_send(key, now)) continue;
        keys_.reserve(key, now);
        Request r;
        r.key = key;
        r.balance = true;
        c.reading = true;
        out.push_back(SendBalance{new_request(std::move(r)), key});
    }
    return out;
}

void JobMachine::on_balance(RequestId request, const Result<double>& credits, TimePoint now) {
    auto it = requests_.find(request);
    if (it == requests_.end() || !it->second.balance) return;
    const std::string key = it->second.key;
    const TimePoint refused_until = it->second.refused_until;
    release(request);
    auto c = credits_.find(key);
    if (c == credits_.end()) return;  // the key was removed by a reload meanwhile
    c->second.reading = false;
    if (!credits) {
        // Held back by the shared limiter: read as soon as the key is free.
        c->second.due = refused_until > 0 ? refused_until : now + kBalanceRetry;
        return;
    }
    c->second.balance = *credits;
    c->second.due = now + kBalanceEvery;
}

std::optional<double> JobMachine::balance(const std::string& key) const {
    auto c = credits_.find(key);
    return c == credits_.end() ? std::nullopt : c->second.balance;
}

TimePoint JobMachine::next_balance_time(TimePoint now) const {
    TimePoint next = std::numeric_limits<TimePoint>::infinity();
    for (const auto& [key, c] : credits_)
        if (!c.reading) next = std::min(next, std::max(c.due, keys_.next_send_time(key, now)));
    return next;
}

void JobMachine::charge_balance(const std::string& key, double credits) {
    auto c = credits_.find(key);
    if (c != credits_.end() && c->second.balance) *c->second.balance -= credits;
}

std::set<std::string> JobMachine::too_poor_for(const Job& job) const {
    std::set<std::string> out;
    const int price = price_of(job);
    for (const auto& [key, c] : credits_) {
        if (!c.balance) continue;
        auto committed = committed_by_key_.find(key);  // what the key's active jobs will cost
        double held = committed == committed_by_key_.end() ? 0 : committed->second;
        if (*c.balance - held < price) out.insert(key);
    }
    return out;
}

std::optional<std::string> JobMachine::choose_paying_key(Actions& out, Job& job, TimePoint now) {
    std::set<std::string> poor = too_poor_for(job);
    auto key = keys_.choose_for_submit(now, job.requested_key, poor);
    if (key || poor.empty()) return key;
    // No key that could be asked can pay: the job waits for credits, and says so.
    const bool none_can_pay = job.requested_key.empty()
                                  ? poor.size() == keys_.names().size()
                                  : poor.count(job.requested_key) > 0;
    if (none_can_pay && job.wait_reason != "credits") {
        job.wait_reason = "credits";
        out.push_back(SaveProgress{job, false});
    }
    return std::nullopt;
}

}  // namespace genq::sched
