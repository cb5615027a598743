#include "app/outputs.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/files.hpp"
#include "store/database.hpp"
#include "store/queue_store.hpp"

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

std::string Outputs::part_path(const std::string& job_id) const {
    return dir_ + "/.genq-" + job_id + ".part";
}

// The first free name from the hint on: each probe costs two lstat calls and a query, and a
// thousand results of the same input name probed from -1 every time made placing a result
// quadratic (most of genqd's CPU in a backlog of one image). The hint only skips names this
// process already found taken; a name freed later (a deleted output) is not reused until restart.
std::string Outputs::choose_name(const Job& job, std::string_view ext) const {
    std::string stem = stem_of(job.input_name);
    std::string base = dir_ + "/" + stem;
    std::string tail = "." + std::string(ext);
    if (next_suffix_.size() > kMaxHints) next_suffix_.clear();
    int& hint = next_suffix_[base + tail];
    for (int n = hint;; ++n) {
        std::string path = base + (n ? "-" + std::to_string(n) : "") + tail;
        if (!exists(path) && !exists(path + ".json") && !store_.output_reserved(path, job.id)) {
            hint = n + 1;
            return path;
        }
    }
}

std::string Outputs::metadata_text(const Job& job) {
    Job final_view = job;
    final_view.state = JobState::succeeded;
    return to_json(final_view).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Status Outputs::place(Job& job, std::string_view ext, store::Durability d) {
    const std::string part = part_path(job.id);
    for (int tries = 0; tries < kMaxNameTries; ++tries) {
        if (!job.output.empty()) {
            auto st = place_reserved(job, part);
            if (st || st.error().code != "exists") return st;
            continue;  // someone else's file appeared under the name: pick another
        }
        reserve_name(job, ext, d);
        auto st = move_new(dir_, part, job.output, metadata_text(job));
        if (st || st.error().code != "exists") return st;
        job.output.clear();
    }
    return Error{"io_error", "no free output name for " + job.input_name};
}

void Outputs::reserve_name(Job& job, std::string_view ext, store::Durability d) {
    job.output = choose_name(job, ext);
    // The reservation must survive a killed process (relaxed commits do, in the WAL) so a
    // restart recognises the renamed file; a result that cannot be fetched again (sync kinds)
    // asks for a durable one.
    try {
        store_.save_progress(job, d);
    } catch (const store::DiskFullError&) {
        // Not reserved: the name stays free for this job's next try (no "-1").
        next_suffix_.clear();
        job.output.clear();
        throw;
    }
}

// A name just found free: the metadata goes straight to its place, created only if absent, and
// complete (fsynced) before the result appears beside it. No temporary and no second rename:
// one file created per result instead of two.
Status Outputs::move_new(const std::string& dir, const std::string& part,
                         const std::string& output, const std::string& metadata) {
    const std::string meta = output + ".json";
    auto written = write_new_file_synced(meta, metadata);
    if (!written) return written;  // "exists" included
    auto renamed = rename_no_replace(part, output);
    if (renamed) return fsync_path(dir);
    ::unlink(meta.c_str());  // ours: created above
    return renamed;
}

// A name reserved before (a restart finishing a result): its metadata may be ours from before
// the crash, so it is replaced through a temporary as the result is moved in. "exists" (and
// job.output cleared) when someone else's file took the name.
Status Outputs::place_reserved(Job& job, const std::string& part) {
    std::string meta_tmp = dir_ + "/.genq-" + job.id + ".json.part";
    if (auto st = write_file_synced(meta_tmp, metadata_text(job)); !st) return st;
    auto renamed = rename_no_replace(part, job.output);
    if (!renamed) {
        ::unlink(meta_tmp.c_str());
        if (renamed.error().code == "exists") job.output.clear();
        return renamed;
    }
    if (::rename(meta_tmp.c_str(), (job.output + ".json").c_str()) != 0)
        return Error{"io_error",
                     "cannot rename metadata for " + job.output + ": " + errno_text(errno)};
    return fsync_path(dir_);
}

Status Outputs::write_metadata(const Job& job) {
    return write_file_durably(job.output + ".json", metadata_text(job));
}

}  // namespace genq::app
