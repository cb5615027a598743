// genq's job ids: lower-case base32 of (milliseconds, counter, random), so they sort by creation
// time and never collide within one daemon.
#pragma once
#include <cstdint>
#include <string>

namespace genq {

// 10 characters of time + 3 of per-millisecond counter + 7 random: 20 characters.
std::string new_job_id(std::int64_t now_ms);
bool looks_like_job_id(const std::string& s);

}  // namespace genq
