// ports::Control over today's app::Engine: the control API's view of the daemon. A thin adapter
// (forwarding, plus the status snapshot read back from the engine's status) until the engine
// implements the port itself.
#pragma once
#include <functional>

#include "ports/control.hpp"

namespace genq::app {

class Engine;

class EngineControl final : public ports::Control {
public:
    EngineControl(Engine& engine, std::function<Status()> reload)
        : engine_(engine), reload_(std::move(reload)) {}

    Result<Job> cancel(const std::string& id) override;
    Result<Job> retry(const std::string& id) override;
    Status pause(const std::string& key) override;
    Status resume(const std::string& key, bool budget) override;
    Status reload() override { return reload_(); }
    ports::StatusView status() override;

private:
    Engine& engine_;
    std::function<Status()> reload_;
};

}  // namespace genq::app
