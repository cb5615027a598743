#include "app/node_duties.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <spdlog/spdlog.h>

#include "app/engine.hpp"
#include "store/database.hpp"
#include "store/shared_store.hpp"

namespace genq::app {

namespace asio = boost::asio;

struct NodeDuties::Impl {
    Impl(asio::io_context& io, store::SharedStore& s, Engine& e)
        : store(s), engine(e), heartbeat(io), takeover(io), recheck(io) {}

    store::SharedStore& store;
    Engine& engine;
    asio::steady_timer heartbeat;
    asio::steady_timer takeover;
    asio::steady_timer recheck;
    bool stopped = false;

    // Runs `step` now and then every `seconds`, until stop(). A store that cannot be reached
    // skips the step (the connection reconnects with backoff; the engine sends nothing).
    void every(asio::steady_timer& t, double seconds, std::function<void()> step) {
        if (stopped) return;
        try {
            step();
        } catch (const store::DbUnavailable& e) {
            spdlog::debug("shared store unreachable: {}", e.what());
        } catch (const store::DiskFullError& e) {
            // The database server's disk is full: the engine holds its own writes meanwhile
            // (app/state_disk); a heartbeat or takeover is tried again next period.
            spdlog::debug("shared store: {}", e.what());
        }
        t.expires_after(std::chrono::microseconds(static_cast<std::int64_t>(seconds * 1e6)));
        t.async_wait([this, &t, seconds, step](const boost::system::error_code& ec) {
            if (!ec) every(t, seconds, step);
        });
    }

    void take_over() {
        auto jobs = store.take_over_orphans();
        if (!jobs.empty())
            spdlog::warn("taking over {} job(s) of node(s) silent for {:.0f} s", jobs.size(),
                         store.lease());
        engine.take_over(std::move(jobs));
    }
};

NodeDuties::NodeDuties(asio::io_context& io, store::SharedStore& store, Engine& engine)
    : impl_(std::make_unique<Impl>(io, store, engine)) {}

NodeDuties::~NodeDuties() = default;

void NodeDuties::start() {
    auto& i = *impl_;
    double lease = i.store.lease();
    i.every(i.heartbeat, lease / 3, [&i] { i.store.heartbeat(); });
    // The first look at start is the engine's own recovery; the next one lease/2 later.
    i.takeover.expires_after(std::chrono::microseconds(static_cast<std::int64_t>(lease / 2 * 1e6)));
    i.takeover.async_wait([&i, lease](const boost::system::error_code& ec) {
        if (!ec) i.every(i.takeover, lease / 2, [&i] { i.take_over(); });
    });
    i.every(i.recheck, 1, [&i] { i.engine.notify(); });
}

void NodeDuties::stop() {
    auto& i = *impl_;
    i.stopped = true;
    i.heartbeat.cancel();
    i.takeover.cancel();
    i.recheck.cancel();
}

}  // namespace genq::app
