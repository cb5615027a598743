#include "app/engine_control.hpp"

#include "app/engine.hpp"

namespace genq::app {

Result<Job> EngineControl::cancel(const std::string& id) { return engine_.cancel(id); }
Result<Job> EngineControl::retry(const std::string& id) { return engine_.retry(id); }
Status EngineControl::pause(const std::string& key) { return engine_.pause(key); }
Status EngineControl::resume(const std::string& key, bool budget) {
    return engine_.resume(key, budget);
}

ports::StatusView EngineControl::status() { return engine_.status_view(); }

}  // namespace genq::app
