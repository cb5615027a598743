// Wake-ups across nodes on a shared store (SPEC §11): a connection of its own LISTENs on
// genq_jobs (schema/pg/0005: every new job and state change notifies at commit), its socket
// watched by the event loop (libpq's non-blocking reads), so another node's new work, retry or
// cancel reaches this node at once (Engine::on_store_change); the engine's periodic re-check stays as the fallback. The
// connection is re-made with backoff when it drops.
#pragma once
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace genq::app {

class Engine;

class JobWakeups {
public:
    JobWakeups(boost::asio::io_context& io, std::string url, std::string password,
               Engine& engine);
    ~JobWakeups();
    void start();
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace genq::app
