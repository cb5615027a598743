// The job as the store names it: the domain type lives in core/job.hpp (every layer uses it).
#pragma once
#include "core/job.hpp"

namespace genq::store {
using genq::Job;
using genq::JobState;
using genq::to_json;
}  // namespace genq::store
