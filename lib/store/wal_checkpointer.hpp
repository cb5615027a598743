// Checkpoints the embedded store's WAL on a thread of its own, with a SQLite connection of its
// own, so the event loop never copies pages back into the database file nor waits for that
// file's fsync. SQLite's automatic checkpoint ran inside whichever commit pushed the WAL past
// 1,000 pages: with a million jobs it held the loop for up to 1.2 s (issue 12).
//
// The loop's connection gets a WAL hook (which turns its automatic checkpoint off): after each
// commit it hands over the WAL's size, and past `threshold_frames` this thread runs a PASSIVE
// checkpoint, which takes no lock the loop's writes or reads wait for. Once every frame is back
// in the database, the loop's next write starts the WAL from its beginning again, so the file
// stays near the threshold. Writes that go on while it copies keep the WAL from ever being all
// copied: at 4 x the threshold a RESTART checkpoint takes the writer's lock for the frames left
// (those of the last few commits) and one fsync of the database, and the WAL starts over. That
// is the only time the loop can wait for this thread, and the loop's busy handler retries every
// 100 us so it waits no longer than that. A retention sweep asks for TRUNCATE
// (the file back to 0 bytes), as the loop did itself before.
//
// Durability is SQLite's own: the checkpoint syncs the WAL before copying and the database
// before it lets the WAL be reused, whichever connection runs it.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/result.hpp"

struct sqlite3;

namespace genq::store {

class WalCheckpointer {
public:
    struct Stats {
        std::int64_t checkpoints = 0;   // PASSIVE, RESTART and TRUNCATE runs that succeeded
        std::int64_t restarts = 0;      // of which RESTART (writes outran the passive ones)
        std::int64_t truncates = 0;     // of which TRUNCATE (after a retention sweep)
        std::int64_t failures = 0;      // busy or failed (a full disk): tried again later
        std::int64_t max_wal_frames = 0;  // the largest WAL a commit reported
        double max_run_ms = 0;          // the longest checkpoint (on this thread, not the loop)
    };

    // Opens a second connection to `path` and installs the hook on `loop_db`. Error codes:
    // db_open.
    static Result<std::unique_ptr<WalCheckpointer>> start(sqlite3* loop_db, const std::string& path,
                                                          int threshold_frames = 1000);
    // Removes the hook, finishes the checkpoint under way and closes the connection.
    ~WalCheckpointer();
    WalCheckpointer(const WalCheckpointer&) = delete;
    WalCheckpointer& operator=(const WalCheckpointer&) = delete;

    // After a retention sweep: copy everything back and truncate the WAL, on this thread.
    void request_truncate();
    Stats stats() const;

private:
    WalCheckpointer(sqlite3* loop_db, sqlite3* own, int threshold_frames);
    static int on_commit(void* self, sqlite3* db, const char* name, int frames);
    void run();
    void checkpoint(int mode);

    sqlite3* loop_db_;
    sqlite3* own_;
    int threshold_;
    mutable std::mutex mu_;
    std::condition_variable wake_;
    bool wanted_ = false;    // the WAL passed the threshold
    bool restart_ = false;   // ... and passed 4 x the threshold
    bool truncate_ = false;  // a sweep asked for TRUNCATE
    bool stop_ = false;
    bool failing_ = false;  // the last checkpoint failed (logged once per run of failures)
    Stats stats_;
    std::thread thread_;  // last: started once everything above is set
};

}  // namespace genq::store
