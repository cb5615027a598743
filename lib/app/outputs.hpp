// Where results land (SPEC §5): <output_dir>/<input stem>.<ext>, then -1, -2, ... on collision;
// names are sanitised and never leave output_dir. The name is reserved in the job row before the
// rename, so a crash between rename and commit is recognised on restart instead of duplicated.
// The one writer of the metadata file beside each result.
#pragma once
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/job.hpp"
#include "core/result.hpp"
#include "store/durability.hpp"

namespace genq::store {
class QueueStore;
}

namespace genq::app {

class Outputs {
public:
    Outputs(std::string dir, store::QueueStore& store) : dir_(std::move(dir)), store_(store) {}
    void set_dir(std::string dir) {
        dir_ = std::move(dir);
        next_suffix_.clear();
    }
    const std::string& dir() const { return dir_; }

    // The temporary file a result is streamed into.
    std::string part_path(const std::string& job_id) const;

    // Moves the fsynced part file into place under job.output, choosing and reserving a free
    // name first when it is empty (the reservation is saved with `d`), together with its
    // metadata file, with one directory fsync for both. On success job.output is the final path.
    Status place(Job& job, std::string_view ext, store::Durability d);
    // Writes <output>.json for a job whose result is already in place.
    Status write_metadata(const Job& job);

    // place() in two steps, for a caller that runs the second off the event loop.
    // 1. On the loop: a free name chosen and reserved in the job's row (saved with `d`); throws
    //    store::DiskFullError with nothing reserved and job.output empty.
    void reserve_name(Job& job, std::string_view ext, store::Durability d);
    // 2. Anywhere, touching neither the store nor this object: the metadata created beside the
    //    reserved name, the part file renamed under it, one directory fsync. Error "exists" when
    //    another file took the name meanwhile: reserve another.
    static Status move_new(const std::string& dir, const std::string& part,
                           const std::string& output, const std::string& metadata);
    // The job as it reads once succeeded.
    static std::string metadata_text(const Job& job);
    static constexpr int kMaxNameTries = 100;

private:
    std::string choose_name(const Job& job, std::string_view ext) const;
    Status place_reserved(Job& job, const std::string& part);
    std::string dir_;
    store::QueueStore& store_;
    // Per "<dir>/<stem>" + ".<ext>": the suffix from which the next free name is looked for.
    static constexpr std::size_t kMaxHints = 4096;
    mutable std::unordered_map<std::string, int> next_suffix_;
};

}  // namespace genq::app
