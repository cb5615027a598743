#include "store/pg_queue_store.hpp"

#include <algorithm>
#include <random>

#include "core/clock.hpp"
#include "core/files.hpp"
#include "store/database.hpp"
#include "store/migrations.hpp"
#include "store/pg_connection.hpp"

namespace genq::store {

const std::vector<Migration>& pg_migrations();  // generated: pg_schema_embed.cpp

namespace {

// Any constant shared by every genq node: the advisory lock that serialises migrations.
constexpr std::int64_t kMigrationLock = 0x67656e71'00000001;  // "genq", 1

constexpr std::string_view kColumns =
    "id, kind, state, priority, params, input_name, input_sha256, input_width, input_height, "
    "input_bytes, mask_sha256, requested_key, key_name, remote_id, attempts, polls, "
    "not_before_s, wait_reason, created_at, updated_at, finished_at, output, finish_reason, seed, "
    "error_code, error_message, source, uid, cost, last_poll_at, fit, original_width, "
    "original_height";

// The mutable columns, bound as $1..$18 by mutable_params().
constexpr std::string_view kUpdateSet =
    "priority=$1, params=$2, requested_key=$3, key_name=$4, remote_id=$5, attempts=$6, "
    "polls=$7, not_before_s=$8, wait_reason=$9, updated_at=$10, finished_at=$11, output=$12, "
    "finish_reason=$13, seed=$14, error_code=$15, error_message=$16, cost=$17, last_poll_at=$18";

// What is read back: the stored columns, the owning node and its claim (set by adoptions, never
// written from a Job), and the claim of the last reservation granted for the job.
const std::string kReadColumns = std::string(kColumns) + ", node, claim, sent_claim";
constexpr std::size_t kClaimCol = 34;
constexpr std::size_t kSentClaimCol = 35;

std::string select_sql(std::string_view tail) {
    return "SELECT " + kReadColumns + " FROM jobs " + std::string(tail);
}

PgValue opt_int(const std::optional<std::int64_t>& v) {
    if (!v) return std::nullopt;
    return pg_param(*v);
}

// Times one node writes and another reads are in the database's clock (DbClockOffset).
PgParams mutable_params(const Job& j, const DbClockOffset& clock) {
    return {pg_param(std::int64_t{j.priority}), j.params.dump(),
            pg_text_or_null(j.requested_key),   pg_text_or_null(j.key_name),
            pg_text_or_null(j.remote_id),       pg_param(std::int64_t{j.attempts}),
            pg_param(std::int64_t{j.polls}),    pg_param(clock.deadline_to_db(j.not_before_s)),
            pg_text_or_null(j.wait_reason),     pg_param(j.updated_at),
            opt_int(j.finished_at),             pg_text_or_null(j.output),
            pg_text_or_null(j.finish_reason),   pg_text_or_null(j.seed),
            pg_text_or_null(j.error_code),      pg_text_or_null(j.error_message),
            pg_param(std::int64_t{j.cost}),     pg_param(clock.deadline_to_db(j.last_poll_s))};
}

JobState state_of(const std::string& s) {
    auto st = parse_job_state(s);
    if (!st) throw DbError("unknown job state in database: " + s);
    return *st;
}

Job read_row(const std::vector<PgValue>& r, const DbClockOffset& clock) {
    Job j;
    j.id = pg_text(r[0]);
    j.kind = pg_text(r[1]);
    j.state = state_of(pg_text(r[2]));
    j.priority = static_cast<int>(pg_int(r[3]));
    j.params = nlohmann::json::parse(pg_text(r[4]), nullptr, false);
    j.input_name = pg_text(r[5]);
    j.input_sha256 = pg_text(r[6]);
    j.input_width = static_cast<int>(pg_int(r[7]));
    j.input_height = static_cast<int>(pg_int(r[8]));
    j.input_bytes = pg_int(r[9]);
    j.mask_sha256 = pg_text(r[10]);
    j.requested_key = pg_text(r[11]);
    j.key_name = pg_text(r[12]);
    j.remote_id = pg_text(r[13]);
    j.attempts = static_cast<int>(pg_int(r[14]));
    j.polls = static_cast<int>(pg_int(r[15]));
    j.not_before_s = clock.deadline_to_node(pg_real(r[16]));
    j.wait_reason = pg_text(r[17]);
    j.created_at = pg_int(r[18]);
    j.updated_at = pg_int(r[19]);
    if (r[20]) j.finished_at = pg_int(r[20]);
    j.output = pg_text(r[21]);
    j.finish_reason = pg_text(r[22]);
    j.seed = pg_text(r[23]);
    j.error_code = pg_text(r[24]);
    j.error_message = pg_text(r[25]);
    j.source = pg_text(r[26]);
    if (r[27]) j.uid = pg_int(r[27]);
    j.cost = static_cast<int>(pg_int(r[28]));
    j.last_poll_s = clock.deadline_to_node(pg_real(r[29]));
    j.fit = pg_text(r[30]);
    j.original_width = static_cast<int>(pg_int(r[31]));
    j.original_height = static_cast<int>(pg_int(r[32]));
    j.node = pg_text(r[33]);
    return j;
}

std::vector<Job> read_jobs(const PgRows& rows, const DbClockOffset& clock) {
    std::vector<Job> out;
    out.reserve(rows.rows.size());
    for (const auto& r : rows.rows) out.push_back(read_row(r, clock));
    return out;
}

bool is_active(JobState s) { return s == JobState::submitting || s == JobState::running; }

// A relaxed commit (Durability::relaxed) is acknowledged before PostgreSQL flushes it: set in
// the statement itself (one round trip), for its own transaction only.
PgValue durable_flag(Durability d) { return d == Durability::relaxed ? "f" : "t"; }
constexpr std::string_view kRelaxedWhere =
    "set_config('synchronous_commit', 'off', true) = 'off'";

PgValue opt_text(const std::optional<std::string>& v) {
    if (!v) return std::nullopt;
    return *v;
}

PgValue opt_int64(const std::optional<std::int64_t>& v) {
    if (!v) return std::nullopt;
    return pg_param(*v);
}

std::vector<JobEvent> read_events(const PgRows& rows) {
    std::vector<JobEvent> out;
    for (const auto& r : rows.rows)
        out.push_back({pg_int(r[0]), pg_text(r[1]), pg_int(r[2]), pg_text(r[3]), pg_text(r[4]),
                       pg_text(r[5])});
    return out;
}

int current_version(PgConnection& c) {
    auto r = c.exec("SELECT coalesce(max(version), 0) FROM schema_version");
    return static_cast<int>(pg_int(r.rows.at(0).at(0)));
}

// Whichever node starts first migrates; the others block on the lock, then find nothing to do.
Status migrate_pg(PgConnection& c) {
    c.exec("SELECT pg_advisory_lock($1)", {pg_param(kMigrationLock)});
    struct Unlock {
        PgConnection& c;
        ~Unlock() {
            try {
                c.exec("SELECT pg_advisory_unlock($1)", {pg_param(kMigrationLock)});
            } catch (const DbError&) {
                // A dropped connection released it.
            }
        }
    } unlock{c};
    c.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
           "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
    int current = current_version(c);
    const auto& all = pg_migrations();
    int newest = all.empty() ? 0 : all.back().version;
    if (current > newest)
        return Error{"db_too_new", "database schema version " + std::to_string(current) +
                                       " is newer than this genq understands (" +
                                       std::to_string(newest) + ")"};
    for (const auto& m : all) {
        if (m.version <= current) continue;
        PgTransaction tx(c);
        c.exec_script(m.sql);
        c.exec("INSERT INTO schema_version (version) VALUES ($1)",
               {pg_param(std::int64_t{m.version})});
        tx.commit();
    }
    return ok_status();
}

}  // namespace

Result<std::unique_ptr<PgQueueStore>> PgQueueStore::open(const PgStoreOptions& o) {
    auto c = PgConnection::open(o.url, o.password);
    if (!c) return c.error();
    try {
        if (auto st = migrate_pg(**c); !st) return st.error();
    } catch (const DbError& e) {
        return Error{"db_open", std::string("migrating the shared store: ") + e.what()};
    }
    const Clock& clock = o.clock ? *o.clock : system_clock();
    auto store = std::unique_ptr<PgQueueStore>(
        new PgQueueStore(std::move(*c), o.node, o.lease, clock));
    store->heartbeat();
    return store;
}

PgQueueStore::PgQueueStore(std::unique_ptr<PgConnection> c, std::string node, double lease,
                           const Clock& clock)
    : c_(std::move(c)), node_(std::move(node)), lease_(lease), clock_(clock) {}
PgQueueStore::~PgQueueStore() = default;

const std::string& PgQueueStore::node() const { return node_; }
int PgQueueStore::schema_version() { return current_version(*c_); }

TimePoint PgQueueStore::db_now() {
    TimePoint before = clock_.now();
    auto r = c_->exec("SELECT extract(epoch FROM clock_timestamp())::float8");
    TimePoint db = pg_real(r.rows.at(0).at(0));
    offset_.sample(before, db, clock_.now());
    return db;
}

SendReservation PgQueueStore::reserve_send(std::string_view key, int limit, double window,
                                           std::string_view job_id) {
    SendReservation out;
    PgRows r;
    if (job_id.empty()) {  // a balance read: no job to hold
        r = c_->exec("SELECT granted, locked, wait_s, slot_s, false FROM genq_reserve($1, $2, $3)",
                     {std::string(key), pg_param(std::int64_t{limit}), pg_param(window)});
    } else {
        auto held = held_.find(std::string(job_id));
        if (held == held_.end()) {
            out.lost = true;
            return out;
        }
        r = c_->exec(
            "SELECT granted, locked, wait_s, slot_s, lost FROM genq_reserve_job($1, $2, $3, $4, "
            "$5, $6)",
            {std::string(key), pg_param(std::int64_t{limit}), pg_param(window),
             std::string(job_id), node_, pg_param(held->second.claim)});
    }
    const auto& row = r.rows.at(0);
    out.granted = pg_text(row.at(0)) == "t";
    out.locked_out = pg_text(row.at(1)) == "t";
    out.wait_s = pg_real(row.at(2));
    out.at = pg_real(row.at(3));
    out.lost = pg_text(row.at(4)) == "t";
    if (out.lost) held_.erase(std::string(job_id));
    return out;
}

bool PgQueueStore::take_never_sent(std::string_view job_id) {
    return never_sent_.erase(std::string(job_id)) > 0;
}

void PgQueueStore::lift_budget(std::int64_t day_ms) {
    c_->exec("WITH x AS (INSERT INTO budget_lifts (day_ms) VALUES ($1) ON CONFLICT DO NOTHING) "
             "SELECT pg_notify('genq_jobs', 'pauses')",
             {pg_param(day_ms)});
}

bool PgQueueStore::budget_lifted(std::int64_t day_ms) {
    return !c_->exec("SELECT 1 FROM budget_lifts WHERE day_ms = $1", {pg_param(day_ms)})
                .rows.empty();
}

std::int64_t PgQueueStore::new_claim() {
    // Unique enough per adoption: 63 random bits (0 is the "never claimed" of old rows).
    static std::mt19937_64 rng{std::random_device{}()};
    std::int64_t t = 0;
    while (t == 0) t = static_cast<std::int64_t>(rng() >> 1);
    return t;
}

// Makes the rows `sql` selects this node's under a new claim (it sets node=$1, claim=$2 and
// carries "a reservation was granted" over to the new claim), and remembers them as held.
std::vector<Job> PgQueueStore::adopt(const std::string& sql, PgParams params) {
    std::int64_t claim = new_claim();
    params.insert(params.begin(), {node_, pg_param(claim)});
    auto rows = c_->exec(sql, params);
    std::vector<Job> jobs;
    for (const auto& r : rows.rows) {
        Job j = read_row(r, offset_);
        held_[j.id] = {claim, j.attempts};
        if (j.state == JobState::submitting && pg_int(r[kSentClaimCol]) != claim)
            never_sent_.insert(j.id);
        else
            never_sent_.erase(j.id);
        jobs.push_back(std::move(j));
    }
    std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) { return a.id < b.id; });
    return jobs;
}

