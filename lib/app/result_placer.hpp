// Engine-private: a received result moved into place with its file-system work off the event
// loop. The loop reserves the name (a store write, as before); one worker thread then creates
// the metadata file, renames the result and fsyncs the directory (two fsyncs and a file
// creation, about a millisecond of a loop that serves every key); back on the loop the machine
// hears the outcome. A crash in between is what recovery already handles: the name is reserved,
// so a restart finds the part file or the result under it.
#pragma once
#include <memory>
#include <string>

#include "core/job.hpp"
#include "core/result.hpp"
#include "sched/job_machine.hpp"
#include "store/durability.hpp"
#include "store/sync_worker.hpp"

namespace genq::app {

struct EngineCore;

class ResultPlacer {
public:
    explicit ResultPlacer(EngineCore& e) : e_(e), alive_(std::make_shared<bool>(true)) {}
    // What the worker still holds is done, and its answers are dropped: the names are
    // reserved, so the next start finishes those results.
    ~ResultPlacer() { *alive_ = false; }
    ResultPlacer(const ResultPlacer&) = delete;
    ResultPlacer& operator=(const ResultPlacer&) = delete;

    // A result whole in its part file and not yet named (PlaceResult with job.output empty).
    void place(const sched::PlaceResult& p, const std::string& ext, store::Durability d);

private:
    void place(const sched::PlaceResult& p, const std::string& ext, store::Durability d,
               int tries);
    void finish(const sched::PlaceResult& p, Job job, const std::string& ext,
                store::Durability d, int tries, const Status& moved);

    EngineCore& e_;
    std::shared_ptr<bool> alive_;  // read and written on the loop only
    store::SyncWorker worker_;  // last: joined first, while everything above still exists
};

}  // namespace genq::app
