// The job state machine (SPEC §3): which transitions exist, decided in one place.
#pragma once
#include <optional>
#include <string_view>

namespace genq {

enum class JobState { queued, submitting, running, succeeded, failed, canceled };

std::string_view to_string(JobState s);
std::optional<JobState> parse_job_state(std::string_view s);
bool is_terminal(JobState s);

// queued -> submitting -> running -> succeeded | failed | canceled, plus:
//  submitting -> queued (retryable failure, unknown outcome after a crash, key rested),
//  submitting -> succeeded | failed (sync kinds; permanent failures), queued -> canceled|failed,
//  running -> queued (not_found is a failure; a key revoked mid-run keeps polling, so no),
//  failed | canceled -> queued (retry by the user).
bool transition_allowed(JobState from, JobState to);

}  // namespace genq