// What an adoption sets: the node, a new claim, and whether a reservation was granted under
// the old claim (then under the new one too: bytes may have gone out).
const std::string kAdoptSet =
    "node=$1, claim=$2::bigint, sent_claim = CASE WHEN sent_claim = claim THEN $2::bigint "
    "ELSE 0 END";

std::vector<Job> PgQueueStore::take_over_orphans() {
    // As in_state(): the row lock makes a second node re-check a row the first just took, find
    // a live owner (itself) and leave it.
    static const std::string sql =
        "UPDATE jobs SET " + kAdoptSet + " WHERE state IN ('submitting','running') AND "
        "node IS DISTINCT FROM $1 AND (node IS NULL OR NOT EXISTS (SELECT 1 FROM nodes n WHERE "
        "n.name = jobs.node AND n.heartbeat_s >= extract(epoch FROM clock_timestamp()) - $3)) "
        "RETURNING " + kReadColumns;
    return adopt(sql, {pg_param(lease_)});
}

std::vector<Job> PgQueueStore::own_generations() {
    auto rows = c_->exec(
        select_sql("WHERE node=$1 AND state IN ('submitting','running') ORDER BY id"), {node_});
    std::vector<Job> jobs;
    for (const auto& r : rows.rows) {
        Job j = read_row(r, offset_);
        // A claim whose answer the lost connection swallowed: the store has it, so it is ours.
        held_.try_emplace(j.id, Held{pg_int(r[kClaimCol]), j.attempts});
        jobs.push_back(std::move(j));
    }
    return jobs;
}

