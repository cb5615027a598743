#include "store/sqlite_queue_store.hpp"

#include "store/auto_vacuum.hpp"
#include "store/database.hpp"
#include "store/job_store.hpp"
#include "store/migrations.hpp"
#include "store/pruner.hpp"
#include "store/send_log.hpp"
#include "store/spool.hpp"
#include "store/sync_worker.hpp"
#include "store/wal_checkpointer.hpp"
#include "store/wal_syncer.hpp"

namespace genq::store {

struct SqliteQueueStore::Parts {
    std::unique_ptr<Database> db;
    JobStore jobs;
    SendLog sends;
    Spool spool;
    Pruner pruner;
    std::unique_ptr<WalCheckpointer> checkpointer;  // destroyed before `db`: it hooks it
    WalSyncer syncer;
    SyncWorker input_syncer;  // the spool's fsyncs, off the loop
    Parts(std::unique_ptr<Database> d, std::string spool_dir, std::string db_path)
        : db(std::move(d)), jobs(*db), sends(*db), spool(std::move(spool_dir)),
          pruner(*db, spool), syncer(db_path + "-wal") {}
};

Result<std::unique_ptr<SqliteQueueStore>> SqliteQueueStore::open(const std::string& state_dir) {
    auto db = Database::open(state_dir + "/genq.db");
    if (!db) return db.error();
    try {
        if (auto st = migrate(**db); !st) return st.error();
    } catch (const DbError& e) {
        return Error{"db_open", "database " + state_dir + "/genq.db: " + e.what()};
    }
    convert_to_incremental_vacuum(**db, state_dir + "/genq.db");  // when cheap (see there)
    auto parts = std::make_unique<Parts>(std::move(*db), state_dir + "/spool",
                                         state_dir + "/genq.db");
    if (auto st = parts->spool.init(); !st) return st.error();
    auto checkpointer = WalCheckpointer::start(parts->db->handle(), state_dir + "/genq.db");
    if (!checkpointer) return checkpointer.error();
    parts->checkpointer = std::move(*checkpointer);
    return std::unique_ptr<SqliteQueueStore>(new SqliteQueueStore(std::move(parts)));
}

SqliteQueueStore::SqliteQueueStore(std::unique_ptr<Parts> parts) : p_(std::move(parts)) {}
SqliteQueueStore::~SqliteQueueStore() = default;
Database& SqliteQueueStore::database() { return *p_->db; }

Result<std::string> SqliteQueueStore::put_input(std::string_view bytes, bool durable) {
    return p_->spool.put(bytes, durable);
}
Status SqliteQueueStore::sync_inputs() { return p_->spool.sync(); }
void SqliteQueueStore::when_inputs_durable(std::function<void(Status)> done) {
    auto paths = p_->spool.take_unsynced();
    if (paths.empty()) return done(ok_status());
    Spool* spool = &p_->spool;
    p_->input_syncer.post([spool, paths = std::move(paths), done = std::move(done)] {
        Status st = spool->fsync_files(paths);
        spool->finish_sync(paths, st.ok());
        done(st);
    });
}
Result<std::string> SqliteQueueStore::read_input(const std::string& sha256) {
    return p_->spool.read(sha256);
}

void SqliteQueueStore::insert(const std::vector<Job>& jobs, std::string_view detail) {
    p_->jobs.insert_many(jobs, detail);
}
void SqliteQueueStore::insert_unsynced(const std::vector<Job>& jobs, std::string_view detail) {
    p_->jobs.insert_many(jobs, detail, Durability::relaxed);
}
void SqliteQueueStore::when_durable(std::function<void(Status)> done) {
    p_->syncer.after_commits(std::move(done));
}
bool SqliteQueueStore::transition(Job& job, JobState to, std::string_view detail, Durability d,
                                  std::int64_t at_ms) {
    return p_->jobs.transition(job, to, detail, d, at_ms);
}
void SqliteQueueStore::save_progress(const Job& job, Durability d) {
    p_->jobs.save_progress(job, d);
}
std::optional<Job> SqliteQueueStore::get(std::string_view id) { return p_->jobs.get(id); }
std::vector<std::string> SqliteQueueStore::ids_with_prefix(std::string_view prefix, int limit) {
    return p_->jobs.ids_with_prefix(prefix, limit);
}
std::vector<Job> SqliteQueueStore::list(const JobQuery& q) { return p_->jobs.list(q); }
std::vector<JobEvent> SqliteQueueStore::events(std::string_view id) {
    return p_->jobs.events(id);
}
std::vector<JobEvent> SqliteQueueStore::events_since(std::int64_t seq, int limit) {
    return p_->jobs.events_since(seq, limit);
}
std::map<std::string, std::int64_t> SqliteQueueStore::counts_by_state() {
    return p_->jobs.counts_by_state();
}
std::vector<Job> SqliteQueueStore::next_queued(TimePoint now_s, int limit) {
    return p_->jobs.next_queued(now_s, limit);
}
TimePoint SqliteQueueStore::next_queued_wake(TimePoint now_s) {
    return p_->jobs.next_queued_wake(now_s);
}
std::vector<Job> SqliteQueueStore::in_state(JobState s) { return p_->jobs.in_state(s); }
bool SqliteQueueStore::output_reserved(std::string_view path, std::string_view except_job) {
    return p_->jobs.output_reserved(path, except_job);
}
std::map<std::string, std::int64_t> SqliteQueueStore::credits_by_key(std::int64_t since_ms) {
    auto out = p_->jobs.credits_by_key(since_ms);
    p_->pruner.add_pruned_credits(out, since_ms);
    return out;
}

ports::PruneCount SqliteQueueStore::prune_finished(const ports::PruneQuery& q) {
    return p_->pruner.prune(q);
}
ports::PruneCount SqliteQueueStore::count_prunable(const ports::PruneQuery& q) {
    return p_->pruner.count(q);
}
std::int64_t SqliteQueueStore::forget_answers(std::int64_t before_ms) {
    return p_->pruner.forget_answers(before_ms);
}
void SqliteQueueStore::checkpoint() { p_->checkpointer->request_truncate(); }
WalCheckpointer& SqliteQueueStore::checkpointer() { return *p_->checkpointer; }

ports::SpoolPage SqliteQueueStore::spool_page(bool from_start, int limit) {
    return p_->pruner.spool_page(from_start, limit);
}

bool SqliteQueueStore::remove_spool_file(const std::string& name) {
    return p_->pruner.remove_spool_file(name);
}

ports::ReclaimStep SqliteQueueStore::reclaim_space(int pages) {
    auto step = incremental_vacuum_step(*p_->db, pages);
    return {step.freed, step.free_left};
}

void SqliteQueueStore::record_send(std::string_view key, TimePoint t) { p_->sends.record(key, t); }
void SqliteQueueStore::flush_sends() { p_->sends.flush(); }
std::vector<TimePoint> SqliteQueueStore::sends_since(std::string_view key, TimePoint from) {
    return p_->sends.since(key, from);
}
void SqliteQueueStore::prune_sends(TimePoint before) { p_->sends.prune(before); }
void SqliteQueueStore::save_lockout(std::string_view key, TimePoint until) {
    p_->sends.save_lockout(key, until);
}
TimePoint SqliteQueueStore::lockout(std::string_view key) { return p_->sends.lockout(key); }

std::vector<std::pair<std::string, std::string>> SqliteQueueStore::load_planner_state() {
    auto st = p_->db->prepare("SELECT kind, state FROM planner_state ORDER BY kind");
    std::vector<std::pair<std::string, std::string>> out;
    while (st->step()) out.emplace_back(st->text(0), st->text(1));
    return out;
}

// Relaxed: losing the latest few observations to a power cut costs a few polls, nothing more.
void SqliteQueueStore::save_planner_state(std::string_view kind, std::string_view blob) {
    Transaction tx(*p_->db, Durability::relaxed);
    auto st = p_->db->prepare(
        "INSERT INTO planner_state (kind, state, updated_at) VALUES (?, ?, "
        "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) ON CONFLICT(kind) DO UPDATE SET "
        "state=excluded.state, updated_at=excluded.updated_at");
    st->bind(1, kind).bind(2, blob);
    st->run();
    tx.commit();
}

// Full durability: a pause acknowledged to the user must hold after a power cut.
void SqliteQueueStore::save_pauses(const std::vector<std::string>& scopes) {
    Transaction tx(*p_->db, Durability::full);
    p_->db->exec("DELETE FROM pauses");
    for (const auto& scope : scopes) {
        auto st = p_->db->prepare(
            "INSERT OR IGNORE INTO pauses (scope, at_ms) VALUES (?, "
            "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))");
        st->bind(1, scope);
        st->run();
    }
    tx.commit();
}

std::vector<std::string> SqliteQueueStore::load_pauses() {
    auto st = p_->db->prepare("SELECT scope FROM pauses ORDER BY scope");
    std::vector<std::string> out;
    while (st->step()) out.push_back(st->text(0));
    return out;
}

std::optional<ports::RememberedAnswer> SqliteQueueStore::find_answer(std::string_view key,
                                                                     std::int64_t since_ms) {
    auto st = p_->db->prepare(
        "SELECT request_hash, body, at_ms FROM idempotency WHERE key=? AND at_ms >= ?");
    st->bind(1, key).bind(2, since_ms);
    if (!st->step()) return std::nullopt;
    return ports::RememberedAnswer{st->text(0), st->text(1), st->int64(2)};
}

void SqliteQueueStore::remember_answer(std::string_view key, const ports::RememberedAnswer& a,
                                       std::int64_t forget_before_ms) {
    Transaction tx(*p_->db);
    auto prune = p_->db->prepare("DELETE FROM idempotency WHERE at_ms < ?");
    prune->bind(1, forget_before_ms);
    prune->run();
    auto st = p_->db->prepare(
        "INSERT OR REPLACE INTO idempotency (key, request_hash, body, at_ms) VALUES (?, ?, ?, ?)");
    st->bind(1, key).bind(2, a.request_hash).bind(3, a.body).bind(4, a.at_ms);
    st->run();
    tx.commit();
}

}  // namespace genq::store
