// The wire types of the control API (SPEC §6), shared by genqd and genqctl so that each shape is
// written once and read once: the job, the error body, the list page, a job's events, the status
// view and the batch results, plus the one URL encoder. No I/O here.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/job.hpp"
#include "core/result.hpp"
#include "ports/control.hpp"
#include "ports/job_reader.hpp"
#include "ports/retention.hpp"

namespace genq::api::wire {

using nlohmann::json;

// Serialises with invalid UTF-8 replaced (names and messages may come from outside).
std::string dump(const json& j);

// ---- the job (SPEC §3 "The job as JSON") --------------------------------------------------
json job_json(const Job& job);
// The daemon's job JSON back into a Job: times as ms, "key" as key_name. Error code
// "bad_answer" naming the field that is missing or of the wrong type.
Result<Job> parse_job(const json& j);

// ---- the error body: {"error": message, "code": code} ---------------------------------------
struct ErrorBody {
    std::string error;  // for people
    std::string code;   // for programs: not_found, conflict, invalid_param, ...
};
std::string error_body(const ErrorBody& e);  // the server's own refusals use the same writer
// nullopt when the body is not an error body.
std::optional<ErrorBody> parse_error(std::string_view body);

// ---- GET /v1/jobs: {"jobs": [...], "next": cursor | null} ------------------------------------
struct JobPage {
    std::vector<Job> jobs;
    std::string next;  // "" = no further page
};
json page_json(const JobPage& page);
Result<JobPage> parse_page(const json& j);

// ---- GET /v1/jobs/ID/events: {"job": id, "events": [...]} ------------------------------------
json events_json(const std::string& job_id, const std::vector<ports::JobEvent>& events);
Result<std::vector<ports::JobEvent>> parse_events(const json& j);

// ---- GET /v1/status ---------------------------------------------------------------------------
json status_json(const ports::StatusView& s);
Result<ports::StatusView> parse_status(const json& j);

// ---- POST /v1/jobs/batch: {"results": [{"name", "job"} | {"name", "error", "code"}]} ----------
struct BatchItem {
    std::string name;
    std::optional<Job> job;  // else `error`
    ErrorBody error;
};
json batch_json(const std::vector<BatchItem>& items);
Result<std::vector<BatchItem>> parse_batch(const json& j);

// ---- POST /v1/purge: {"dry_run", "more", "removed": {"jobs", "events", "inputs"}} ----------
json purge_json(const ports::PurgeResult& r);
Result<ports::PurgeResult> parse_purge(const json& j);

// ---- URLs ---------------------------------------------------------------------------------------
// One path segment or one query value, percent-encoded (Boost.URL): ids, key names and result
// file names may hold any byte.
std::string url_segment(std::string_view s);

}  // namespace genq::api::wire
