#include "app/engine_control.hpp"

#include <stdexcept>

#include "api/wire.hpp"
#include "app/engine.hpp"

namespace genq::app {

Result<Job> EngineControl::cancel(const std::string& id) { return engine_.cancel(id); }
Result<Job> EngineControl::retry(const std::string& id) { return engine_.retry(id); }
Status EngineControl::pause(const std::string& key) { return engine_.pause(key); }
Status EngineControl::resume(const std::string& key, bool budget) {
    return engine_.resume(key, budget);
}

// Today's engine builds its status as JSON; read back through the one parser of that shape.
ports::StatusView EngineControl::status() {
    auto view = api::wire::parse_status(engine_.status_json());
    if (!view) throw std::logic_error("engine status: " + view.error().message);
    return std::move(*view);
}

}  // namespace genq::app
