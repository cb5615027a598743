#include "store/sync_worker.hpp"

namespace genq::store {

SyncWorker::SyncWorker() : thread_([this] { run(); }) {}

SyncWorker::~SyncWorker() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

void SyncWorker::post(std::function<void()> work) {
    {
        std::lock_guard lock(mu_);
        queue_.push_back(std::move(work));
    }
    wake_.notify_one();
}

void SyncWorker::run() {
    std::unique_lock lock(mu_);
    for (;;) {
        wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, nothing left
        auto work = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        work();
        lock.lock();
    }
}

}  // namespace genq::store
