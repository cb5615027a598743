// The job as every layer names it. In this branch a bridge to today's store::Job, so the ports
// (lib/ports) build against the current tree; the queue rework defines the type here itself.
#pragma once
#include "store/job.hpp"

namespace genq {
using sched::JobState;
using store::Job;
}  // namespace genq