std::uint64_t PgQueueStore::reconnects() const { return c_->reconnects(); }

void PgQueueStore::set_paused(const std::string& key, bool paused) {
    c_->exec(paused ? "WITH x AS (INSERT INTO paused (key) VALUES ($1) ON CONFLICT DO NOTHING) "
                      "SELECT pg_notify('genq_jobs', 'pauses')"
                    : "WITH x AS (DELETE FROM paused WHERE key = $1) "
                      "SELECT pg_notify('genq_jobs', 'pauses')",
             {key});
}

void PgQueueStore::clear_paused() {
    c_->exec("WITH x AS (DELETE FROM paused) SELECT pg_notify('genq_jobs', 'pauses')");
}

std::vector<std::string> PgQueueStore::paused_keys() {
    std::vector<std::string> out;
    for (const auto& row : c_->exec("SELECT key FROM paused ORDER BY key").rows)
        out.push_back(pg_text(row.at(0)));
    return out;
}

std::vector<NodeInfo> PgQueueStore::nodes() {
    auto r = c_->exec(
        "WITH t AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS ts) "
        "SELECT n.name, n.heartbeat_s >= t.ts - $1, t.ts - n.heartbeat_s, n.started_at_s, "
        "(SELECT count(*) FROM jobs j WHERE j.node = n.name AND "
        "j.state IN ('submitting','running')) FROM nodes n, t ORDER BY n.name",
        {pg_param(lease_)});
    std::vector<NodeInfo> out;
    for (const auto& row : r.rows)
        out.push_back({pg_text(row.at(0)), pg_text(row.at(1)) == "t", pg_real(row.at(2)),
                       pg_real(row.at(3)), static_cast<int>(pg_int(row.at(4)))});
    return out;
}

