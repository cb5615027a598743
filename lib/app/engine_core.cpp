#include "app/engine_core.hpp"

#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "app/pause_memory.hpp"
#include "app/state_disk.hpp"

namespace genq::app {

EngineCore::EngineCore(boost::asio::io_context& io_, store::QueueStore& store_,
                       net::HttpsClient& client_, Metrics& metrics_, const Clock& clock_)
    : io(io_), store(store_), client(client_), metrics(metrics_), clock(clock_),
      outputs("", store_), grace_timer(io_) {}

void EngineCore::no_space(const std::string& what) {
    machine.set_store_full(true);
    if (disk) disk->no_space(what);
}

void EngineCore::save_pauses() {
    pauses_unsaved = !guarded("the pauses", [&] { remember_pauses(store, machine); });
}

void EngineCore::space_returned() {
    if (pauses_unsaved) save_pauses();
    actions.perform(machine.store_writable());
    dispatcher.queue_changed();
}

void EngineCore::task_ended(std::exception_ptr e) {
    --tasks;
    if (e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& err) {
            // The store is the source of truth; an exception here is a bug or a dead disk.
            spdlog::critical("internal error in an engine task: {}; stopping", err.what());
            std::_Exit(1);
        }
    }
    if (stopping && tasks == 0 && on_stopped) {
        dispatcher.save_planner();
        grace_timer.cancel();
        auto f = std::move(on_stopped);
        on_stopped = nullptr;
        f();
    }
}

}  // namespace genq::app
