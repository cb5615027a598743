#include "store/job_store.hpp"

#include "store/database.hpp"

namespace genq::store {
namespace {

constexpr std::string_view kColumns =
    "id, kind, state, priority, params, input_name, input_sha256, input_width, input_height, "
    "input_bytes, mask_sha256, requested_key, key_name, remote_id, attempts, polls, "
    "not_before_s, wait_reason, created_at, updated_at, finished_at, output, finish_reason, seed, "
    "error_code, error_message, source, uid, cost, last_poll_at, "
    "fit, original_width, original_height";

std::string select_sql(std::string_view tail) {
    return "SELECT " + std::string(kColumns) + " FROM jobs " + std::string(tail);
}

JobState state_of(const std::string& s) {
    auto st = parse_job_state(s);
    if (!st) throw DbError("unknown job state in database: " + s);
    return *st;
}

// Binds the mutable columns in the order of kUpdateSet, starting at parameter 1.
constexpr std::string_view kUpdateSet =
    "priority=?1, params=?2, requested_key=?3, key_name=?4, remote_id=?5, attempts=?6, polls=?7, "
    "not_before_s=?8, wait_reason=?9, updated_at=?10, finished_at=?11, output=?12, "
    "finish_reason=?13, seed=?14, error_code=?15, error_message=?16, cost=?17, last_poll_at=?18";

void bind_mutable(Statement& st, const Job& j) {
    st.bind(1, j.priority)
        .bind(2, j.params.dump())
        .bind_text_or_null(3, j.requested_key)
        .bind_text_or_null(4, j.key_name)
        .bind_text_or_null(5, j.remote_id)
        .bind(6, j.attempts)
        .bind(7, j.polls)
        .bind(8, j.not_before_s)
        .bind_text_or_null(9, j.wait_reason)
        .bind(10, j.updated_at)
        .bind_opt(11, j.finished_at)
        .bind_text_or_null(12, j.output)
        .bind_text_or_null(13, j.finish_reason)
        .bind_text_or_null(14, j.seed)
        .bind_text_or_null(15, j.error_code)
        .bind_text_or_null(16, j.error_message)
        .bind(17, j.cost)
        .bind(18, j.last_poll_s);
}

// Rows of "SELECT seq, job_id, at, from_state, to_state, detail".
std::vector<JobEvent> read_events(Statement& st) {
    std::vector<JobEvent> out;
    while (st.step())
        out.push_back({st.int64(0), st.text(1), st.int64(2), st.text(3), st.text(4), st.text(5)});
    return out;
}

}  // namespace

Job JobStore::read_row(const Statement& st) const {
    Job j;
    j.id = st.text(0);
    j.kind = st.text(1);
    j.state = state_of(st.text(2));
    j.priority = static_cast<int>(st.int64(3));
    j.params = nlohmann::json::parse(st.text(4), nullptr, false);
    j.input_name = st.text(5);
    j.input_sha256 = st.text(6);
    j.input_width = static_cast<int>(st.int64(7));
    j.input_height = static_cast<int>(st.int64(8));
    j.input_bytes = st.int64(9);
    j.mask_sha256 = st.text(10);
    j.requested_key = st.text(11);
    j.key_name = st.text(12);
    j.remote_id = st.text(13);
    j.attempts = static_cast<int>(st.int64(14));
    j.polls = static_cast<int>(st.int64(15));
    j.not_before_s = st.real(16);
    j.wait_reason = st.text(17);
    j.created_at = st.int64(18);
    j.updated_at = st.int64(19);
    if (!st.is_null(20)) j.finished_at = st.int64(20);
    j.output = st.text(21);
    j.finish_reason = st.text(22);
    j.seed = st.text(23);
    j.error_code = st.text(24);
    j.error_message = st.text(25);
    j.source = st.text(26);
    if (!st.is_null(27)) j.uid = st.int64(27);
    j.cost = static_cast<int>(st.int64(28));
    j.last_poll_s = st.real(29);
    j.fit = st.text(30);
    j.original_width = static_cast<int>(st.int64(31));
    j.original_height = static_cast<int>(st.int64(32));
    return j;
}

void JobStore::add_event(std::string_view id, std::optional<JobState> from, JobState to,
                         std::string_view detail, std::int64_t at) {
    auto st = db_.prepare(
        "INSERT INTO job_events (job_id, at, from_state, to_state, detail) VALUES (?,?,?,?,?)");
    st->bind(1, id).bind(2, at);
    if (from)
        st->bind(3, to_string(*from));
    else
        st->bind_null(3);
    st->bind(4, to_string(to)).bind(5, detail);
    st->run();
}

void JobStore::insert(const Job& j, std::string_view detail) {
    Transaction tx(db_);
    insert_row(j, detail);
    tx.commit();
}

void JobStore::insert_many(const std::vector<Job>& jobs, std::string_view detail,
                           Durability d) {
    Transaction tx(db_, d);
    for (const auto& j : jobs) insert_row(j, detail);
    tx.commit();
}

void JobStore::insert_row(const Job& j, std::string_view detail) {
    auto st = db_.prepare("INSERT INTO jobs (" + std::string(kColumns) +
                          ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
                          "?,?,?)");
    st->bind(1, j.id).bind(2, j.kind).bind(3, to_string(j.state)).bind(4, j.priority);
    st->bind(5, j.params.dump()).bind(6, j.input_name).bind(7, j.input_sha256);
    st->bind(8, j.input_width).bind(9, j.input_height).bind(10, j.input_bytes);
    st->bind_text_or_null(11, j.mask_sha256).bind_text_or_null(12, j.requested_key);
    st->bind_text_or_null(13, j.key_name).bind_text_or_null(14, j.remote_id);
    st->bind(15, j.attempts).bind(16, j.polls).bind(17, j.not_before_s);
    st->bind_text_or_null(18, j.wait_reason).bind(19, j.created_at).bind(20, j.updated_at);
    st->bind_opt(21, j.finished_at).bind_text_or_null(22, j.output);
    st->bind_text_or_null(23, j.finish_reason).bind_text_or_null(24, j.seed);
    st->bind_text_or_null(25, j.error_code).bind_text_or_null(26, j.error_message);
    st->bind(27, j.source).bind_opt(28, j.uid).bind(29, j.cost).bind(30, j.last_poll_s);
    st->bind(31, j.fit).bind(32, j.original_width).bind(33, j.original_height);
    st->run();
    add_event(j.id, std::nullopt, j.state, detail, j.created_at);
}

bool JobStore::transition(Job& job, JobState to, std::string_view detail, Durability d,
                          std::int64_t at_ms) {
    Transaction tx(db_, d);
    Job next = job;
    next.updated_at = at_ms;
    {
        auto st = db_.prepare("UPDATE jobs SET " + std::string(kUpdateSet) +
                              ", state=?19 WHERE id=?20 AND state=?21");
        bind_mutable(*st, next);
        st->bind(19, to_string(to)).bind(20, job.id).bind(21, to_string(job.state));
        st->run();
    }
    if (db_.changes() != 1) return false;
    add_event(job.id, job.state, to, detail, next.updated_at);
    tx.commit();
    job = std::move(next);
    job.state = to;
    return true;
}

void JobStore::save_progress(const Job& job, Durability d) {
    Transaction tx(db_, d);
    auto st = db_.prepare("UPDATE jobs SET " + std::string(kUpdateSet) + " WHERE id=?19");
    bind_mutable(*st, job);
    st->bind(19, job.id);
    st->run();
    tx.commit();
}

std::optional<Job> JobStore::get(std::string_view id) {
    auto st = db_.prepare(select_sql("WHERE id=?"));
    st->bind(1, id);
    if (!st->step()) return std::nullopt;
    return read_row(*st);
}

std::vector<std::string> JobStore::ids_with_prefix(std::string_view prefix, int limit) {
    // Ids are lower-case letters and digits, so a case-insensitive prefix is a lower-case range.
    std::string lo;
    for (char c : prefix) lo += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    auto st = db_.prepare("SELECT id FROM jobs WHERE id >= ?1 AND id < ?1 || '~' ORDER BY id LIMIT ?2");
    st->bind(1, lo).bind(2, limit);
    std::vector<std::string> out;
    while (st->step()) out.push_back(st->text(0));
    return out;
}

std::vector<Job> JobStore::list(const JobQuery& q) {
    // Built per query shape; the statement cache keys on the text, so each shape is prepared once.
    std::string where = "WHERE (?1 = '' OR id < ?1) AND (?2 = '' OR kind = ?2)";
    if (!q.states.empty()) {
        where += " AND state IN (";
        for (std::size_t i = 0; i < q.states.size(); ++i) where += (i ? ",?" : "?") + std::to_string(i + 4);
        where += ")";
    }
    auto st = db_.prepare(select_sql(where + " ORDER BY id DESC LIMIT ?3"));
    st->bind(1, q.before).bind(2, q.kind).bind(3, q.limit);
    for (std::size_t i = 0; i < q.states.size(); ++i)
        st->bind(static_cast<int>(i + 4), to_string(q.states[i]));
    std::vector<Job> out;
    while (st->step()) out.push_back(read_row(*st));
    return out;
}

std::vector<JobEvent> JobStore::events(std::string_view id) {
    auto st = db_.prepare(
        "SELECT seq, job_id, at, from_state, to_state, detail FROM job_events WHERE job_id=? "
        "ORDER BY seq");
    st->bind(1, id);
    return read_events(*st);
}

std::vector<JobEvent> JobStore::events_since(std::int64_t seq, int limit) {
    auto st = db_.prepare(
        "SELECT seq, job_id, at, from_state, to_state, detail FROM job_events WHERE seq > ? "
        "ORDER BY seq LIMIT ?");
    st->bind(1, seq).bind(2, limit);
    return read_events(*st);
}

std::map<std::string, std::int64_t> JobStore::counts_by_state() {
    std::map<std::string, std::int64_t> out;
    for (auto s : {"queued", "submitting", "running", "succeeded", "failed", "canceled"}) out[s] = 0;
    // Kept by triggers (schema/0009_counters.sql): a scan of every job's index entry before.
    auto st = db_.prepare("SELECT state, n FROM job_counts");
    while (st->step()) out[st->text(0)] = st->int64(1);
    return out;
}

std::vector<Job> JobStore::next_queued(double now_s, int limit) {
    auto st = db_.prepare(select_sql(
        "WHERE state='queued' AND not_before_s <= ? ORDER BY priority DESC, id LIMIT ?"));
    st->bind(1, now_s).bind(2, limit);
    std::vector<Job> out;
    while (st->step()) out.push_back(read_row(*st));
    return out;
}

double JobStore::next_queued_wake(double now_s) {
    // INDEXED BY: without statistics SQLite prefers jobs_state and reads every queued job
    // (600 ms with a million queued, on every refresh of the dispatcher's batch).
    auto st = db_.prepare(
        "SELECT min(not_before_s) FROM jobs INDEXED BY jobs_queued_wake WHERE state='queued' "
        "AND not_before_s > ?");
    st->bind(1, now_s);
    if (!st->step() || st->is_null(0)) return 0;
    return st->real(0);
}

std::vector<Job> JobStore::in_state(JobState s) {
    auto st = db_.prepare(select_sql("WHERE state=? ORDER BY id"));
    st->bind(1, to_string(s));
    std::vector<Job> out;
    while (st->step()) out.push_back(read_row(*st));
    return out;
}

bool JobStore::output_reserved(std::string_view path, std::string_view except_job) {
    auto st = db_.prepare("SELECT 1 FROM jobs WHERE output=? AND id<>? LIMIT 1");
    st->bind(1, path).bind(2, except_job);
    return st->step();
}

std::map<std::string, std::int64_t> JobStore::credits_by_key(std::int64_t since_ms) {
    constexpr std::int64_t kDayMs = 86400000;
    if (since_ms % kDayMs == 0) {
        // Whole UTC days: the per-day sums the triggers keep (schema/0009_counters.sql).
        auto st = db_.prepare(
            "SELECT key_name, sum(credits) FROM credits_daily WHERE day_ms >= ? GROUP BY "
            "key_name HAVING sum(credits) <> 0");
        st->bind(1, since_ms);
        std::map<std::string, std::int64_t> out;
        while (st->step()) out[st->text(0)] = st->int64(1);
        return out;
    }
    auto st = db_.prepare(
        "SELECT key_name, sum(cost) FROM jobs WHERE cost > 0 AND finished_at >= ? GROUP BY "
        "key_name");
    st->bind(1, since_ms);
    std::map<std::string, std::int64_t> out;
    while (st->step()) out[st->text(0)] = st->int64(1);
    return out;
}

}  // namespace genq::store