void PgQueueStore::heartbeat() {
    TimePoint before = clock_.now();
    auto r = c_->exec(
        "INSERT INTO nodes (name, started_at_s, heartbeat_s) VALUES ($1, "
        "extract(epoch FROM clock_timestamp()), extract(epoch FROM clock_timestamp())) "
        "ON CONFLICT (name) DO UPDATE SET heartbeat_s = excluded.heartbeat_s "
        "RETURNING heartbeat_s",
        {node_});
    offset_.sample(before, pg_real(r.rows.at(0).at(0)), clock_.now());
}

// ---- inputs ------------------------------------------------------------------------------------

Result<std::string> PgQueueStore::put_input(std::string_view bytes, bool /*durable*/) {
    // Every commit in PostgreSQL is durable (synchronous_commit on): nothing to defer.
    std::string sha = sha256_hex(bytes);
    // put_at_s: a sweep on another node keeps an input stored a moment ago (pg_retention.cpp).
    try {
        c_->exec("INSERT INTO inputs (sha256, bytes, put_at_s) VALUES ($1, $2, "
                 "extract(epoch FROM clock_timestamp())) ON CONFLICT (sha256) DO UPDATE SET "
                 "put_at_s = excluded.put_at_s",
                 {sha, std::string(bytes)}, 1);
    } catch (const DiskFullError& e) {
        return Error{"no_space", e.what()};  // as the spool's ENOSPC: the submission gets 503
    }
    return sha;
}

Status PgQueueStore::sync_inputs() { return ok_status(); }
void PgQueueStore::when_inputs_durable(std::function<void(Status)> done) { done(ok_status()); }

Result<std::string> PgQueueStore::read_input(const std::string& sha256) {
    auto r = c_->exec("SELECT bytes FROM inputs WHERE sha256 = $1", {sha256}, -1, true);
    if (r.rows.empty() || !r.rows[0][0])
        return Error{"io_error", "input " + sha256 + " is not in the shared store"};
    return *r.rows[0][0];
}

// ---- jobs --------------------------------------------------------------------------------------

// PostgreSQL's commits are durable when they return: nothing is left to wait for.
void PgQueueStore::insert_unsynced(const std::vector<Job>& jobs, std::string_view detail) {
    insert(jobs, detail);
}
void PgQueueStore::when_durable(std::function<void(Status)> done) { done(ok_status()); }

