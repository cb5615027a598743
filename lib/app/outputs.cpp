#include "app/outputs.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/files.hpp"
#include "store/job_store.hpp"

namespace genq::app {
namespace {

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

std::string stem_of(const std::string& name) {
    auto dot = name.find_last_of('.');
    return sanitize_stem(dot == std::string::npos || dot == 0 ? name : name.substr(0, dot));
}

}  // namespace

std::string result_extension(std::string_view ct, std::string_view fallback) {
    if (ct.find("video/mp4") != std::string_view::npos) return "mp4";
    if (ct.find("image/png") != std::string_view::npos) return "png";
    if (ct.find("image/jpeg") != std::string_view::npos) return "jpg";
    if (ct.find("image/webp") != std::string_view::npos) return "webp";
    return std::string(fallback);
}

std::string Outputs::part_path(const std::string& job_id) const {
    return dir_ + "/.genq-" + job_id + ".part";
}

std::string Outputs::choose_name(const store::Job& job, std::string_view ext) const {
    std::string stem = stem_of(job.input_name);
    for (int n = 0;; ++n) {
        std::string path = dir_ + "/" + stem + (n ? "-" + std::to_string(n) : "") + "." +
                           std::string(ext);
        if (!exists(path) && !exists(path + ".json") && !jobs_.output_reserved(path, job.id))
            return path;
    }
}

Status Outputs::place(store::Job& job, const std::string& part, std::string_view ext,
                      const std::function<std::string(const store::Job&)>& metadata) {
    for (int tries = 0; tries < 100; ++tries) {
        if (job.output.empty()) {
            job.output = choose_name(job, ext);
            // Relaxed: the reservation must survive a killed process (it does, in the WAL) so a
            // restart recognises the renamed file; the job's final commit makes it durable.
            jobs_.save_progress(job, false);
        }
        std::string meta_tmp = dir_ + "/.genq-" + job.id + ".json.part";
        if (auto st = write_file_synced(meta_tmp, metadata(job)); !st) return st;
        auto renamed = rename_no_replace(part, job.output);
        if (!renamed) {
            ::unlink(meta_tmp.c_str());
            if (renamed.error().code != "exists") return renamed;
            job.output.clear();  // someone else's file appeared under the name: pick another
            continue;
        }
        if (::rename(meta_tmp.c_str(), (job.output + ".json").c_str()) != 0)
            return Error{"io_error", "cannot rename metadata for " + job.output + ": " +
                                         errno_text(errno)};
        return fsync_path(dir_);
    }
    return Error{"io_error", "no free output name for " + job.input_name};
}

Status Outputs::write_metadata(const store::Job& job) {
    std::string text =
        store::to_json(job).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    return write_file_durably(job.output + ".json", text + "\n");
}

}  // namespace genq::app
