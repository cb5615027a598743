// The shared store (SPEC §11): one PostgreSQL database for several genqd nodes. Jobs, events,
// the limiter's memory and the inputs themselves (content-addressed bytea) live in the database,
// so any node can submit any job. Synchronous libpq: each call is one short round trip (see
// README "Running several nodes" for why, and what the non-blocking version needs).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "core/clock.hpp"
#include "store/db_clock_offset.hpp"
#include "store/queue_store.hpp"
#include "store/shared_store.hpp"

namespace genq::store {

class PgConnection;

struct PgStoreOptions {
    std::string url;       // libpq URI or key=value string, no password in it
    std::string password;  // "" = libpq's own (PGPASSFILE, ~/.pgpass)
    std::string node;      // this node's name: jobs it claims carry it
    double lease = 30;     // seconds without a heartbeat after which a node is dead
    const Clock* clock = nullptr;  // the node's clock, as its engine sees it (nullptr: system)
};

class PgQueueStore final : public QueueStore, public SharedStore {
public:
    // Connects and migrates (schema/pg, under an advisory lock: the first node migrates, the
    // others wait and find it done). Error codes: db_open, db_too_new.
    static Result<std::unique_ptr<PgQueueStore>> open(const PgStoreOptions& options);
    ~PgQueueStore() override;

    const std::string& node() const override;
    double lease() const override { return lease_; }
    int schema_version();
    // This node's heartbeat row, stamped with the database's clock; it also measures the
    // offset between that clock and this node's (DbClockOffset).
    void heartbeat() override;
    // The database's clock (seconds since the epoch): the one clock all nodes share.
    TimePoint db_now();
    const DbClockOffset& clock_offset() const { return offset_; }

    // SharedStore: genq_reserve (schema/pg/0005), or for a job's request genq_reserve_job
    // (pg/0009, which also checks that this node still holds the job), in one round trip.
    SendReservation reserve_send(std::string_view key, int limit, double window,
                                 std::string_view job_id) override;
    bool take_never_sent(std::string_view job_id) override;
    void lift_budget(std::int64_t day_ms) override;
    bool budget_lifted(std::int64_t day_ms) override;
    std::vector<Job> take_over_orphans() override;
    std::vector<Job> own_generations() override;
    std::uint64_t reconnects() const override;
    void set_paused(const std::string& key, bool paused) override;
    void clear_paused() override;
    std::vector<std::string> paused_keys() override;
    std::vector<NodeInfo> nodes() override;

    Result<std::string> put_input(std::string_view bytes, bool durable) override;
    Status sync_inputs() override;
    void when_inputs_durable(std::function<void(Status)> done) override;
    Result<std::string> read_input(const std::string& sha256) override;

    void insert(const std::vector<Job>& jobs, std::string_view detail) override;
    void insert_unsynced(const std::vector<Job>& jobs, std::string_view detail) override;
    void when_durable(std::function<void(Status)> done) override;
    // Guarded by (state, attempts, owner): a job this node holds must still be held by it
    // under the claim it adopted it with (node, claim token, attempts as adopted); a job in
    // another node's hands (a cancel from here) must still be as it was read (node, attempts);
    // a queued one must still be at the attempt it was read at. A relaxed commit is written
    // with synchronous_commit off (it survives a killed genqd, not a crash of PostgreSQL).
    bool transition(Job& job, JobState to, std::string_view detail, Durability d,
                    std::int64_t at_ms) override;
    void save_progress(const Job& job, Durability d) override;
    std::optional<Job> get(std::string_view id) override;
    std::vector<std::string> ids_with_prefix(std::string_view prefix, int limit) override;
    std::vector<Job> list(const JobQuery& q) override;
    std::vector<JobEvent> events(std::string_view id) override;
    std::vector<JobEvent> events_since(std::int64_t seq, int limit) override;
    std::map<std::string, std::int64_t> counts_by_state() override;
    std::vector<Job> next_queued(TimePoint now_s, int limit) override;
    TimePoint next_queued_wake(TimePoint now_s) override;
    // For submitting and running: the jobs this node owns, after taking over (atomically, so
    // one node wins) those of nodes without a heartbeat for `lease` seconds. It is what the
    // engine recovers at start: its own interrupted work and that of dead nodes, never that of
    // a live node (a running node takes over with take_over_orphans()). Other states: every job.
    std::vector<Job> in_state(JobState s) override;
    bool output_reserved(std::string_view path, std::string_view except_job) override;
    std::map<std::string, std::int64_t> credits_by_key(std::int64_t since_ms) override;

    void record_send(std::string_view key, TimePoint t) override;
    std::vector<TimePoint> sends_since(std::string_view key, TimePoint from) override;
    void prune_sends(TimePoint before) override;
    // Lock-outs are kept in the database's clock (reserve_send compares them with it): `until`
    // is converted from this node's wall clock, and back.
    void save_lockout(std::string_view key, TimePoint until) override;
    TimePoint lockout(std::string_view key) override;

    std::vector<std::pair<std::string, std::string>> load_planner_state() override;
    void save_planner_state(std::string_view kind, std::string_view blob) override;
    void save_pauses(const std::vector<std::string>& scopes) override;
    std::vector<std::string> load_pauses() override;
    // Defined in pg_retention.cpp.
    ports::PruneCount prune_finished(const ports::PruneQuery& q) override;
    ports::PruneCount count_prunable(const ports::PruneQuery& q) override;
    std::int64_t forget_answers(std::int64_t before_ms) override;
    void checkpoint() override;
    ports::SpoolPage spool_page(bool from_start, int limit) override;
    bool remove_spool_file(const std::string& name) override;
    ports::ReclaimStep reclaim_space(int pages) override;

    std::optional<ports::RememberedAnswer> find_answer(std::string_view key,
                                                       std::int64_t since_ms) override;
    void remember_answer(std::string_view key, const ports::RememberedAnswer& a,
                         std::int64_t forget_before_ms) override;

    // Whether the database's disk takes a write again after a disk_full (53100): rewrites this
    // node's row of space_probe with 64 KiB that cannot be compressed. False while it fails.
    bool has_room();

private:
    // What this node adopted a job under: the guard of its writes and reservations.
    struct Held {
        std::int64_t claim = 0;
        int attempts = 0;
    };
    struct Guard {
        std::optional<std::string> node;   // nullopt: not checked
        std::optional<std::int64_t> claim;
        std::optional<std::int64_t> attempts;
    };
    Guard guard_for(const Job& job, JobState to, bool claims) const;
    void note_written(const Job& before, JobState to, bool ok, std::int64_t claim);
    // `params`: the statement's parameters from $3 on (pg_connection.hpp's PgParams).
    std::vector<Job> adopt(const std::string& sql, std::vector<std::optional<std::string>> params);
    static std::int64_t new_claim();
    void add_pruned_credits(std::map<std::string, std::int64_t>& out, std::int64_t since_ms);
    PgQueueStore(std::unique_ptr<PgConnection> c, std::string node, double lease,
                 const Clock& clock);
    std::unique_ptr<PgConnection> c_;
    std::string node_;
    double lease_;
    const Clock& clock_;
    DbClockOffset offset_;
    std::unordered_map<std::string, Held> held_;   // the jobs this node holds
    std::unordered_set<std::string> never_sent_;   // adopted submitting, no reservation granted
    std::optional<std::pair<TimePoint, TimePoint>> wake_;  // next_queued's now and the wake
};

}  // namespace genq::store
