#include "watch/watch_policy.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace genq::watch {
namespace {

constexpr std::size_t kMaxShownError = 300;  // a JSON parser's message can quote a whole line

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool ends_with(std::string_view s, std::string_view tail) {
    return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

}  // namespace

bool is_candidate(std::string_view name) {
    if (name.empty() || name.front() == '.' || name.find('/') != std::string_view::npos)
        return false;
    const std::string l = lower(name);
    // Temporary names end in their own suffix, so the image extension test below already skips
    // them; these are named to make the rule explicit (and to catch "x.part.png"-style tools).
    static constexpr std::array<std::string_view, 4> kTemp = {".part", ".tmp", ".crdownload",
                                                               "~"};
    for (auto t : kTemp)
        if (ends_with(l, t) || l.find(std::string(t) + ".") != std::string::npos) return false;
    if (l.starts_with("~$")) return false;  // office lock files
    static constexpr std::array<std::string_view, 4> kExt = {".png", ".jpg", ".jpeg", ".webp"};
    return std::any_of(kExt.begin(), kExt.end(),
                       [&](std::string_view e) { return l.size() > e.size() && ends_with(l, e); });
}

std::string sidecar_name(std::string_view image_name) { return std::string(image_name) + ".json"; }

std::string error_name(std::string_view image_name) {
    return std::string(image_name) + ".error.txt";
}

Result<nlohmann::json> parse_sidecar(std::string_view text, std::string_view sidecar) {
    const std::string where = "sidecar " + std::string(sidecar);
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        std::string what = e.what();
        if (what.size() > kMaxShownError) what = what.substr(0, kMaxShownError) + "...";
        return Error{"invalid_sidecar", where + ": not valid JSON (" + what + ")"};
    }
    if (!j.is_object())
        return Error{"invalid_sidecar", where + ": must be a JSON object of parameters, e.g. "
                                                "{\"seed\": 42, \"cfg_scale\": 2.5}"};
    for (const auto& [k, v] : j.items())
        if (v.is_object() || v.is_array())
            return Error{"invalid_sidecar",
                         where + ": " + k + ": must be a number, a string, a boolean or null"};
    return j;
}

nlohmann::json merge_params(const nlohmann::json& base, const nlohmann::json& overrides) {
    nlohmann::json out = base.is_object() ? base : nlohmann::json::object();
    for (const auto& [k, v] : overrides.items()) {
        if (v.is_null())
            out.erase(k);
        else
            out[k] = v;
    }
    return out;
}

std::string numbered_name(std::string_view name, int n) {
    if (n == 0) return std::string(name);
    // The number goes before the extension; a leading dot is not an extension.
    auto dot = name.find_last_of('.');
    if (dot == std::string_view::npos || dot == 0) dot = name.size();
    return std::string(name.substr(0, dot)) + "-" + std::to_string(n) +
           std::string(name.substr(dot));
}

std::string free_name(std::string_view name,
                      const std::function<bool(const std::string&)>& taken) {
    for (int n = 0;; ++n) {
        std::string candidate = numbered_name(name, n);
        if (!taken(candidate)) return candidate;
    }
}

std::string_view to_string(Place p) {
    switch (p) {
    case Place::processing: return "processing";
    case Place::done: return "done";
    case Place::failed: return "failed";
    case Place::gone: return "gone";
    }
    return "processing";
}

std::optional<Place> parse_place(std::string_view s) {
    for (Place p : {Place::processing, Place::done, Place::failed, Place::gone})
        if (to_string(p) == s) return p;
    return std::nullopt;
}

Place place_for(JobState s) {
    switch (s) {
    case JobState::succeeded: return Place::done;
    case JobState::failed:
    case JobState::canceled: return Place::failed;
    default: return Place::processing;
    }
}

Known classify_known(Place recorded, bool recorded_file_present) {
    // A recorded file that is no longer where it was put was moved by genq's crash window (the
    // record is written before the rename) or by the user; either way this drop is not new work.
    if (recorded == Place::processing && !recorded_file_present) return Known::resume;
    return Known::duplicate;
}

bool is_input_refusal(std::string_view error_code) {
    return error_code.starts_with("invalid_") || error_code == "too_large";
}

std::string refusal_text(std::string_view name, const Error& why) {
    return std::string(name) + " was not queued: the input was refused.\n\nReason: " +
           why.message + "\n(error code: " + why.code +
           ")\n\nNothing was sent to the provider. Fix the file (or its .json sidecar) and drop "
           "it into the folder again.\n";
}

std::string duplicate_text(std::string_view name, std::string_view job_id,
                           JobState job_state) {
    return std::string(name) +
           " was not queued: a file with this name and exactly this content was already "
           "turned into job " +
           std::string(job_id) + " (now " + std::string(to_string(job_state)) +
           ").\n\nTo run it again, use `genqctl retry " + std::string(job_id) +
           "`, or rename the file.\n";
}

std::string pruned_duplicate_text(std::string_view name, std::string_view job_id) {
    return std::string(name) +
           " was not queued: a file with this name and exactly this content was already "
           "turned into job " +
           std::string(job_id) +
           ", which has since been pruned from genq's history ([retention] finished_jobs).\n\n"
           "To run it again, rename the file.\n";
}

std::string job_failure_text(std::string_view name, const Job& job) {
    std::string out = std::string(name) + ": job " + job.id + " ";
    if (job.state == JobState::canceled)
        return out + "was canceled before it finished.\n";
    out += "failed.\n\nReason: " + (job.error_message.empty() ? "unknown" : job.error_message) +
           "\n";
    if (job.error_code.empty()) return out;
    // A job that reached the provider carries the provider's error name (SPEC §3).
    const bool from_provider = job.attempts > 0 && !job.key_name.empty();
    out += from_provider ? "Provider error: " : "Error code: ";
    return out + job.error_code + "\n";
}

}  // namespace genq::watch
