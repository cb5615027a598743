// A job as stored and as shown (SPEC §3 "The job as JSON").
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/job_state.hpp"

namespace genq {

struct Job {
    std::string id;
    std::string kind;
    JobState state = JobState::queued;
    int priority = 0;
    nlohmann::json params = nlohmann::json::object();
    std::string input_name;
    std::string input_sha256;
    int input_width = 0;
    int input_height = 0;
    std::int64_t input_bytes = 0;
    std::string fit;  // "" = the image as given, "crop" | "pad" = fitted to a video size
    int original_width = 0, original_height = 0;  // before the fit (0 without one)
    std::string mask_sha256;    // "" = none
    std::string requested_key;  // "" = any
    std::string key_name;       // the key that submitted it
    std::string remote_id;
    int attempts = 0;
    int polls = 0;
    double last_poll_s = 0;  // when the last poll was answered (spacing across restarts and nodes)
    double not_before_s = 0;
    std::string wait_reason;
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
    std::optional<std::int64_t> finished_at;
    std::string output;
    std::string finish_reason;
    std::string seed;
    std::string error_code;
    std::string error_message;
    std::string source = "socket";
    std::optional<std::int64_t> uid;
    int cost = 0;
    std::string node;  // shared store: the node that holds or held its generation ("" = none)
};

nlohmann::json to_json(const Job& job);

}  // namespace genq
