#include "store/wal_checkpointer.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>

namespace genq::store {
namespace {

constexpr int kRestartFactor = 4;

// Retries a lock every 100 us for up to `arg` ms. SQLite's own busy timeout sleeps 1, 2, 5, 10,
// 15, 20, 25 ... ms between tries: a checkpoint holding the writer for 5 ms would keep the loop
// waiting 8 ms or more, and the checkpointer would almost never find the gap between two of the
// loop's commits.
int retry_briefly(void* limit_ms, int tries) {
    if (tries >= 10 * static_cast<int>(reinterpret_cast<std::intptr_t>(limit_ms))) return 0;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    return 1;
}

void set_busy_retry(sqlite3* db, std::intptr_t limit_ms) {
    sqlite3_busy_handler(db, &retry_briefly, reinterpret_cast<void*>(limit_ms));
}

const char* mode_name(int mode) {
    switch (mode) {
        case SQLITE_CHECKPOINT_PASSIVE: return "passive";
        case SQLITE_CHECKPOINT_RESTART: return "restart";
        default: return "truncate";
    }
}

}  // namespace

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::start(sqlite3* loop_db,
                                                                const std::string& path,
                                                                int threshold_frames) {
    sqlite3* own = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &own, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = own ? sqlite3_errmsg(own) : sqlite3_errstr(rc);
        sqlite3_close(own);
        return Error{"db_open", "checkpoint connection to " + path + ": " + msg};
    }
    // RESTART and TRUNCATE wait for the writer (the loop, a commit at a time) and for readers;
    // the loop's connection keeps its 2 s, in finer steps.
    set_busy_retry(own, 1000);
    set_busy_retry(loop_db, 2000);
    // FULL: the checkpoint syncs the WAL before copying and the database before the WAL is
    // reused (SQLite does both at NORMAL too; FULL says it plainly).
    sqlite3_exec(own, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
    return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(loop_db, own, threshold_frames));
}

WalCheckpointer::WalCheckpointer(sqlite3* loop_db, sqlite3* own, int threshold_frames)
    : loop_db_(loop_db), own_(own), threshold_(std::max(1, threshold_frames)) {
    // Replaces SQLite's automatic checkpoint on the loop's connection (that is a WAL hook too).
    sqlite3_wal_hook(loop_db_, &WalCheckpointer::on_commit, this);
    thread_ = std::thread([this] { run(); });
}

WalCheckpointer::~WalCheckpointer() {
    sqlite3_wal_hook(loop_db_, nullptr, nullptr);
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
    sqlite3_close(own_);
}

// On the loop, inside each commit: a comparison, and a lock and a notify only past the threshold.
int WalCheckpointer::on_commit(void* self, sqlite3*, const char*, int frames) {
    auto* me = static_cast<WalCheckpointer*>(self);
    if (frames < me->threshold_) return SQLITE_OK;
    {
        std::lock_guard lock(me->mu_);
        me->stats_.max_wal_frames = std::max<std::int64_t>(me->stats_.max_wal_frames, frames);
        if (me->wanted_ && !(frames >= kRestartFactor * me->threshold_ && !me->restart_))
            return SQLITE_OK;
        me->wanted_ = true;
        me->restart_ = me->restart_ || frames >= kRestartFactor * me->threshold_;
    }
    me->wake_.notify_one();
    return SQLITE_OK;
}

void WalCheckpointer::request_truncate() {
    {
        std::lock_guard lock(mu_);
        truncate_ = true;
    }
    wake_.notify_one();
}

WalCheckpointer::Stats WalCheckpointer::stats() const {
    std::lock_guard lock(mu_);
    return stats_;
}

void WalCheckpointer::run() {
    std::unique_lock lock(mu_);
    for (;;) {
        wake_.wait(lock, [this] { return stop_ || wanted_ || truncate_; });
        if (stop_) return;
        bool restart = restart_, truncate = truncate_;
        wanted_ = restart_ = truncate_ = false;
        lock.unlock();
        // PASSIVE first even when more is asked: it copies without holding the writer, so a
        // RESTART or TRUNCATE after it holds the loop's writes for the few frames left.
        checkpoint(SQLITE_CHECKPOINT_PASSIVE);
        if (restart) checkpoint(SQLITE_CHECKPOINT_RESTART);
        if (truncate) checkpoint(SQLITE_CHECKPOINT_TRUNCATE);
        lock.lock();
    }
}

void WalCheckpointer::checkpoint(int mode) {
    auto t0 = std::chrono::steady_clock::now();
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(own_, nullptr, mode, &log, &done);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                    .count();
    std::lock_guard lock(mu_);
    stats_.max_run_ms = std::max(stats_.max_run_ms, ms);
    if (rc != SQLITE_OK) {
        // Busy, or no room to grow the database: the WAL keeps the frames and a later commit
        // asks again. The loop is not affected; a warning says why the WAL grows.
        // The first failure of a run of them is logged, not each of them.
        ++stats_.failures;
        if (!failing_)
            spdlog::warn("store: {} WAL checkpoint: {}", mode_name(mode), sqlite3_errmsg(own_));
        failing_ = true;
        return;
    }
    failing_ = false;
    ++stats_.checkpoints;
    if (mode == SQLITE_CHECKPOINT_RESTART) ++stats_.restarts;
    if (mode == SQLITE_CHECKPOINT_TRUNCATE) ++stats_.truncates;
    spdlog::debug("store: {} WAL checkpoint: {} of {} frames in {:.1f} ms", mode_name(mode), done,
                  log, ms);
}

}  // namespace genq::store
