// What the engine, the control API and the intake need from a queue, and nothing more: the seam
// between genq's logic and its storage engines. SQLite (embedded, the default) implements it in
// store/sqlite_queue_store.*; a shared store for several nodes plugs in here. No SQL and no
// database type above this line. Every call is short and synchronous on the event loop: a
// transaction never spans a co_await.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/job.hpp"
#include "core/result.hpp"
#include "store/durability.hpp"

namespace genq::store {

struct JobEvent {
    std::int64_t seq = 0;
    std::string job_id;
    std::int64_t at = 0;
    std::string from_state;  // "" for creation
    std::string to_state;
    std::string detail;
};

struct JobQuery {
    std::vector<JobState> states;  // empty = all
    std::string kind;              // "" = all
    int limit = 50;
    std::string before;  // cursor: ids strictly older (smaller) than this
};

class QueueStore {
public:
    virtual ~QueueStore() = default;

    // ---- inputs: content-addressed by sha256 ------------------------------------------------
    // Stores the bytes once per content. `durable` = false defers the sync to sync_inputs(),
    // which a batch calls once before its jobs commit.
    virtual Result<std::string> put_input(std::string_view bytes, bool durable) = 0;
    virtual Status sync_inputs() = 0;
    virtual Result<std::string> read_input(const std::string& sha256) = 0;

    // ---- jobs --------------------------------------------------------------------------------
    // New jobs, each with its "created" event, in one durable transaction.
    virtual void insert(const std::vector<Job>& jobs, std::string_view detail) = 0;
    // Writes every mutable field of `job` and moves it to `to` with an event, if the stored state
    // is still `job.state` (a concurrent change wins: false). This is also how a job is claimed
    // (queued -> submitting with its key). On success job.state == to, job.updated_at = at_ms.
    virtual bool transition(Job& job, JobState to, std::string_view detail, Durability d,
                            std::int64_t at_ms) = 0;
    // Mutable fields without a state change or event (polls, the last poll, a reserved output).
    virtual void save_progress(const Job& job, Durability d) = 0;

    virtual std::optional<Job> get(std::string_view id) = 0;
    // Ids starting with `prefix` (case-insensitive), at most `limit`.
    virtual std::vector<std::string> ids_with_prefix(std::string_view prefix, int limit) = 0;
    virtual std::vector<Job> list(const JobQuery& q) = 0;
    virtual std::vector<JobEvent> events(std::string_view id) = 0;
    virtual std::vector<JobEvent> events_since(std::int64_t seq, int limit) = 0;
    virtual std::map<std::string, std::int64_t> counts_by_state() = 0;

    // Queued jobs ready at `now_s`, best first (priority, then FIFO), at most `limit`.
    virtual std::vector<Job> next_queued(TimePoint now_s, int limit) = 0;
    // Earliest not_before among queued jobs not ready at now_s (0 = none).
    virtual TimePoint next_queued_wake(TimePoint now_s) = 0;
    virtual std::vector<Job> in_state(JobState s) = 0;
    // Whether another job already reserved `path` as its output.
    virtual bool output_reserved(std::string_view path, std::string_view except_job) = 0;
    // Credits charged per key since `since_ms` (0 = ever).
    virtual std::map<std::string, std::int64_t> credits_by_key(std::int64_t since_ms) = 0;

    // ---- the limiter's memory ------------------------------------------------------------------
    virtual void record_send(std::string_view key, TimePoint t) = 0;
    virtual std::vector<TimePoint> sends_since(std::string_view key, TimePoint from) = 0;
    virtual void prune_sends(TimePoint before) = 0;
    virtual void save_lockout(std::string_view key, TimePoint until) = 0;
    virtual TimePoint lockout(std::string_view key) = 0;
};

}  // namespace genq::store
