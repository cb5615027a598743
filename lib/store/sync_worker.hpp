// One thread that runs blocking file-system work (fsyncs of spooled inputs) in order, off the
// event loop. The work reports back through its own callback, on this thread.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace genq::store {

class SyncWorker {
public:
    SyncWorker();
    // Runs what was posted, then stops.
    ~SyncWorker();
    SyncWorker(const SyncWorker&) = delete;
    SyncWorker& operator=(const SyncWorker&) = delete;

    void post(std::function<void()> work);

private:
    void run();

    std::mutex mu_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> queue_;
    bool stop_ = false;
    std::thread thread_;  // last: started once everything above is set
};

}  // namespace genq::store
