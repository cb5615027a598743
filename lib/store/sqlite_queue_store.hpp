// The embedded store (the default): one SQLite file in WAL mode for jobs, events and the
// limiter's memory, and a content-addressed spool directory for inputs.
#pragma once
#include <memory>
#include <string>

#include "store/queue_store.hpp"

namespace genq::store {

class Database;
class WalCheckpointer;

class SqliteQueueStore final : public QueueStore {
public:
    // Opens <state_dir>/genq.db (migrating it) and <state_dir>/spool. Error codes as
    // Database::open and migrate: db_open, db_locked, db_too_new, io_error.
    static Result<std::unique_ptr<SqliteQueueStore>> open(const std::string& state_dir);
    ~SqliteQueueStore() override;

    // For the watch folders' own table (same file, same connection).
    Database& database();
    // The thread that checkpoints the WAL (the loop's connection never does).
    WalCheckpointer& checkpointer();

    Result<std::string> put_input(std::string_view bytes, bool durable) override;
    Status sync_inputs() override;
    void when_inputs_durable(std::function<void(Status)> done) override;
    Result<std::string> read_input(const std::string& sha256) override;

    void insert(const std::vector<Job>& jobs, std::string_view detail) override;
    void insert_unsynced(const std::vector<Job>& jobs, std::string_view detail) override;
    void when_durable(std::function<void(Status)> done) override;
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
    std::vector<Job> in_state(JobState s) override;
    bool output_reserved(std::string_view path, std::string_view except_job) override;
    std::map<std::string, std::int64_t> credits_by_key(std::int64_t since_ms) override;

    void record_send(std::string_view key, TimePoint t) override;
    void flush_sends() override;
    std::vector<TimePoint> sends_since(std::string_view key, TimePoint from) override;
    void prune_sends(TimePoint before) override;
    void save_lockout(std::string_view key, TimePoint until) override;
    TimePoint lockout(std::string_view key) override;
    std::vector<std::pair<std::string, std::string>> load_planner_state() override;
    void save_planner_state(std::string_view kind, std::string_view blob) override;
    void save_pauses(const std::vector<std::string>& scopes) override;
    std::vector<std::string> load_pauses() override;

    ports::PruneCount prune_finished(const ports::PruneQuery& q) override;
    ports::PruneCount count_prunable(const ports::PruneQuery& q) override;
    std::int64_t forget_answers(std::int64_t before_ms) override;
    // Asks the checkpoint thread for a TRUNCATE; returns at once.
    void checkpoint() override;
    ports::SpoolPage spool_page(bool from_start, int limit) override;
    bool remove_spool_file(const std::string& name) override;
    ports::ReclaimStep reclaim_space(int pages) override;

    std::optional<ports::RememberedAnswer> find_answer(std::string_view key,
                                                       std::int64_t since_ms) override;
    void remember_answer(std::string_view key, const ports::RememberedAnswer& a,
                         std::int64_t forget_before_ms) override;

private:
    struct Parts;
    explicit SqliteQueueStore(std::unique_ptr<Parts> parts);
    std::unique_ptr<Parts> p_;
};

}  // namespace genq::store
