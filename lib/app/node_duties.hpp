// What a node owes the others on a shared store (SPEC §11), on timers of the event loop: its
// heartbeat every lease/3, a look for dead nodes' generations every lease/2 (taken over while
// this node runs, not only at its start), and a re-check of the queue every second as the
// fallback of the wake-ups (another node's new work, cancels, retries).
#pragma once
#include <memory>

namespace boost::asio {
class io_context;
}
namespace genq::store {
class SharedStore;
}

namespace genq::app {

class Engine;

class NodeDuties {
public:
    NodeDuties(boost::asio::io_context& io, store::SharedStore& store, Engine& engine);
    ~NodeDuties();
    void start();
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace genq::app