void PgQueueStore::insert(const std::vector<Job>& jobs, std::string_view detail) {
    // The job and its "created" event in one statement; many jobs in one transaction.
    static const std::string sql =
        "WITH j AS (INSERT INTO jobs (" + std::string(kColumns) +
        ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,"
        "$22,$23,$24,$25,$26,$27,$28,$29,$30,$31,$32,$33) RETURNING id, state, created_at) "
        "INSERT INTO job_events (job_id, at, from_state, to_state, detail) "
        "SELECT id, created_at, NULL, state, $34 FROM j";
    PgTransaction tx(*c_);
    for (const auto& j : jobs) {
        c_->exec(sql, {j.id,
                       j.kind,
                       std::string(to_string(j.state)),
                       pg_param(std::int64_t{j.priority}),
                       j.params.dump(),
                       j.input_name,
                       j.input_sha256,
                       pg_param(std::int64_t{j.input_width}),
                       pg_param(std::int64_t{j.input_height}),
                       pg_param(j.input_bytes),
                       pg_text_or_null(j.mask_sha256),
                       pg_text_or_null(j.requested_key),
                       pg_text_or_null(j.key_name),
                       pg_text_or_null(j.remote_id),
                       pg_param(std::int64_t{j.attempts}),
                       pg_param(std::int64_t{j.polls}),
                       pg_param(offset_.deadline_to_db(j.not_before_s)),
                       pg_text_or_null(j.wait_reason),
                       pg_param(j.created_at),
                       pg_param(j.updated_at),
                       opt_int(j.finished_at),
                       pg_text_or_null(j.output),
                       pg_text_or_null(j.finish_reason),
                       pg_text_or_null(j.seed),
                       pg_text_or_null(j.error_code),
                       pg_text_or_null(j.error_message),
                       j.source,
                       opt_int(j.uid),
                       pg_param(std::int64_t{j.cost}),
                       pg_param(offset_.deadline_to_db(j.last_poll_s)),
                       j.fit,
                       pg_param(std::int64_t{j.original_width}),
                       pg_param(std::int64_t{j.original_height}),
                       std::string(detail)});
    }
    tx.commit();
}

// The guard of a write of `job` (as the caller last knew it): see the header.
PgQueueStore::Guard PgQueueStore::guard_for(const Job& job, JobState to, bool claims) const {
    if (is_active(job.state)) {
        auto it = held_.find(job.id);
        if (it != held_.end()) return {node_, it->second.claim, it->second.attempts};
        // Not adopted here: a control command acting on what it just read (a cancel of
        // another node's job); a job it no longer finds as read is changed and refused.
        // A copy that never held it (node "", e.g. a claim that lost) matches no owner.
        Guard g;
        g.node = job.node;
        g.attempts = job.attempts;
        return g;
    }
    if (job.state == JobState::queued) {
        // A claim counts its attempt on the copy it was read as (JobMachine::try_submit).
        Guard g;
        g.attempts = job.attempts - (claims && is_active(to) ? 1 : 0);
        return g;
    }
    return {};  // final states: only a retry leaves them, guarded by the state
}

void PgQueueStore::note_written(const Job& before, JobState to, bool ok, std::int64_t claim) {
    if (!ok) {
        if (is_active(before.state)) held_.erase(before.id);  // no longer ours
        return;
    }
    if (!is_active(to)) {
        held_.erase(before.id);
        never_sent_.erase(before.id);
    } else if (before.state == JobState::queued) {
        held_[before.id] = {claim, before.attempts};
    }
}

bool PgQueueStore::transition(Job& job, JobState to, std::string_view detail, Durability d,
                              std::int64_t at_ms) {
    // Guarded (see guard_for), with its event, in one statement (one round trip, atomic): of
    // two nodes claiming the same queued job, exactly one gets a row back. A claim records this
    // node as the owner of the generation, under a new claim token.
    static const std::string sql =
        "WITH u AS (UPDATE jobs SET " + std::string(kUpdateSet) +
        ", state=$19, node = CASE WHEN $19 IN ('submitting','running') THEN $22 ELSE node END, "
        "claim = CASE WHEN $21 = 'queued' AND $19 IN ('submitting','running') THEN $24::bigint "
        "ELSE claim END "
        "WHERE id=$20 AND state=$21 AND ($25::text IS NULL OR node=$25) AND "
        "($26::bigint IS NULL OR claim=$26) AND ($27::integer IS NULL OR attempts=$27) AND "
        "($28::boolean OR " + std::string(kRelaxedWhere) + ") RETURNING id) "
        "INSERT INTO job_events (job_id, at, from_state, to_state, detail) "
        "SELECT id, $10, $21, $19, $23 FROM u";
    Job next = job;
    next.updated_at = at_ms;
    std::int64_t claim = new_claim();
    Guard g = guard_for(job, to, true);
    PgParams p = mutable_params(next, offset_);
    p.push_back(std::string(to_string(to)));
    p.push_back(job.id);
    p.push_back(std::string(to_string(job.state)));
    p.push_back(node_);
    p.push_back(std::string(detail));
    p.push_back(pg_param(claim));
    p.push_back(opt_text(g.node));
    p.push_back(opt_int64(g.claim));
    p.push_back(opt_int64(g.attempts));
    p.push_back(durable_flag(d));
    bool ok = c_->exec(sql, p).affected == 1;
    note_written(next, to, ok, claim);
    if (!ok) return false;
    job = std::move(next);
    job.state = to;
    if (is_active(to)) job.node = node_;
    return true;
}

