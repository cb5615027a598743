// Engine-private: the state the engine's parts share (lib/app/engine_*.cpp), and the parts
// themselves. Only the engine's own files include this; callers see lib/app/engine.hpp.
#pragma once
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/engine.hpp"
#include "app/engine_actions.hpp"
#include "app/engine_dispatcher.hpp"
#include "app/engine_recovery.hpp"
#include "app/engine_requests.hpp"
#include "app/outputs.hpp"
#include "app/result_placer.hpp"
#include "app/shared_send_gate.hpp"
#include "core/clock.hpp"
#include "sched/job_machine.hpp"
#include "store/database.hpp"
#include "store/queue_store.hpp"

namespace genq::app {

inline std::int64_t day_start_ms(TimePoint t) {
    return static_cast<std::int64_t>(std::floor(t / 86400) * 86400000);
}

inline boost::asio::steady_timer::duration seconds(double s) {
    return std::chrono::microseconds(static_cast<std::int64_t>(std::max(0.0, s) * 1e6));
}

struct EngineCore {
    EngineCore(boost::asio::io_context& io_, store::QueueStore& store_, net::HttpsClient& client_,
               Metrics& metrics_, const Clock& clock_);

    boost::asio::io_context& io;
    store::QueueStore& store;
    net::HttpsClient& client;
    Metrics& metrics;
    const Clock& clock;
    Outputs outputs;
    sched::JobMachine machine;
    std::unique_ptr<SharedSendGate> gate;  // a shared store's limiter (nullptr: embedded store)
    store::SharedStore* shared = nullptr;
    std::uint64_t seen_reconnects = 0;  // the store's reconnects() at the last reconcile
    EngineSettings settings;
    std::vector<TransitionListener> listeners;
    StateDiskMonitor* disk = nullptr;
    boost::asio::steady_timer grace_timer;
    bool running = false;
    bool stopping = false;
    bool pauses_unsaved = false;
    int tasks = 0;
    std::function<void()> on_stopped;
    TimePoint started_at = 0;

    ActionPerformer actions{*this};
    RequestDriver requests{*this};
    Dispatcher dispatcher{*this};
    Recovery recovery{*this};
    ResultPlacer placer{*this};  // last: its worker is joined before the rest goes

    TimePoint now() const { return clock.now(); }

    // Runs a store write; false when it found no space (reported, the daemon goes on).
    template <class F>
    bool guarded(const char* what, F&& write) {
        try {
            write();
            return true;
        } catch (const store::DiskFullError& e) {
            no_space(std::string(what) + ": " + e.what());
            return false;
        }
    }
    void no_space(const std::string& what);
    // A pause or resume acts at once; on a full disk it is saved once space returns (a restart
    // before then forgets it).
    void save_pauses();
    // The state disk has room again: what waited is written, in order, then new work goes.
    void space_returned();
    // One of the engine's tasks (a request, the dispatch loop, the stop) ended.
    void task_ended(std::exception_ptr e);
};

}  // namespace genq::app
