// Watched directories, the decisions without the I/O (SPEC §7): which names are candidates,
// sidecar parsing, collision-free names in processing/, done/ and failed/, where a file belongs
// for a job state, and the words of <file>.error.txt. Unit-tested without a file system.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "core/job_state.hpp"
#include "store/job.hpp"

namespace genq::watch {

// A regular file name genq turns into a job: *.png, *.jpg, *.jpeg or *.webp (any case), not
// hidden, not a download or editor temporary name. The caller still checks the file type.
bool is_candidate(std::string_view name);

// "cat.png" -> "cat.png.json": the optional sidecar that overrides the watch's params.
std::string sidecar_name(std::string_view image_name);
// "cat.png" -> "cat.png.error.txt", beside a file in failed/.
std::string error_name(std::string_view image_name);

// A sidecar's text: a JSON object of params. Errors name the sidecar and say what is wrong.
Result<nlohmann::json> parse_sidecar(std::string_view text, std::string_view sidecar);
// The watch's params with the sidecar's keys on top (a null value removes a key).
nlohmann::json merge_params(const nlohmann::json& base, const nlohmann::json& overrides);

// "cat.png", n=2 -> "cat-2.png"; "README", n=1 -> "README-1"; n=0 -> the name unchanged.
std::string numbered_name(std::string_view name, int n);
// The first of name, name-1, name-2, ... for which `taken` says no. Never overwrites anything:
// the caller's `taken` covers the file, its sidecar and its error.txt.
std::string free_name(std::string_view name, const std::function<bool(const std::string&)>& taken);

// Where a watched file lives. `gone`: it vanished before genq could move it (the job stands).
enum class Place { processing, done, failed, gone };
std::string_view to_string(Place p);
std::optional<Place> parse_place(std::string_view s);
// succeeded -> done, failed and canceled -> failed, anything still active -> processing.
Place place_for(JobState s);

// A file in the inbox whose name and content were seen before. `resume`: genq stopped between
// recording it and moving it, so this is the same drop and finishes moving; `duplicate`: the
// recorded file still sits where it was put, so this is a second drop and makes no new job.
enum class Known { resume, duplicate };
Known classify_known(Place recorded, bool recorded_file_present);

// Whether an Intake error is about the input (the file goes to failed/ with the reason) rather
// than about genq's own disk (the file stays in the folder and is tried again later).
bool is_input_refusal(std::string_view error_code);

// The text of <file>.error.txt, in plain words.
std::string refusal_text(std::string_view name, const Error& why);
std::string duplicate_text(std::string_view name, std::string_view job_id,
                           JobState job_state);
// The same for a job that has since been pruned ([retention] finished_jobs): the record of the
// file outlives the job, so the file is still never turned into a second job.
std::string pruned_duplicate_text(std::string_view name, std::string_view job_id);
// For a failed or canceled job; names the provider's error when the provider answered.
std::string job_failure_text(std::string_view name, const Job& job);

}  // namespace genq::watch