void PgQueueStore::save_progress(const Job& job, Durability d) {
    // Guarded as a transition: a job another node canceled or took over meanwhile keeps what
    // that node wrote (the owner hears of it through the wake-up and drops the job).
    static const std::string sql =
        "UPDATE jobs SET " + std::string(kUpdateSet) +
        " WHERE id=$19 AND state=$20 AND ($21::text IS NULL OR node=$21) AND "
        "($22::bigint IS NULL OR claim=$22) AND ($23::integer IS NULL OR attempts=$23) AND "
        "($24::boolean OR " + std::string(kRelaxedWhere) + ")";
    Guard g = guard_for(job, job.state, false);
    PgParams p = mutable_params(job, offset_);
    p.push_back(job.id);
    p.push_back(std::string(to_string(job.state)));
    p.push_back(opt_text(g.node));
    p.push_back(opt_int64(g.claim));
    p.push_back(opt_int64(g.attempts));
    p.push_back(durable_flag(d));
    if (c_->exec(sql, p).affected != 1 && is_active(job.state)) held_.erase(job.id);
}

std::optional<Job> PgQueueStore::get(std::string_view id) {
    auto r = c_->exec(select_sql("WHERE id=$1"), {std::string(id)});
    if (r.rows.empty()) return std::nullopt;
    return read_row(r.rows[0], offset_);
}

std::vector<std::string> PgQueueStore::ids_with_prefix(std::string_view prefix, int limit) {
    std::string lo;
    for (char c : prefix) lo += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    auto r = c_->exec("SELECT id FROM jobs WHERE starts_with(id, $1) ORDER BY id LIMIT $2",
                      {lo, pg_param(std::int64_t{limit})});
    std::vector<std::string> out;
    for (const auto& row : r.rows) out.push_back(pg_text(row[0]));
    return out;
}

std::vector<Job> PgQueueStore::list(const JobQuery& q) {
    std::string where = "WHERE ($1 = '' OR id < $1) AND ($2 = '' OR kind = $2)";
    PgParams p = {q.before, q.kind, pg_param(std::int64_t{q.limit})};
    if (!q.states.empty()) {
        // States are fixed words, so the array literal needs no quoting.
        std::string arr = "{";
        for (std::size_t i = 0; i < q.states.size(); ++i)
            arr += (i ? "," : "") + std::string(to_string(q.states[i]));
        p.push_back(arr + "}");
        where += " AND state = ANY($4::text[])";
    }
    return read_jobs(c_->exec(select_sql(where + " ORDER BY id DESC LIMIT $3"), p), offset_);
}

std::vector<JobEvent> PgQueueStore::events(std::string_view id) {
    return read_events(c_->exec(
        "SELECT seq, job_id, at, from_state, to_state, detail FROM job_events WHERE job_id=$1 "
        "ORDER BY seq",
        {std::string(id)}));
}

std::vector<JobEvent> PgQueueStore::events_since(std::int64_t seq, int limit) {
    return read_events(c_->exec(
        "SELECT seq, job_id, at, from_state, to_state, detail FROM job_events WHERE seq > $1 "
        "ORDER BY seq LIMIT $2",
        {pg_param(seq), pg_param(std::int64_t{limit})}));
}

std::map<std::string, std::int64_t> PgQueueStore::counts_by_state() {
    std::map<std::string, std::int64_t> out;
    for (auto s : {"queued", "submitting", "running", "succeeded", "failed", "canceled"}) out[s] = 0;
    auto r = c_->exec("SELECT state, count(*) FROM jobs GROUP BY state");
    for (const auto& row : r.rows) out[pg_text(row[0])] = pg_int(row[1]);
    return out;
}

