#include "core/job_state.hpp"

#include <array>

namespace genq {
namespace {

constexpr std::array<std::string_view, 6> kNames = {"queued",    "submitting", "running",
                                                     "succeeded", "failed",     "canceled"};

}  // namespace

std::string_view to_string(JobState s) { return kNames[static_cast<std::size_t>(s)]; }

std::optional<JobState> parse_job_state(std::string_view s) {
    for (std::size_t i = 0; i < kNames.size(); ++i)
        if (kNames[i] == s) return static_cast<JobState>(i);
    return std::nullopt;
}

bool is_terminal(JobState s) {
    return s == JobState::succeeded || s == JobState::failed || s == JobState::canceled;
}

bool transition_allowed(JobState from, JobState to) {
    using S = JobState;
    switch (from) {
        case S::queued:
            return to == S::submitting || to == S::canceled || to == S::failed;
        case S::submitting:
            return to == S::queued || to == S::running || to == S::succeeded || to == S::failed ||
                   to == S::canceled;
        case S::running:
            return to == S::succeeded || to == S::failed || to == S::canceled;
        case S::failed:
        case S::canceled:
            return to == S::queued;
        case S::succeeded:
            return false;
    }
    return false;
}

}  // namespace genq
