// ports::Control over app::Engine and the daemon's reload: the control API's view of the daemon.
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
