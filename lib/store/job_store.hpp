// Jobs in the database: every transition is one committed transaction that also appends to the
// job's event history (SPEC §3, §5).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/durability.hpp"
#include "store/job.hpp"
#include "store/queue_store.hpp"

namespace genq::store {

class Database;

class JobStore {
public:
    explicit JobStore(Database& db) : db_(db) {}

    // Inserts a new job with its "created" event, in one durable transaction.
    void insert(const Job& job, std::string_view detail);
    // The same for many jobs in one durable transaction (one disk sync for a burst).
    void insert_many(const std::vector<Job>& jobs, std::string_view detail,
                     Durability d = Durability::full);

    // Writes every mutable field of `job` and moves it to `to`, with an event. Only succeeds if
    // the stored state is still `job.state` (a concurrent cancel wins): returns false otherwise.
    // On success job.state == to and job.updated_at is set.
    bool transition(Job& job, JobState to, std::string_view detail, Durability d,
                    std::int64_t at_ms);

    // Writes mutable fields without a state change and without an event (poll counts, the
    // reserved output name).
    void save_progress(const Job& job, Durability d);

    std::optional<Job> get(std::string_view id);
    std::vector<std::string> ids_with_prefix(std::string_view prefix, int limit);
    std::vector<Job> list(const JobQuery& q);
    std::vector<JobEvent> events(std::string_view id);
    std::vector<JobEvent> events_since(std::int64_t seq, int limit);
    std::map<std::string, std::int64_t> counts_by_state();

    // Queued jobs ready at `now_s`, best first (priority, then FIFO).
    std::vector<Job> next_queued(double now_s, int limit);
    // Earliest not_before_s among queued jobs that are not ready yet (0 = none).
    double next_queued_wake(double now_s);
    std::vector<Job> in_state(JobState s);


    // Whether another job already reserved `path` as its output.
    bool output_reserved(std::string_view path, std::string_view except_job);

    // Credits charged: total and since `since_ms`, per key.
    std::map<std::string, std::int64_t> credits_by_key(std::int64_t since_ms);

private:
    Job read_row(const class Statement& st) const;
    void insert_row(const Job& job, std::string_view detail);
    void add_event(std::string_view id, std::optional<JobState> from, JobState to,
                   std::string_view detail, std::int64_t at);
    Database& db_;
};

}  // namespace genq::store