// The dispatcher reads the ready jobs and then when the next one becomes ready, with the same
// `now`: both in one round trip (the wake on every row, or alone on a row of NULLs when none is
// ready), the wake kept for next_queued_wake().
std::vector<Job> PgQueueStore::next_queued(TimePoint now_s, int limit) {
    static const std::string sql =
        "SELECT q.*, w.wake FROM (SELECT min(not_before_s) AS wake FROM jobs WHERE "
        "state='queued' AND not_before_s > $1) w LEFT JOIN LATERAL (" +
        select_sql("WHERE state='queued' AND not_before_s <= $1 ORDER BY priority DESC, id "
                   "LIMIT $2") +
        ") q ON true";
    auto r = c_->exec(sql, {pg_param(offset_.now_to_db(now_s)), pg_param(std::int64_t{limit})});
    std::vector<Job> out;
    TimePoint wake = 0;
    for (const auto& row : r.rows) {
        if (row.back()) wake = offset_.deadline_to_node(pg_real(row.back()));
        if (row[0]) out.push_back(read_row(row, offset_));
    }
    wake_ = {now_s, wake};
    return out;
}

TimePoint PgQueueStore::next_queued_wake(TimePoint now_s) {
    if (wake_ && wake_->first == now_s) return wake_->second;
    auto r = c_->exec(
        "SELECT min(not_before_s) FROM jobs WHERE state='queued' AND not_before_s > $1",
        {pg_param(offset_.now_to_db(now_s))});
    return r.rows.empty() || !r.rows[0][0] ? 0 : offset_.deadline_to_node(pg_real(r.rows[0][0]));
}

std::vector<Job> PgQueueStore::in_state(JobState s) {
    if (s != JobState::submitting && s != JobState::running)
        return read_jobs(
            c_->exec(select_sql("WHERE state=$1 ORDER BY id"), {std::string(to_string(s))}),
            offset_);
    // Row locks serialise two nodes adopting the same orphan: the second re-checks the row
    // after the first commits, finds a live owner and leaves it. Its own jobs too get a new
    // claim: a process that ran under this node's name before is refused from now on.
    static const std::string sql =
        "UPDATE jobs SET " + kAdoptSet + " WHERE state=$3 AND (node IS NULL OR node=$1 OR "
        "NOT EXISTS (SELECT 1 FROM nodes n WHERE n.name = jobs.node AND "
        "n.heartbeat_s >= extract(epoch FROM clock_timestamp()) - $4)) RETURNING " +
        kReadColumns;
    return adopt(sql, {std::string(to_string(s)), pg_param(lease_)});
}

bool PgQueueStore::output_reserved(std::string_view path, std::string_view except_job) {
    auto r = c_->exec("SELECT 1 FROM jobs WHERE output=$1 AND id<>$2 LIMIT 1",
                      {std::string(path), std::string(except_job)});
    return !r.rows.empty();
}

std::map<std::string, std::int64_t> PgQueueStore::credits_by_key(std::int64_t since_ms) {
    auto r = c_->exec(
        "SELECT key_name, sum(cost) FROM jobs WHERE cost > 0 AND finished_at >= $1 "
        "GROUP BY key_name",
        {pg_param(since_ms)});
    std::map<std::string, std::int64_t> out;
    for (const auto& row : r.rows) out[pg_text(row[0])] = pg_int(row[1]);
    add_pruned_credits(out, since_ms);
    return out;
}

// ---- the limiter's memory ----------------------------------------------------------------------

// Send times are in the database's clock (genq_reserve writes them so): converted so that a
// send stays in a window at least as long as it truly does.
void PgQueueStore::record_send(std::string_view key, TimePoint t) {
    c_->exec("INSERT INTO key_sends (key_name, at_s) VALUES ($1, $2)",
             {std::string(key), pg_param(offset_.deadline_to_db(t))});
}

std::vector<TimePoint> PgQueueStore::sends_since(std::string_view key, TimePoint from) {
    auto r = c_->exec(
        "SELECT at_s FROM key_sends WHERE key_name=$1 AND at_s>=$2 ORDER BY at_s",
        {std::string(key), pg_param(offset_.now_to_db(from))});
    std::vector<TimePoint> out;
    for (const auto& row : r.rows) out.push_back(offset_.deadline_to_node(pg_real(row[0])));
    return out;
}

void PgQueueStore::prune_sends(TimePoint before) {
    c_->exec("DELETE FROM key_sends WHERE at_s < $1", {pg_param(offset_.now_to_db(before))});
}

