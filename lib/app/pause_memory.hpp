// Pauses that survive a restart (issue 13): after every `genqctl pause` and `resume` the pauses
// in force are saved in the store; at start-up, before anything is sent, they are put back.
#pragma once

namespace genq::store {
class QueueStore;
}
namespace genq::sched {
class JobMachine;
}

namespace genq::app {

// Saves the machine's pauses: "" when the whole queue is paused, and each paused key's name.
void remember_pauses(store::QueueStore& store, const sched::JobMachine& machine);
// Applies the saved pauses. A paused key that is no longer configured is forgotten, with a
// warning (a key added again later starts unpaused).
void restore_pauses(store::QueueStore& store, sched::JobMachine& machine);

}  // namespace genq::app
