#include "app/result_placer.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "app/engine_core.hpp"

namespace genq::app {

namespace asio = boost::asio;

void ResultPlacer::place(const sched::PlaceResult& p, const std::string& ext,
                         store::Durability d) {
    place(p, ext, d, 0);
}

void ResultPlacer::place(const sched::PlaceResult& p, const std::string& ext,
                         store::Durability d, int tries) {
    Job job = p.job;
    job.output.clear();
    // The name's reservation is a store write: without space the result waits in its
    // temporary file and is placed once space returns.
    if (!e_.guarded("a result's name", [&] { e_.outputs.reserve_name(job, ext, d); }))
        return e_.machine.on_place_deferred(p);
    std::string dir = e_.outputs.dir();
    std::string part = e_.outputs.part_path(job.id);
    std::string meta = Outputs::metadata_text(job);
    ++e_.tasks;  // a stop waits for it
    auto* io = &e_.io;
    auto alive = alive_;
    worker_.post([this, io, alive, p, job = std::move(job), ext, d, tries, dir = std::move(dir),
                  part = std::move(part), meta = std::move(meta)]() mutable {
        Status moved = Outputs::move_new(dir, part, job.output, meta);
        asio::post(*io, [this, alive, p = std::move(p), job = std::move(job), ext, d, tries,
                         moved = std::move(moved)]() mutable {
            if (*alive) finish(p, std::move(job), ext, d, tries, moved);
        });
    });
}

// On the loop.
void ResultPlacer::finish(const sched::PlaceResult& p, Job job, const std::string& ext,
                          store::Durability d, int tries, const Status& moved) {
    if (!moved && moved.error().code == "exists" && tries + 1 < Outputs::kMaxNameTries) {
        place(p, ext, d, tries + 1);  // someone else's file took the name: reserve another
    } else {
        Status placed = moved;
        if (!moved && moved.error().code == "exists")
            placed = Error{"io_error", "no free output name for " + job.input_name};
        if (!placed)
            spdlog::error("job {}: result not saved: {}", job.id, placed.error().message);
        e_.actions.perform(e_.machine.on_placed(job.id, placed, job.output, e_.now()));
    }
    e_.task_ended(nullptr);  // last: the stop's `done` may run in it
}

}  // namespace genq::app
