#include "store/wal_syncer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "core/files.hpp"

namespace genq::store {

WalSyncer::WalSyncer(std::string wal_path)
    : path_(std::move(wal_path)), thread_([this] { run(); }) {}

WalSyncer::~WalSyncer() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

void WalSyncer::after_commits(Done done) {
    {
        std::lock_guard lock(mu_);
        waiting_.push_back(std::move(done));
    }
    wake_.notify_one();
}

std::int64_t WalSyncer::syncs() const {
    std::lock_guard lock(mu_);
    return syncs_;
}

void WalSyncer::run() {
    std::unique_lock lock(mu_);
    for (;;) {
        wake_.wait(lock, [this] { return stop_ || !waiting_.empty(); });
        if (waiting_.empty()) return;  // stopping, nothing left to answer
        // Everyone waiting now committed before this fdatasync starts: one covers them all.
        std::vector<Done> batch;
        batch.swap(waiting_);
        ++syncs_;
        lock.unlock();
        Status st = sync_once();
        for (auto& done : batch) done(st);
        lock.lock();
    }
}

Status WalSyncer::sync_once() const {
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    // No WAL file: nothing was written since the last connection closed, nothing to sync.
    if (fd < 0 && errno == ENOENT) return ok_status();
    if (fd < 0) return Error{"io_error", "cannot open " + path_ + ": " + errno_text(errno)};
    int rc = ::fdatasync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0)
        return Error{err == ENOSPC ? "no_space" : "io_error",
                     "cannot sync " + path_ + ": " + errno_text(err)};
    return ok_status();
}

}  // namespace genq::store