void PgQueueStore::save_lockout(std::string_view key, TimePoint until) {
    double left = until - clock_.now();
    c_->exec(
        "INSERT INTO key_status (name, status, locked_until_s, locked_until_db, updated_at) "
        "VALUES ($1, 'active', $2, extract(epoch FROM clock_timestamp()) + $3, $4) "
        "ON CONFLICT (name) DO UPDATE SET locked_until_s=excluded.locked_until_s, "
        "locked_until_db=excluded.locked_until_db, updated_at=excluded.updated_at",
        {std::string(key), pg_param(until), pg_param(left),
         pg_param(static_cast<std::int64_t>(until * 1000))});
}

TimePoint PgQueueStore::lockout(std::string_view key) {
    // The database's copy (any node may have saved it), in this node's clock.
    auto r = c_->exec("SELECT locked_until_db FROM key_status WHERE name=$1", {std::string(key)});
    return r.rows.empty() ? 0 : offset_.deadline_to_node(pg_real(r.rows[0][0]));
}

// ---- the poll planner's memory and the idempotency log -----------------------------------------

std::vector<std::pair<std::string, std::string>> PgQueueStore::load_planner_state() {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& row : c_->exec("SELECT kind, state FROM planner_state ORDER BY kind").rows)
        out.emplace_back(pg_text(row.at(0)), pg_text(row.at(1)));
    return out;
}

void PgQueueStore::save_planner_state(std::string_view kind, std::string_view blob) {
    c_->exec("INSERT INTO planner_state (kind, state, updated_at) VALUES ($1, $2, "
             "(extract(epoch FROM clock_timestamp()) * 1000)::bigint) ON CONFLICT (kind) DO "
             "UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
             {std::string(kind), std::string(blob)});
}

// ---- pauses: this node's own (each node has its own control socket) ---------------------------

void PgQueueStore::save_pauses(const std::vector<std::string>& scopes) {
    PgTransaction tx(*c_);
    c_->exec("DELETE FROM pauses WHERE node = $1", {node_});
    for (const auto& scope : scopes)
        c_->exec("INSERT INTO pauses (node, scope, at_ms) VALUES ($1, $2, "
                 "(extract(epoch FROM clock_timestamp()) * 1000)::bigint) ON CONFLICT DO NOTHING",
                 {node_, scope});
    tx.commit();
}

bool PgQueueStore::has_room() {
    try {
        c_->exec("INSERT INTO space_probe (node, at_ms, pad) VALUES ($1, (extract(epoch FROM "
                 "clock_timestamp()) * 1000)::bigint, decode(repeat('00', 65536), 'hex')) "
                 "ON CONFLICT (node) DO UPDATE SET at_ms = excluded.at_ms, pad = excluded.pad",
                 {node_});
        return true;
    } catch (const DiskFullError&) {
        return false;
    } catch (const DbUnavailable&) {
        return false;  // not known: the next probe asks again
    }
}

std::vector<std::string> PgQueueStore::load_pauses() {
    std::vector<std::string> out;
    for (const auto& row :
         c_->exec("SELECT scope FROM pauses WHERE node = $1 ORDER BY scope", {node_}).rows)
        out.push_back(pg_text(row.at(0)));
    return out;
}

std::optional<ports::RememberedAnswer> PgQueueStore::find_answer(std::string_view key,
                                                                 std::int64_t since_ms) {
    auto r = c_->exec(
        "SELECT request_hash, body, at_ms FROM idempotency WHERE key = $1 AND at_ms >= $2",
        {std::string(key), pg_param(since_ms)});
    if (r.rows.empty()) return std::nullopt;
    const auto& row = r.rows.front();
    return ports::RememberedAnswer{pg_text(row.at(0)), pg_text(row.at(1)), pg_int(row.at(2))};
}

void PgQueueStore::remember_answer(std::string_view key, const ports::RememberedAnswer& a,
                                   std::int64_t forget_before_ms) {
    PgTransaction tx(*c_);
    c_->exec("DELETE FROM idempotency WHERE at_ms < $1", {pg_param(forget_before_ms)});
    c_->exec("INSERT INTO idempotency (key, request_hash, body, at_ms) VALUES ($1, $2, $3, $4) "
             "ON CONFLICT (key) DO UPDATE SET request_hash = excluded.request_hash, "
             "body = excluded.body, at_ms = excluded.at_ms",
             {std::string(key), a.request_hash, a.body, pg_param(a.at_ms)});
    tx.commit();
}

}  // namespace genq::store
