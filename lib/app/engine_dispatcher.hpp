// Engine-private: the dispatch loop. Each turn it sends due polls and balance reads, then
// offers queued jobs to the machine (which places them on keys) from a batch it keeps between
// turns, and sleeps until the machine's next wake-up or a notify().
#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <vector>

#include "core/clock.hpp"
#include "core/job.hpp"

namespace genq::app {

struct EngineCore;

class Dispatcher {
public:
    explicit Dispatcher(EngineCore& e);

    // Starts the loop (once, after recovery); it ends when the engine stops running.
    void spawn_loop();
    // New work or a changed condition: re-run the dispatcher soon.
    void notify();
    // The queue changed (new jobs, a job queued again, a cancel): the kept batch is re-read.
    void queue_changed();
    // Settings changed: the kept batch is re-read on the next turn.
    void mark_stale() { queued_stale_ = true; }
    // Stops the loop's sleep (the engine stops).
    void cancel_wake() { wake_.cancel(); }
    // Writes what the poll planner learned since the last save.
    void save_planner();

private:
    boost::asio::awaitable<void> dispatch_loop();
    TimePoint turn(TimePoint t);
    void housekeeping(TimePoint t);
    TimePoint dispatch(TimePoint t);
    void drop_offered();
    void refresh_queued(TimePoint t);

    EngineCore& e_;
    boost::asio::steady_timer wake_;
    bool dirty_ = false;
    bool db_down_ = false;  // the shared store did not answer the last dispatcher turn
    TimePoint last_prune_ = 0;
    TimePoint last_planner_save_ = 0;
    std::vector<Job> queued_;  // the dispatcher's batch of queued jobs, best first
    bool queued_stale_ = true;
    TimePoint queued_read_at_ = 0;
    TimePoint queued_wake_ = 0;  // when a queued job not yet ready becomes ready (0 = none)
};

}  // namespace genq::app
