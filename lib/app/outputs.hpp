// Where results land (SPEC §5): <output_dir>/<input stem>.<ext>, then -1, -2, ... on collision;
// names are sanitised and never leave output_dir. The name is reserved in the job row before the
// rename, so a crash between rename and commit is recognised on restart instead of duplicated.
#pragma once
#include <functional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "store/job.hpp"

namespace genq::store {
class JobStore;
}

namespace genq::app {

class Outputs {
public:
    Outputs(std::string dir, store::JobStore& jobs) : dir_(std::move(dir)), jobs_(jobs) {}
    void set_dir(std::string dir) { dir_ = std::move(dir); }
    const std::string& dir() const { return dir_; }

    // The temporary file a result is streamed into.
    std::string part_path(const std::string& job_id) const;

    // Moves the fsynced part file into place under a free name (reserved in job.output first)
    // together with its metadata file (`metadata` renders it once the name is known), with one
    // directory fsync for both. On success job.output is the final path.
    Status place(store::Job& job, const std::string& part, std::string_view ext,
                 const std::function<std::string(const store::Job&)>& metadata);
    // Writes <output>.json for a job in its final state.
    Status write_metadata(const store::Job& job);

private:
    std::string choose_name(const store::Job& job, std::string_view ext) const;
    std::string dir_;
    store::JobStore& jobs_;
};

// Extension for a result: from its content type, else the operation's default.
std::string result_extension(std::string_view content_type, std::string_view fallback);

}  // namespace genq::app
