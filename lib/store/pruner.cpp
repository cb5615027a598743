#include "store/pruner.hpp"

#include <set>
#include <utility>
#include <vector>

#include "core/job_state.hpp"
#include "store/database.hpp"
#include "store/spool.hpp"

namespace genq::store {
namespace {

constexpr std::int64_t kDayMs = 86400000;

std::vector<JobState> final_states(const ports::PruneQuery& q) {
    std::vector<JobState> out;
    for (JobState s : q.states)
        if (is_terminal(s)) out.push_back(s);
    if (q.states.empty()) out = {JobState::succeeded, JobState::failed, JobState::canceled};
    return out;
}

// "finished_at < ?1 AND state IN (?3, ...)" over `alias`; ?2 is left for a LIMIT.
std::string candidates(const std::vector<JobState>& states, std::string_view alias = "") {
    std::string a = alias.empty() ? "" : std::string(alias) + ".";
    std::string sql = a + "finished_at < ?1 AND " + a + "state IN (";
    for (std::size_t i = 0; i < states.size(); ++i)
        sql += (i ? ",?" : "?") + std::to_string(i + 3);
    return sql + ")";
}

void bind_candidates(Statement& st, const ports::PruneQuery& q,
                     const std::vector<JobState>& states) {
    st.bind(1, q.finished_before_ms);
    for (std::size_t i = 0; i < states.size(); ++i)
        st.bind(static_cast<int>(i + 3), to_string(states[i]));
}

}  // namespace

Pruner::Pruner(Database& db, Spool& spool) : db_(db), spool_(spool), cursor_(spool.dir()) {}

ports::PruneCount Pruner::prune(const ports::PruneQuery& q) {
    auto states = final_states(q);
    ports::PruneCount n;
    if (states.empty() || q.limit <= 0) return n;
    std::vector<std::string> unused;
    {
        Transaction tx(db_);
        std::vector<Doomed> doomed;
        std::set<std::string> shas;
        auto st = db_.prepare(
            "SELECT id, coalesce(key_name, ''), cost, finished_at, input_sha256, "
            "coalesce(mask_sha256, '') FROM jobs WHERE " + candidates(states) +
            " ORDER BY finished_at LIMIT ?2");
        bind_candidates(*st, q, states);
        st->bind(2, q.limit);
        while (st->step()) {
            doomed.push_back({st->text(0), st->text(1), st->int64(2), st->int64(3)});
            for (int col : {4, 5})
                if (auto sha = st->text(col); !sha.empty()) shas.insert(sha);
        }
        st->reset();
        if (doomed.empty()) return n;
        n = delete_jobs(doomed);
        for (const auto& sha : shas)
            if (!input_used(sha)) unused.push_back(sha);
        tx.commit();
    }
    // After the commit: a failed commit must not leave a job without its input (a failed job
    // can be retried). A crash between the two leaves a file nothing uses, never the reverse.
    for (const auto& sha : unused)
        if (spool_.remove(sha)) ++n.inputs;
    return n;
}

// The jobs and their events; their credits move to pruned_credits (per key and UTC day).
ports::PruneCount Pruner::delete_jobs(const std::vector<Doomed>& doomed) {
    ports::PruneCount n;
    std::map<std::pair<std::string, std::int64_t>, std::int64_t> credits;
    for (const auto& d : doomed) {
        auto ev = db_.prepare("DELETE FROM job_events WHERE job_id=?");
        ev->bind(1, d.id);
        ev->run();
        n.events += db_.changes();
        auto job = db_.prepare("DELETE FROM jobs WHERE id=?");
        job->bind(1, d.id);
        job->run();
        n.jobs += db_.changes();
        if (d.cost > 0) credits[{d.key, d.finished_at - d.finished_at % kDayMs}] += d.cost;
    }
    for (const auto& [at, sum] : credits) {
        auto st = db_.prepare(
            "INSERT INTO pruned_credits (key_name, day_ms, credits) VALUES (?, ?, ?) "
            "ON CONFLICT(key_name, day_ms) DO UPDATE SET credits = credits + excluded.credits");
        st->bind(1, at.first).bind(2, at.second).bind(3, sum);
        st->run();
    }
    return n;
}

bool Pruner::input_used(const std::string& sha) {
    auto st = db_.prepare(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE input_sha256 = ?1) OR "
        "EXISTS (SELECT 1 FROM jobs WHERE mask_sha256 = ?1)");
    st->bind(1, sha);
    return !st->step() || st->int64(0) != 0;
}

ports::PruneCount Pruner::count(const ports::PruneQuery& q) {
    auto states = final_states(q);
    ports::PruneCount n;
    if (states.empty()) return n;
    std::string cand = candidates(states);
    {
        auto st = db_.prepare("SELECT count(*) FROM jobs WHERE " + cand);
        bind_candidates(*st, q, states);
        if (st->step()) n.jobs = st->int64(0);
    }
    {
        auto st = db_.prepare("SELECT count(*) FROM job_events WHERE job_id IN (SELECT id FROM "
                              "jobs WHERE " + cand + ")");
        bind_candidates(*st, q, states);
        if (st->step()) n.events = st->int64(0);
    }
    {
        // Inputs of candidates that no job outside the candidates uses.
        // coalesce: a NULL finished_at makes the test NULL, and such a job is not a candidate.
        std::string kept = "NOT coalesce(" + candidates(states, "j") + ", 0)";
        auto st = db_.prepare(
            "WITH s AS (SELECT input_sha256 AS sha FROM jobs WHERE " + cand +
            " AND input_sha256 <> '' UNION SELECT mask_sha256 FROM jobs WHERE " + cand +
            " AND coalesce(mask_sha256, '') <> '') SELECT count(*) FROM s WHERE NOT EXISTS "
            "(SELECT 1 FROM jobs j WHERE j.input_sha256 = s.sha AND " + kept +
            ") AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.mask_sha256 = s.sha AND " + kept +
            ")");
        bind_candidates(*st, q, states);
        if (st->step()) n.inputs = st->int64(0);
    }
    return n;
}

std::int64_t Pruner::forget_answers(std::int64_t before_ms) {
    Transaction tx(db_, Durability::relaxed);
    auto st = db_.prepare("DELETE FROM idempotency WHERE at_ms < ?");
    st->bind(1, before_ms);
    st->run();
    std::int64_t n = db_.changes();
    tx.commit();
    return n;
}

ports::SpoolPage Pruner::spool_page(bool from_start, int limit) {
    ports::SpoolPage page;
    for (auto& f : cursor_.next(from_start, limit, page.end)) {
        bool used = input_used(f.name);  // a name that is no sha256 matches no job
        page.entries.push_back({std::move(f.name), f.mtime_s, used});
    }
    return page;
}

// Checked again: the scanner decided on a page listed earlier in this loop turn, but the
// store's word is the one that counts.
bool Pruner::remove_spool_file(const std::string& name) {
    return !input_used(name) && cursor_.remove(name);
}

void Pruner::add_pruned_credits(std::map<std::string, std::int64_t>& out,
                                std::int64_t since_ms) {
    auto st = db_.prepare(
        "SELECT key_name, sum(credits) FROM pruned_credits WHERE day_ms >= ? GROUP BY key_name");
    st->bind(1, since_ms);
    while (st->step()) out[st->text(0)] += st->int64(1);
}

}  // namespace genq::store
