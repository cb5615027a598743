#include "app/pause_memory.hpp"

#include <spdlog/spdlog.h>

#include "sched/job_machine.hpp"
#include "store/queue_store.hpp"

namespace genq::app {

void remember_pauses(store::QueueStore& store, const sched::JobMachine& machine) {
    std::vector<std::string> scopes;
    if (machine.paused()) scopes.emplace_back();
    for (const auto& snap : machine.keys().snapshots(0))
        if (snap.paused) scopes.push_back(snap.name);
    store.save_pauses(scopes);
}

void restore_pauses(store::QueueStore& store, sched::JobMachine& machine) {
    bool forgot = false;
    for (const auto& scope : store.load_pauses()) {
        if (scope.empty()) {
            machine.pause_all(true);
            spdlog::warn("submissions are paused (since before the restart); "
                         "genqctl resume submits again");
        } else if (machine.pause_key(scope, true).ok()) {
            spdlog::warn("key {} is paused (since before the restart); "
                         "genqctl resume --key {} uses it again",
                         scope, scope);
        } else {
            spdlog::warn("key {} was paused before the restart but is no longer configured; "
                         "forgetting the pause",
                         scope);
            forgot = true;
        }
    }
    if (forgot) remember_pauses(store, machine);
}

}  // namespace genq::app
