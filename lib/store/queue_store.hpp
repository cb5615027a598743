// What the engine, the control API and the intake need from a queue, and nothing more: the seam
// between genq's logic and its storage engines. SQLite (embedded, the default) implements it in
// store/sqlite_queue_store.*; a shared store for several nodes plugs in here. No SQL and no
// database type above this line. Every call is short and synchronous on the event loop: a
// transaction never spans a co_await.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/job.hpp"
#include "core/result.hpp"
#include "ports/idempotency.hpp"
#include "ports/job_reader.hpp"
#include "ports/retention.hpp"
#include "store/durability.hpp"

namespace genq::store {

// The read side is the control API's port; the store names its types too.
using ports::JobEvent;
using ports::JobQuery;

// The idempotency log (find_answer, remember_answer) is the API's port too.
class QueueStore : public ports::JobReader, public ports::IdempotencyLog {
public:
    virtual ~QueueStore() = default;

    // ---- inputs: content-addressed by sha256 ------------------------------------------------
    // Stores the bytes once per content. `durable` = false defers the sync to sync_inputs(),
    // which a batch calls once before its jobs commit.
    virtual Result<std::string> put_input(std::string_view bytes, bool durable) = 0;
    virtual Status sync_inputs() = 0;
    // The same off the loop: calls `done` (on another thread, or at once) once every input put
    // so far is durable, or with the error (no_space, io_error). It must not touch the store.
    virtual void when_inputs_durable(std::function<void(Status)> done) = 0;
    virtual Result<std::string> read_input(const std::string& sha256) = 0;

    // ---- jobs --------------------------------------------------------------------------------
    // New jobs, each with its "created" event, in one durable transaction.
    virtual void insert(const std::vector<Job>& jobs, std::string_view detail) = 0;
    // The same without waiting for the disk: the rows are committed (visible, and they survive
    // a killed process) but durable only once when_durable() calls back. The API's submissions
    // commit this way and answer after that call back (group commit, off the loop). Their
    // inputs must be durable first (when_inputs_durable).
    virtual void insert_unsynced(const std::vector<Job>& jobs, std::string_view detail) = 0;
    // Calls `done` once every commit made before this call is on disk, or with the error
    // (no_space, io_error). It may run on another thread, or at once; it must not touch the
    // store itself.
    virtual void when_durable(std::function<void(Status)> done) = 0;
    // Writes every mutable field of `job` and moves it to `to` with an event, if the stored state
    // is still `job.state` (a concurrent change wins: false). This is also how a job is claimed
    // (queued -> submitting with its key); a claim counts its attempt: job.attempts is one more
    // than stored (the shared store refuses a claim made from an out-of-date copy).
    // On success job.state == to, job.updated_at = at_ms.
    virtual bool transition(Job& job, JobState to, std::string_view detail, Durability d,
                            std::int64_t at_ms) = 0;
    // Mutable fields without a state change or event (polls, the last poll, a reserved output).
    virtual void save_progress(const Job& job, Durability d) = 0;
    // (get, ids_with_prefix, list, events, events_since, counts_by_state: ports::JobReader.)


    // Queued jobs ready at `now_s`, best first (priority, then FIFO), at most `limit`.
    virtual std::vector<Job> next_queued(TimePoint now_s, int limit) = 0;
    // Earliest not_before among queued jobs not ready at now_s (0 = none).
    virtual TimePoint next_queued_wake(TimePoint now_s) = 0;
    virtual std::vector<Job> in_state(JobState s) = 0;
    // Whether another job already reserved `path` as its output.
    virtual bool output_reserved(std::string_view path, std::string_view except_job) = 0;
    // Credits charged per key since `since_ms` (0 = ever, else the start of a UTC day: the
    // credits of pruned jobs are kept per key and UTC day, so they still count here).
    virtual std::map<std::string, std::int64_t> credits_by_key(std::int64_t since_ms) = 0;

    // ---- the limiter's memory ------------------------------------------------------------------
    // May keep the send until the next commit or flush_sends(), which the caller runs before
    // its loop turn ends (a killed process then loses at most the sends of that turn).
    virtual void record_send(std::string_view key, TimePoint t) = 0;
    virtual void flush_sends() {}
    virtual std::vector<TimePoint> sends_since(std::string_view key, TimePoint from) = 0;
    virtual void prune_sends(TimePoint before) = 0;
    virtual void save_lockout(std::string_view key, TimePoint until) = 0;
    virtual TimePoint lockout(std::string_view key) = 0;

    // ---- retention (ports/retention.hpp) -----------------------------------------------------
    // Deletes at most q.limit finished jobs (final state, finished before q.finished_before_ms),
    // their events and the inputs no remaining job references, in one short transaction. A job
    // that is not final is never deleted; result files are never touched. Returns what went.
    virtual ports::PruneCount prune_finished(const ports::PruneQuery& q) = 0;
    // What prune_finished would delete, with no limit; changes nothing.
    virtual ports::PruneCount count_prunable(const ports::PruneQuery& q) = 0;
    // Idempotency answers remembered before `before_ms`; returns how many went.
    virtual std::int64_t forget_answers(std::int64_t before_ms) = 0;
    // Gives back the log space a sweep used: SQLite checkpoints its WAL and truncates it; the
    // shared store leaves that to PostgreSQL (autovacuum, its own checkpoints).
    virtual void checkpoint() = 0;
    // The input spool's listing, for the orphan scan (sched/spool_scanner): at most `limit`
    // files, from the first when `from_start`, else after the previous page's (files added or
    // removed meanwhile may or may not be listed). The shared store keeps its inputs in rows
    // deleted with their last job, in one transaction: it has no files, and returns an empty
    // page at its end.
    virtual ports::SpoolPage spool_page(bool from_start, int limit) = 0;
    // Deletes spool file `name` if no job references it (checked again here); whether it went.
    virtual bool remove_spool_file(const std::string& name) = 0;
    // Gives up to `pages` free pages of the database back to the file system, in one short
    // transaction (SQLite: PRAGMA incremental_vacuum; the file shrinks at the next
    // checkpoint). The shared store leaves that to PostgreSQL and frees nothing.
    virtual ports::ReclaimStep reclaim_space(int pages) = 0;

    // ---- the poll planner's memory: one opaque text blob per kind ---------------------------
    virtual std::vector<std::pair<std::string, std::string>> load_planner_state() = 0;
    virtual void save_planner_state(std::string_view kind, std::string_view blob) = 0;

    // ---- pauses that survive a restart: "" = the whole queue, else a key's name -------------
    // Replaces the saved pauses with `scopes` (the ones in force now), durably.
    virtual void save_pauses(const std::vector<std::string>& scopes) = 0;
    virtual std::vector<std::string> load_pauses() = 0;
};

}  // namespace genq::store
