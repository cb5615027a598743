// The job states as the scheduler names them: defined in core/job_state.hpp.
#pragma once
#include "core/job_state.hpp"

namespace genq::sched {
using genq::is_terminal;
using genq::JobState;
using genq::parse_job_state;
using genq::to_string;
using genq::transition_allowed;
}  // namespace genq::sched
