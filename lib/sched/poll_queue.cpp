#include "sched/poll_queue.hpp"

namespace genq::sched {

void PollQueue::schedule(std::string_view key, std::string_view job_id, TimePoint due) {
    remove(job_id);
    by_key_[std::string(key)].insert({due, std::string(job_id)});
    index_[std::string(job_id)] = {std::string(key), due};
}

void PollQueue::remove(std::string_view job_id) {
    auto it = index_.find(job_id);
    if (it == index_.end()) return;
    auto& set = by_key_[it->second.first];
    set.erase({it->second.second, std::string(job_id)});
    index_.erase(it);
}

std::optional<std::pair<TimePoint, std::string>> PollQueue::peek(std::string_view key) const {
    auto it = by_key_.find(key);
    if (it == by_key_.end() || it->second.empty()) return std::nullopt;
    return *it->second.begin();
}

void PollQueue::pop(std::string_view key) {
    auto it = by_key_.find(key);
    if (it == by_key_.end() || it->second.empty()) return;
    index_.erase(it->second.begin()->second);
    it->second.erase(it->second.begin());
}

}  // namespace genq::sched
