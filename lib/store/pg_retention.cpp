// PgQueueStore's retention (queue_store.hpp): the same rules as the embedded store's Pruner, in
// one transaction per batch. Candidate rows are locked (FOR UPDATE SKIP LOCKED), so a node that
// retries a failed job at the same moment either waits for the batch and finds the job gone, or
// keeps it out of the batch.
#include <map>
#include <utility>

#include "core/job_state.hpp"
#include "store/pg_connection.hpp"
#include "store/pg_queue_store.hpp"

namespace genq::store {
namespace {

constexpr std::int64_t kDayMs = 86400000;

// The final states asked for, as a text[] literal (fixed words: no quoting needed).
std::string states_array(const ports::PruneQuery& q) {
    std::string arr;
    for (JobState s : q.states)
        if (is_terminal(s)) arr += (arr.empty() ? "" : ",") + std::string(to_string(s));
    if (q.states.empty()) arr = "succeeded,failed,canceled";
    return arr.empty() ? "" : "{" + arr + "}";
}

constexpr std::string_view kCandidates = "finished_at < $1 AND state = ANY($2::text[])";

}  // namespace

ports::PruneCount PgQueueStore::prune_finished(const ports::PruneQuery& q) {
    ports::PruneCount n;
    std::string states = states_array(q);
    if (states.empty() || q.limit <= 0) return n;
    PgTransaction tx(*c_);
    auto ids = c_->exec("SELECT id FROM jobs WHERE " + std::string(kCandidates) +
                            " ORDER BY finished_at LIMIT $3 FOR UPDATE SKIP LOCKED",
                        {pg_param(q.finished_before_ms), states, pg_param(std::int64_t{q.limit})});
    if (!ids.rows.empty()) {
        std::string arr = "{";  // ids are lower-case letters and digits
        for (std::size_t i = 0; i < ids.rows.size(); ++i)
            arr += (i ? "," : "") + pg_text(ids.rows[i][0]);
        arr += "}";
        n.events = c_->exec("DELETE FROM job_events WHERE job_id = ANY($1::text[])", {arr}).affected;
        auto gone = c_->exec(
            "DELETE FROM jobs WHERE id = ANY($1::text[]) RETURNING coalesce(key_name, ''), cost, "
            "finished_at",
            {arr});
        n.jobs = static_cast<std::int64_t>(gone.rows.size());
        std::map<std::pair<std::string, std::int64_t>, std::int64_t> credits;
        for (const auto& r : gone.rows) {
            std::int64_t cost = pg_int(r[1]), at = pg_int(r[2]);
            if (cost > 0) credits[{pg_text(r[0]), at - at % kDayMs}] += cost;
        }
        for (const auto& [k, sum] : credits)
            c_->exec("INSERT INTO pruned_credits (key_name, day_ms, credits) VALUES ($1, $2, $3) "
                     "ON CONFLICT (key_name, day_ms) DO UPDATE SET credits = "
                     "pruned_credits.credits + excluded.credits",
                     {k.first, pg_param(k.second), pg_param(sum)});
    }
    // Inputs no job uses, stored before the grace. The put_at_s test is on the deleted row
    // itself, so a concurrent put (which renews it) keeps the row even mid-statement. Done on
    // every batch, also an empty one: an input kept by the grace goes on a later sweep.
    n.inputs = c_->exec(
                    "DELETE FROM inputs WHERE put_at_s < extract(epoch FROM now()) - $1 AND "
                    "sha256 IN (SELECT i.sha256 FROM inputs i WHERE i.put_at_s < "
                    "extract(epoch FROM now()) - $1 AND NOT EXISTS (SELECT 1 FROM jobs j WHERE "
                    "j.input_sha256 = i.sha256) AND NOT EXISTS (SELECT 1 FROM jobs j WHERE "
                    "j.mask_sha256 = i.sha256) LIMIT $2)",
                    {pg_param(q.input_grace_s), pg_param(std::int64_t{q.limit})})
                   .affected;
    tx.commit();
    return n;
}

ports::PruneCount PgQueueStore::count_prunable(const ports::PruneQuery& q) {
    ports::PruneCount n;
    std::string states = states_array(q);
    if (states.empty()) return n;
    PgParams p = {pg_param(q.finished_before_ms), states};
    std::string cand(kCandidates);
    n.jobs = pg_int(c_->exec("SELECT count(*) FROM jobs WHERE " + cand, p).rows.at(0).at(0));
    n.events = pg_int(c_->exec("SELECT count(*) FROM job_events WHERE job_id IN (SELECT id FROM "
                               "jobs WHERE " + cand + ")",
                               p)
                          .rows.at(0)
                          .at(0));
    // coalesce: a NULL finished_at makes the test NULL, and such a job is not a candidate.
    std::string kept = "NOT coalesce(j.finished_at < $1 AND j.state = ANY($2::text[]), false)";
    n.inputs = pg_int(
        c_->exec("WITH s AS (SELECT input_sha256 AS sha FROM jobs WHERE " + cand +
                     " AND input_sha256 <> '' UNION SELECT mask_sha256 FROM jobs WHERE " + cand +
                     " AND coalesce(mask_sha256, '') <> '') SELECT count(*) FROM s WHERE NOT "
                     "EXISTS (SELECT 1 FROM jobs j WHERE j.input_sha256 = s.sha AND " + kept +
                     ") AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.mask_sha256 = s.sha AND " +
                     kept + ")",
                 p)
            .rows.at(0)
            .at(0));
    return n;
}

std::int64_t PgQueueStore::forget_answers(std::int64_t before_ms) {
    return c_->exec("DELETE FROM idempotency WHERE at_ms < $1", {pg_param(before_ms)}).affected;
}

// PostgreSQL reclaims dead rows with autovacuum and bounds its WAL with its own checkpoints.
void PgQueueStore::checkpoint() {}

// Inputs are rows here, deleted in the transaction that deletes their last job: no file can
// outlive its jobs, so there is nothing for the orphan scan.
ports::SpoolPage PgQueueStore::spool_page(bool, int) { return {}; }
bool PgQueueStore::remove_spool_file(const std::string&) { return false; }

// Autovacuum makes dead rows' space reusable; giving it back to the file system (VACUUM FULL)
// locks the table, which a shared queue cannot afford: nothing to do here.
ports::ReclaimStep PgQueueStore::reclaim_space(int) { return {}; }

void PgQueueStore::add_pruned_credits(std::map<std::string, std::int64_t>& out,
                                      std::int64_t since_ms) {
    auto r = c_->exec(
        "SELECT key_name, sum(credits) FROM pruned_credits WHERE day_ms >= $1 GROUP BY key_name",
        {pg_param(since_ms)});
    for (const auto& row : r.rows) out[pg_text(row[0])] += pg_int(row[1]);
}

}  // namespace genq::store
