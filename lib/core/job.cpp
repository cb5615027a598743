#include "core/job.hpp"

#include "core/clock.hpp"

namespace genq {
namespace {

nlohmann::json text_or_null(const std::string& s) {
    return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

}  // namespace

nlohmann::json to_json(const Job& j) {
    nlohmann::json error = nullptr;
    if (!j.error_code.empty()) error = {{"code", j.error_code}, {"message", j.error_message}};
    return {
        {"id", j.id},
        {"kind", j.kind},
        {"state", to_string(j.state)},
        {"priority", j.priority},
        {"params", j.params},
        {"input",
         {{"name", j.input_name},
          {"sha256", j.input_sha256},
          {"width", j.input_width},
          {"height", j.input_height},
          {"bytes", j.input_bytes},
          {"fit", text_or_null(j.fit)},
          {"original", j.fit.empty() ? nlohmann::json(nullptr)
                                     : nlohmann::json{{"width", j.original_width},
                                                      {"height", j.original_height}}}}},
        {"key", text_or_null(j.key_name.empty() ? j.requested_key : j.key_name)},
        {"remote_id", text_or_null(j.remote_id)},
        {"attempts", j.attempts},
        {"polls", j.polls},
        {"created_at", iso8601_ms(j.created_at)},
        {"updated_at", iso8601_ms(j.updated_at)},
        {"finished_at", j.finished_at ? nlohmann::json(iso8601_ms(*j.finished_at)) : nullptr},
        {"output", text_or_null(j.output)},
        {"finish_reason", text_or_null(j.finish_reason)},
        {"seed", text_or_null(j.seed)},
        {"error", error},
        {"source", j.source},
        {"uid", j.uid ? nlohmann::json(*j.uid) : nullptr},
        {"wait_reason", text_or_null(j.wait_reason)},
        {"cost", j.cost},
        {"node", text_or_null(j.node)},
    };
}

}  // namespace genq
