// The storage interface's contract, run against both stores: the embedded SQLite one always, the
// shared PostgreSQL one when tests/integration/test_pg_store.py points GENQ_TEST_PG_CONNINFO at
// a server it started (otherwise those cases say they are skipped). Plus what only a shared
// store has: two nodes claiming from one queue, each job once; the first node migrates.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "core/clock.hpp"
#include "core/offset_clock.hpp"
#include "core/ids.hpp"
#include "store/migrations.hpp"
#include "store/database.hpp"
#include "store/pg_connection.hpp"
#include "store/pg_queue_store.hpp"
#include "store/sqlite_queue_store.hpp"
#include "temp_dir.hpp"

using namespace genq;
using namespace genq::store;

namespace genq::store {
const std::vector<Migration>& pg_migrations();  // generated: pg_schema_embed.cpp
}

namespace {

using genq::test::TempDir;

Job make_job(const std::string& name, int priority = 0) {
    Job j;
    j.id = new_job_id(now_ms());
    j.kind = "video";
    j.priority = priority;
    j.params = {{"cfg_scale", 1.8}};
    j.input_name = name;
    j.input_sha256 = std::string(64, 'a');
    j.input_width = 1024;
    j.input_height = 576;
    j.input_bytes = 1000;
    j.created_at = j.updated_at = now_ms();
    return j;
}

// A fresh database per case on the test's server; "" when no server was given.
std::string pg_conninfo() {
    const char* c = std::getenv("GENQ_TEST_PG_CONNINFO");
    return c ? c : "";
}

std::string fresh_pg_database() {
    static int n = 0;
    std::string name = "genq_t" + std::to_string(::getpid()) + "_" + std::to_string(++n);
    auto admin = PgConnection::open(pg_conninfo() + " dbname=postgres", "");
    if (!admin.ok()) FAIL(admin.error().message);
    (*admin)->exec("CREATE DATABASE " + name);
    return pg_conninfo() + " dbname=" + name;
}

std::unique_ptr<PgQueueStore> open_pg(const std::string& url, const std::string& node) {
    auto s = PgQueueStore::open({url, "", node});
    if (!s.ok()) FAIL(s.error().message);
    return std::move(*s);
}

void check_jobs_and_history(QueueStore& s) {
    Job j = make_job("cat.png");
    j.uid = 1000;
    s.insert({j}, "accepted");
    auto got = s.get(j.id);
    REQUIRE(got);
    CHECK(got->params["cfg_scale"] == 1.8);
    CHECK(got->state == JobState::queued);
    CHECK(got->uid == 1000);
    CHECK_FALSE(got->finished_at);

    Job a = *got;
    a.key_name = "main";
    a.attempts = 1;
    CHECK(s.transition(a, JobState::submitting, "attempt 1", Durability::full, now_ms()));
    CHECK(a.state == JobState::submitting);
    Job stale = *got;  // still believes it is queued: a concurrent change wins
    CHECK_FALSE(s.transition(stale, JobState::canceled, "late", Durability::full, now_ms()));
    a.remote_id = std::string(64, 'b');
    CHECK(s.transition(a, JobState::running, "accepted", Durability::relaxed, now_ms()));
    a.polls = 3;
    a.last_poll_s = 1234.5;
    s.save_progress(a, Durability::relaxed);
    a.finished_at = now_ms();
    a.cost = 20;
    a.output = "/out/cat.mp4";
    CHECK(s.transition(a, JobState::succeeded, "done", Durability::full, now_ms()));

    auto events = s.events(j.id);
    REQUIRE(events.size() == 4);
    CHECK(events[0].to_state == "queued");
    CHECK(events[0].from_state == "");
    CHECK(events[0].detail == "accepted");
    CHECK(events[2].from_state == "submitting");
    CHECK(events[2].to_state == "running");
    CHECK(events[3].to_state == "succeeded");
    CHECK(events[1].seq < events[2].seq);
    auto back = s.get(j.id);
    CHECK(back->remote_id == std::string(64, 'b'));
    CHECK(back->polls == 3);
    CHECK(back->last_poll_s == doctest::Approx(1234.5));
    CHECK(back->finished_at == a.finished_at);
    CHECK(s.credits_by_key(0)["main"] == 20);
    CHECK(s.output_reserved("/out/cat.mp4", "other"));
    CHECK_FALSE(s.output_reserved("/out/cat.mp4", j.id));
    CHECK(s.events_since(events[1].seq, 10).size() == 2);
}

void check_queue_order(QueueStore& s) {
    Job low = make_job("low");
    Job high = make_job("high", 5);
    Job later = make_job("later");
    later.not_before_s = now() + 100;
    s.insert({low, high, later}, "");
    auto next = s.next_queued(now(), 10);
    REQUIRE(next.size() == 2);
    CHECK(next[0].input_name == "high");
    CHECK(next[1].input_name == "low");
    CHECK(s.next_queued_wake(now()) == doctest::Approx(later.not_before_s));
    CHECK(s.in_state(JobState::queued).size() == 3);
    CHECK(s.counts_by_state()["queued"] == 3);
    CHECK(s.counts_by_state()["running"] == 0);
}

void check_listing(QueueStore& s) {
    std::vector<Job> jobs;
    for (int i = 0; i < 5; ++i) jobs.push_back(make_job("img" + std::to_string(i)));
    jobs[4].kind = "upscale";
    s.insert(jobs, "");
    JobQuery q;
    q.limit = 2;
    auto page1 = s.list(q);
    REQUIRE(page1.size() == 2);
    CHECK(page1[0].id == jobs[4].id);
    q.before = page1.back().id;
    auto page2 = s.list(q);
    REQUIRE(page2.size() == 2);
    CHECK(page2[0].id == jobs[2].id);
    q = JobQuery{};
    q.states = {JobState::running};
    CHECK(s.list(q).empty());
    q.states = {JobState::queued, JobState::running};
    q.kind = "video";
    CHECK(s.list(q).size() == 4);
    std::string upper;
    for (char c : jobs[0].id) upper += static_cast<char>(std::toupper(c));
    auto found = s.ids_with_prefix(upper.substr(0, 19), 5);
    REQUIRE(found.size() == 1);
    CHECK(found[0] == jobs[0].id);
    CHECK(s.ids_with_prefix("zzzzzzzz", 5).empty());
}

void check_inputs(QueueStore& s) {
    std::string bytes("\x89PNG\r\n\x1a\n\0\xff tail", 15);
    auto sha = s.put_input(bytes, false);
    REQUIRE(sha.ok());
    CHECK(sha->size() == 64);
    auto again = s.put_input(bytes, true);
    REQUIRE(again.ok());
    CHECK(*again == *sha);
    CHECK(s.sync_inputs().ok());
    auto read = s.read_input(*sha);
    REQUIRE(read.ok());
    CHECK(*read == bytes);
    CHECK_FALSE(s.read_input(std::string(64, '0')).ok());
}

// A time read back from a shared store may lean later by its clock offset's uncertainty (the
// database's clock, DbClockOffset), never earlier: "at t, or at most 50 ms later".
bool at_or_just_after(double got, double want) { return got >= want && got < want + 0.05; }

bool times_at_or_just_after(const std::vector<double>& got, const std::vector<double>& want) {
    if (got.size() != want.size()) return false;
    for (std::size_t i = 0; i < got.size(); ++i)
        if (!at_or_just_after(got[i], want[i])) return false;
    return true;
}

void check_send_log(QueueStore& s) {
    s.record_send("main", 100.5);
    s.record_send("main", 101.5);
    s.record_send("other", 101.0);
    s.save_lockout("main", 160);
    CHECK(times_at_or_just_after(s.sends_since("main", 101), {101.5}));
    CHECK(s.sends_since("main", 0).size() == 2);
    CHECK(at_or_just_after(s.lockout("main"), 160));
    CHECK(s.lockout("none") == 0);
    s.save_lockout("main", 170.25);
    CHECK(at_or_just_after(s.lockout("main"), 170.25));
    s.prune_sends(101.2);
    CHECK(times_at_or_just_after(s.sends_since("main", 0), {101.5}));
    CHECK(s.sends_since("other", 0).empty());
}

// Retention: finished jobs older than the cut-off go with their events and the inputs nothing
// else uses, in batches; unfinished jobs and inputs still used stay; credits keep counting.
Job finished_job(const std::string& name, JobState state, std::int64_t finished_at,
                 const std::string& input, const std::string& mask = "", int cost = 0) {
    Job j = make_job(name);
    j.state = state;
    j.finished_at = finished_at;
    j.updated_at = finished_at;
    j.input_sha256 = input;
    j.mask_sha256 = mask;
    j.key_name = "main";
    j.cost = cost;
    return j;
}

std::int64_t day_start(std::int64_t ms) { return ms - ms % 86400000; }

void check_retention(QueueStore& s) {
    auto put = [&](const std::string& text) {
        auto sha = s.put_input(text, true);
        REQUIRE(sha.ok());
        return *sha;
    };
    std::string shared = put("used by an old job and a queued one");
    std::string only_old = put("used by an old failed job only");
    std::string mask = put("the old failed job's mask");
    std::string recent_in = put("used by a recent job");
    std::int64_t t = now_ms();
    Job old_ok = finished_job("old-ok", JobState::succeeded, t - 200000, shared, "", 20);
    Job old_failed = finished_job("old-failed", JobState::failed, t - 100000, only_old, mask);
    Job recent = finished_job("recent", JobState::succeeded, t - 1000, recent_in, "", 5);
    Job queued = make_job("queued");
    queued.input_sha256 = shared;
    // Not final, whatever its finished_at says (a stale value must never make it prunable).
    Job running = finished_job("running", JobState::running, t - 300000, recent_in);
    s.insert({old_ok, old_failed, recent, queued, running}, "accepted");
    Job moved = *s.get(old_ok.id);  // a second event for one of them
    CHECK(s.transition(moved, JobState::succeeded, "again", Durability::full, t - 200000));
    auto total_before = s.credits_by_key(0)["main"];
    auto day_before = s.credits_by_key(day_start(t - 200000))["main"];

    ports::PruneQuery q;
    q.finished_before_ms = t - 10000;
    q.limit = 1;
    auto would = s.count_prunable(q);
    CHECK(would.jobs == 2);
    CHECK(would.events == 3);
    CHECK(would.inputs == 2);  // only_old and mask; shared is still the queued job's
    CHECK(s.get(old_ok.id));   // a count changes nothing
    CHECK(s.events(old_ok.id).size() == 2);

    ports::PruneQuery failed_only = q;
    failed_only.states = {JobState::canceled};
    CHECK(s.prune_finished(failed_only).jobs == 0);  // no old canceled job
    CHECK(s.get(old_ok.id));

    ports::PruneCount sum;
    auto first = s.prune_finished(q);  // the oldest first, one per call
    CHECK(first.jobs == 1);
    CHECK_FALSE(s.get(old_ok.id));
    CHECK(s.get(old_failed.id));
    sum += first;
    sum += s.prune_finished(q);
    auto last = s.prune_finished(q);
    CHECK(last.jobs == 0);
    sum += last;
    CHECK(sum.jobs == 2);
    CHECK(sum.events == 3);
    CHECK(sum.inputs == 2);
    CHECK_FALSE(s.get(old_failed.id));
    CHECK(s.events(old_ok.id).empty());
    CHECK(s.events(old_failed.id).empty());
    CHECK(s.get(recent.id));
    CHECK(s.get(queued.id));
    CHECK(s.get(running.id));
    CHECK(s.events(queued.id).size() == 1);
    CHECK(s.read_input(shared).ok());
    CHECK(s.read_input(recent_in).ok());
    CHECK_FALSE(s.read_input(only_old).ok());
    CHECK_FALSE(s.read_input(mask).ok());
    // The pruned job's credits still count, in its day and in the total.
    CHECK(s.credits_by_key(0)["main"] == total_before);
    CHECK(s.credits_by_key(day_start(t - 200000))["main"] == day_before);
    CHECK(s.count_prunable(q).jobs == 0);

    ports::PruneQuery everything;
    everything.finished_before_ms = t + 1;
    everything.limit = 100;
    everything.states = {JobState::succeeded, JobState::queued};  // queued is ignored
    CHECK(s.prune_finished(everything).jobs == 1);  // recent
    CHECK(s.get(queued.id));
    CHECK(s.get(running.id));
    CHECK(s.read_input(recent_in).ok());  // still the running job's
    CHECK(s.credits_by_key(0)["main"] == total_before);
    s.checkpoint();

    s.remember_answer("k-old", {"h", "{}", t - 2 * 86400000LL}, 0);
    s.remember_answer("k-new", {"h", "{}", t}, 0);
    CHECK(s.forget_answers(t - 86400000LL) == 1);
    CHECK_FALSE(s.find_answer("k-old", 0));
    CHECK(s.find_answer("k-new", 0));
}

// Pauses: the saved set is replaced, never merged; "" (the whole queue) is a scope like a key.
void check_pauses(QueueStore& s) {
    CHECK(s.load_pauses().empty());
    s.save_pauses({"", "main"});
    CHECK(s.load_pauses() == std::vector<std::string>{"", "main"});
    s.save_pauses({"main", "other", "main"});
    CHECK(s.load_pauses() == std::vector<std::string>{"main", "other"});
    s.save_pauses({});
    CHECK(s.load_pauses().empty());
    s.save_pauses({"other"});
}

// What check_pauses left, seen by the same store opened again (a restart).
void check_pauses_reopened(QueueStore& s) {
    CHECK(s.load_pauses() == std::vector<std::string>{"other"});
}

// The counts and credit sums /v1/status shows, through every kind of write (issue 12: the
// SQLite store keeps them in trigger-maintained tables instead of scanning every job).
void check_counters(QueueStore& s) {
    constexpr std::int64_t kDay = 86400000;
    std::int64_t today = (now_ms() / kDay) * kDay;
    std::vector<Job> jobs;
    for (int i = 0; i < 5; ++i) jobs.push_back(make_job("c" + std::to_string(i)));
    s.insert(jobs, "");
    auto counts = s.counts_by_state();
    CHECK(counts["queued"] == 5);
    CHECK(counts["succeeded"] == 0);
    CHECK(counts.size() == 6);
    auto finish = [&](Job& j, const std::string& key, int cost, std::int64_t at) {
        j.key_name = key;
        ++j.attempts;  // a claim counts its attempt (QueueStore::transition)
        REQUIRE(s.transition(j, JobState::submitting, "", Durability::relaxed, at));
        REQUIRE(s.transition(j, JobState::running, "", Durability::relaxed, at));
        j.finished_at = at;
        j.cost = cost;
        REQUIRE(s.transition(j, JobState::succeeded, "", Durability::full, at));
    };
    finish(jobs[0], "main", 20, today + 1000);
    finish(jobs[1], "main", 20, today - kDay + 5);  // yesterday
    finish(jobs[2], "second", 25, today + 2000);
    jobs[3].key_name = "main";
    ++jobs[3].attempts;
    REQUIRE(s.transition(jobs[3], JobState::submitting, "", Durability::relaxed, now_ms()));
    REQUIRE(s.transition(jobs[4], JobState::canceled, "", Durability::full, now_ms()));
    counts = s.counts_by_state();
    CHECK(counts["queued"] == 0);
    CHECK(counts["submitting"] == 1);
    CHECK(counts["running"] == 0);
    CHECK(counts["succeeded"] == 3);
    CHECK(counts["canceled"] == 1);
    auto all = s.credits_by_key(0);
    CHECK(all["main"] == 40);
    CHECK(all["second"] == 25);
    auto day = s.credits_by_key(today);
    CHECK(day["main"] == 20);
    CHECK(day["second"] == 25);
    // Not a day boundary: only what finished from then on.
    auto since = s.credits_by_key(today + 1500);
    CHECK(since.count("main") == 0);
    CHECK(since["second"] == 25);
    // A progress save that changes what a finished job cost is counted too.
    jobs[0].cost = 3;
    s.save_progress(jobs[0], Durability::full);
    CHECK(s.credits_by_key(today)["main"] == 3);
    CHECK(s.credits_by_key(0)["main"] == 23);
}

void run_contract(const std::function<std::unique_ptr<QueueStore>()>& fresh) {
    SUBCASE("counters") { check_counters(*fresh()); }
    SUBCASE("jobs and history") { check_jobs_and_history(*fresh()); }
    SUBCASE("queue order") { check_queue_order(*fresh()); }
    SUBCASE("listing") { check_listing(*fresh()); }
    SUBCASE("inputs") { check_inputs(*fresh()); }
    SUBCASE("send log") { check_send_log(*fresh()); }
    SUBCASE("retention") { check_retention(*fresh()); }
    SUBCASE("pauses") { check_pauses(*fresh()); }
}

#define SKIP_WITHOUT_PG()                                                                     \
    if (pg_conninfo().empty()) {                                                              \
        MESSAGE("skipped: no PostgreSQL (GENQ_TEST_PG_CONNINFO unset; test_pg_store.py sets it)"); \
        return;                                                                               \
    }

}  // namespace

TEST_SUITE("store contract") {
    TEST_CASE("the SQLite store keeps the storage interface's contract") {
        std::vector<std::unique_ptr<TempDir>> dirs;
        run_contract([&]() -> std::unique_ptr<QueueStore> {
            dirs.push_back(std::make_unique<TempDir>());
            auto s = SqliteQueueStore::open(dirs.back()->path);
            REQUIRE(s.ok());
            return std::move(*s);
        });
    }

    TEST_CASE("the SQLite store keeps pauses across a reopen") {
        TempDir dir;
        {
            auto s = SqliteQueueStore::open(dir.path);
            REQUIRE(s.ok());
            check_pauses(**s);
        }
        auto again = SqliteQueueStore::open(dir.path);
        REQUIRE(again.ok());
        check_pauses_reopened(**again);
    }

    TEST_CASE("pg: pauses survive a reopen and are each node's own") {
        SKIP_WITHOUT_PG();
        std::string url = fresh_pg_database();
        check_pauses(*open_pg(url, "n1"));
        check_pauses_reopened(*open_pg(url, "n1"));
        CHECK(open_pg(url, "n2")->load_pauses().empty());
    }

    TEST_CASE("SQLite: the counters follow rows deleted behind the store's back (retention)") {
        TempDir dir;
        auto s = SqliteQueueStore::open(dir.path);
        REQUIRE(s.ok());
        QueueStore& q = **s;
        Job a = make_job("a");
        Job b = make_job("b");
        q.insert({a, b}, "");
        a.key_name = "main";
        REQUIRE(q.transition(a, JobState::submitting, "", Durability::full, now_ms()));
        REQUIRE(q.transition(a, JobState::running, "", Durability::full, now_ms()));
        a.finished_at = now_ms();
        a.cost = 20;
        REQUIRE(q.transition(a, JobState::succeeded, "", Durability::full, now_ms()));
        CHECK(q.credits_by_key(0)["main"] == 20);
        auto& db = (*s)->database();
        db.exec("DELETE FROM job_events WHERE job_id='" + a.id + "'");
        db.exec("DELETE FROM jobs WHERE id='" + a.id + "'");
        auto counts = q.counts_by_state();
        CHECK(counts["succeeded"] == 0);
        CHECK(counts["queued"] == 1);
        CHECK(q.credits_by_key(0).count("main") == 0);
    }

    TEST_CASE("pg: the PostgreSQL store keeps the storage interface's contract") {
        SKIP_WITHOUT_PG();
        run_contract([&]() -> std::unique_ptr<QueueStore> {
            return open_pg(fresh_pg_database(), "n1");
        });
    }

    TEST_CASE("pg: the first node migrates; the next finds the same version; too new refused") {
        SKIP_WITHOUT_PG();
        std::string url = fresh_pg_database();
        auto a = open_pg(url, "a");
        int v = a->schema_version();
        CHECK(v == pg_migrations().back().version);  // schema/pg/*.sql
        auto b = open_pg(url, "b");
        CHECK(b->schema_version() == v);
        auto c = PgConnection::open(url, "");
        REQUIRE(c.ok());
        CHECK((*c)->exec("SELECT count(*) FROM schema_version").rows[0][0] ==
              std::to_string(pg_migrations().size()));
        auto nodes = (*c)->exec("SELECT name FROM nodes ORDER BY name");
        REQUIRE(nodes.rows.size() == 2);
        CHECK(nodes.rows[1][0] == "b");
        (*c)->exec("INSERT INTO schema_version (version) VALUES (999)");
        auto late = PgQueueStore::open({url, "", "c"});
        REQUIRE_FALSE(late.ok());
        CHECK(late.error().code == "db_too_new");
    }

    TEST_CASE("pg: a wrong address is a clear db_open error") {
        SKIP_WITHOUT_PG();
        auto s = PgQueueStore::open({pg_conninfo() + " dbname=no_such_db", "", "x"});
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().code == "db_open");
        CHECK(s.error().message.find("no_such_db") != std::string::npos);
    }

    TEST_CASE("pg: two nodes claiming from one queue get each job exactly once") {
        SKIP_WITHOUT_PG();
        std::string url = fresh_pg_database();
        auto setup = open_pg(url, "setup");
        std::vector<Job> jobs;
        for (int i = 0; i < 300; ++i) jobs.push_back(make_job("j" + std::to_string(i)));
        setup->insert(jobs, "");
        // Two nodes on their own connections and threads, each claiming whatever it sees queued.
        std::atomic<int> claimed[2] = {0, 0};
        auto worker = [&](int n) {
            auto s = open_pg(url, "node" + std::to_string(n));
            for (;;) {
                auto next = s->next_queued(now(), 20);
                if (next.empty()) break;
                for (auto& j : next) {
                    ++j.attempts;
                    if (s->transition(j, JobState::submitting, "claim", Durability::full, now_ms()))
                        claimed[n]++;
                }
            }
        };
        std::thread t0(worker, 0), t1(worker, 1);
        t0.join();
        t1.join();
        CHECK(claimed[0] + claimed[1] == 300);
        auto c = PgConnection::open(url, "");
        REQUIRE(c.ok());
        // Every claim wrote exactly one event and recorded the node that won it.
        auto ev = (*c)->exec("SELECT count(*) FROM job_events WHERE to_state='submitting'");
        CHECK(ev.rows[0][0] == "300");
        auto byNode = (*c)->exec("SELECT node, count(*) FROM jobs GROUP BY node ORDER BY node");
        long total = 0;
        for (const auto& r : byNode.rows) {
            REQUIRE(r[0]);
            CHECK((*r[0] == "node0" || *r[0] == "node1"));
            total += pg_int(r[1]);
        }
        CHECK(total == 300);
        MESSAGE("claims: node0 " << claimed[0].load() << ", node1 " << claimed[1].load());
    }

    TEST_CASE("pg: a live node's generations stay its own; a dead node's are taken over once") {
        SKIP_WITHOUT_PG();
        std::string url = fresh_pg_database();
        auto a = open_pg(url, "a");
        Job sub = make_job("sub"), run = make_job("run");
        a->insert({sub, run}, "");
        sub.key_name = run.key_name = "main";
        sub.attempts = run.attempts = 1;
        REQUIRE(a->transition(sub, JobState::submitting, "claim", Durability::full, now_ms()));
        REQUIRE(a->transition(run, JobState::submitting, "claim", Durability::full, now_ms()));
        run.remote_id = "gen-1";
        run.last_poll_s = 1000.5;
        REQUIRE(a->transition(run, JobState::running, "accepted", Durability::full, now_ms()));

        auto b = open_pg(url, "b");
        CHECK(b->in_state(JobState::running).empty());  // a heartbeats: not b's to recover
        CHECK(b->in_state(JobState::submitting).empty());
        CHECK(a->in_state(JobState::running).size() == 1);  // a restarted recovers its own

        // a stops heartbeating: after the lease (30 s, the database's clock) it is dead.
        auto c = PgConnection::open(url, "");
        REQUIRE(c.ok());
        (*c)->exec("UPDATE nodes SET heartbeat_s = heartbeat_s - 31 WHERE name = 'a'");
        auto taken = b->in_state(JobState::running);
        REQUIRE(taken.size() == 1);
        CHECK(taken[0].id == run.id);
        CHECK(taken[0].remote_id == "gen-1");       // same generation, same key
        CHECK(taken[0].key_name == "main");
        CHECK(taken[0].last_poll_s >= 1000.5);      // the next poll keeps its distance
        CHECK(taken[0].last_poll_s < 1000.5 + 0.05);  // (never earlier: DbClockOffset)
        CHECK(b->in_state(JobState::submitting).size() == 1);
        auto owner = (*c)->exec("SELECT node, count(*) FROM jobs GROUP BY node");
        REQUIRE(owner.rows.size() == 1);
        CHECK(owner.rows[0][0] == "b");
        auto third = open_pg(url, "c");
        CHECK(third->in_state(JobState::running).empty());  // b is alive: taken once
    }

    TEST_CASE("pg: a running node takes over a dead node's generations; nodes are listed") {
        SKIP_WITHOUT_PG();
        std::string url = fresh_pg_database();
        auto a = open_pg(url, "a");
        auto b = open_pg(url, "b");
        Job run = make_job("run"), sub = make_job("sub");
        a->insert({run, sub}, "");
        run.key_name = sub.key_name = "main";
        run.attempts = sub.attempts = 1;
        REQUIRE(a->transition(run, JobState::submitting, "claim", Durability::full, now_ms()));
        CHECK(run.node == "a");
        run.remote_id = "gen-7";
        run.last_poll_s = 2000.25;
        REQUIRE(a->transition(run, JobState::running, "accepted", Durability::full, now_ms()));
        REQUIRE(a->transition(sub, JobState::submitting, "claim", Durability::full, now_ms()));
        CHECK(b->take_over_orphans().empty());  // a is alive
        CHECK(a->own_generations().size() == 2);
        auto listed = b->nodes();
        REQUIRE(listed.size() == 2);
        CHECK(listed[0].name == "a");
        CHECK(listed[0].alive);
        CHECK(listed[0].generations == 2);
        CHECK(listed[1].generations == 0);

        auto c = PgConnection::open(url, "");
        REQUIRE(c.ok());
        (*c)->exec("UPDATE nodes SET heartbeat_s = heartbeat_s - 31 WHERE name = 'a'");
        CHECK_FALSE(b->nodes()[0].alive);
        auto taken = b->take_over_orphans();
        REQUIRE(taken.size() == 2);
        CHECK(taken[0].id == run.id);
        CHECK(taken[0].remote_id == "gen-7");
        CHECK(taken[0].last_poll_s >= 2000.25);
        CHECK(taken[0].last_poll_s < 2000.25 + 0.05);
        CHECK(taken[0].node == "b");
        CHECK(b->take_over_orphans().empty());  // taken once
        CHECK(a->own_generations().empty());    // a, back, holds nothing any more
        CHECK(b->get(run.id)->node == "b");
    }

    TEST_CASE("pg: a refused reservation says why and how long to wait") {
        SKIP_WITHOUT_PG();
        std::string url = fresh_pg_database();
        auto s = open_pg(url, "n");
        REQUIRE(s->reserve_send("k", 2, 10, "").granted);
        REQUIRE(s->reserve_send("k", 2, 10, "").granted);
        auto full = s->reserve_send("k", 2, 10, "");
        CHECK_FALSE(full.granted);
        CHECK_FALSE(full.locked_out);
        CHECK(full.wait_s > 9.5);
        CHECK(full.wait_s <= 10);
        s->save_lockout("k2", genq::system_clock().now() + 30);
        auto locked = s->reserve_send("k2", 2, 10, "");
        CHECK_FALSE(locked.granted);
        CHECK(locked.locked_out);
        CHECK(locked.wait_s == doctest::Approx(30).epsilon(0.05));
        CHECK(s->lockout("k2") > genq::system_clock().now() + 29);
    }

    TEST_CASE("pg: reservations keep a key's window exact across three nodes; lock-outs hold") {
        SKIP_WITHOUT_PG();
        std::string url = fresh_pg_database();
        const int limit = 5;
        const double window = 0.5;
        std::atomic<int> granted{0};
        auto node = [&](int n) {
            auto s = open_pg(url, "node" + std::to_string(n));
            TimePoint end = s->db_now() + 1.6;
            while (s->db_now() < end)
                if (s->reserve_send("shared", limit, window, "").granted) granted++;
        };
        std::thread t0(node, 0), t1(node, 1), t2(node, 2);
        t0.join();
        t1.join();
        t2.join();
        auto s = open_pg(url, "check");
        auto sends = s->sends_since("shared", 0);
        CHECK(static_cast<int>(sends.size()) == granted.load());
        // 1.6 s of 0.5 s windows: the budget is used (at least 3 windows' worth) ...
        CHECK(granted.load() >= 3 * limit);
        // ... and no window of 0.5 s, anywhere, holds more than `limit` reservations.
        int worst = 0;
        for (std::size_t i = 0; i < sends.size(); ++i) {
            int n = 0;
            for (std::size_t j = i; j < sends.size() && sends[j] < sends[i] + window; ++j) ++n;
            worst = std::max(worst, n);
        }
        CHECK(worst <= limit);
        MESSAGE("granted " << granted.load() << ", fullest window " << worst);

        // A lock-out saved by one node refuses the key on every node until it ends.
        TimePoint until = s->db_now() + 60;
        s->save_lockout("other", until);
        auto r = open_pg(url, "node9")->reserve_send("other", limit, window, "");
        CHECK_FALSE(r.granted);
        CHECK(r.at == doctest::Approx(until));
    }

    TEST_CASE("pg: a node that lost a job never overwrites the new owner's progress or sends") {
        SKIP_WITHOUT_PG();
        std::string url = fresh_pg_database();
        auto a = open_pg(url, "a");
        auto b = open_pg(url, "b");
        Job run = make_job("run");
        a->insert({run}, "");
        run.key_name = "main";
        run.attempts = 1;
        REQUIRE(a->transition(run, JobState::submitting, "claim", Durability::full, now_ms()));
        run.remote_id = "gen-1";
        REQUIRE(a->transition(run, JobState::running, "accepted", Durability::full, now_ms()));
        REQUIRE(a->reserve_send("main", 100, 10, run.id).granted);  // a holds it: a polls
        Job stale = run;  // a stalls here, holding this copy

        // a is silent for the lease: b takes the generation over and polls on.
        auto c = PgConnection::open(url, "");
        REQUIRE(c.ok());
        (*c)->exec("UPDATE nodes SET heartbeat_s = heartbeat_s - 31 WHERE name = 'a'");
        auto taken = b->take_over_orphans();
        REQUIRE(taken.size() == 1);
        Job mine = taken[0];
        mine.polls = 7;
        mine.last_poll_s = 3000;
        b->save_progress(mine, Durability::relaxed);

        // a wakes: whatever it writes from its copy is refused (state, attempt and owner), and
        // it may send nothing more for the job. (A guard on the state alone let all of it by.)
        stale.polls = 99;
        a->save_progress(stale, Durability::full);
        CHECK(b->get(run.id)->polls == 7);
        Job late = stale;
        late.output = "/out/late.mp4";
        late.cost = 20;
        late.finished_at = now_ms();
        CHECK_FALSE(a->transition(late, JobState::succeeded, "late", Durability::full, now_ms()));
        Job requeue = stale;
        requeue.attempts = 0;
        CHECK_FALSE(a->transition(requeue, JobState::queued, "late", Durability::full, now_ms()));
        auto r = a->reserve_send("main", 100, 10, run.id);
        CHECK(r.lost);
        CHECK_FALSE(r.granted);
        a->heartbeat();  // back alive: still not its job
        CHECK(a->reserve_send("main", 100, 10, run.id).lost);
        CHECK(a->get(run.id)->node == "b");
        CHECK(b->reserve_send("main", 100, 10, run.id).granted);
        mine.output = "/out/run.mp4";
        mine.finished_at = now_ms();
        CHECK(b->transition(mine, JobState::succeeded, "done", Durability::full, now_ms()));
        auto ends = (*c)->exec("SELECT count(*) FROM job_events WHERE to_state='succeeded'");
        CHECK(ends.rows[0][0] == "1");
        CHECK(b->get(run.id)->output == "/out/run.mp4");

        // A queued copy read before another node claimed, retried and requeued the job is
        // refused at its claim (its attempt is out of date), as is a copy left saying
        // `submitting` by a claim that lost.
        Job q = make_job("q");
        b->insert({q}, "");
        Job qa = *a->get(q.id);
        Job qb = *b->get(q.id);
        qb.key_name = "main";
        qb.attempts = 1;
        REQUIRE(b->transition(qb, JobState::submitting, "claim", Durability::full, now_ms()));
        Job ghost = qa;
        ghost.state = JobState::submitting;
        ghost.attempts = 1;
        CHECK_FALSE(a->transition(ghost, JobState::running, "ghost", Durability::full, now_ms()));
        qb.not_before_s = now() + 60;
        qb.wait_reason = "retry";
        REQUIRE(b->transition(qb, JobState::queued, "retry later", Durability::full, now_ms()));
        qa.key_name = "main";
        qa.attempts = 1;
        CHECK_FALSE(a->transition(qa, JobState::submitting, "stale claim", Durability::full,
                                  now_ms()));
        auto fresh = *a->get(q.id);
        CHECK(fresh.attempts == 1);
        CHECK(fresh.not_before_s >= qb.not_before_s);
        fresh.attempts = 2;
        CHECK(a->transition(fresh, JobState::submitting, "claim", Durability::full, now_ms()));
    }

    TEST_CASE("pg: a submission held back when its node died is adopted as never sent") {
        SKIP_WITHOUT_PG();
        std::string url = fresh_pg_database();
        auto a = open_pg(url, "a");
        Job sent = make_job("sent"), held = make_job("held");
        a->insert({sent, held}, "");
        for (Job* j : {&sent, &held}) {
            j->key_name = "main";
            j->attempts = 1;
            REQUIRE(a->transition(*j, JobState::submitting, "claim", Durability::full, now_ms()));
        }
        REQUIRE(a->reserve_send("main", 1, 10, sent.id).granted);
        auto refused = a->reserve_send("main", 1, 10, held.id);  // the window is full: held
        REQUIRE_FALSE(refused.granted);
        CHECK_FALSE(refused.lost);

        auto c = PgConnection::open(url, "");
        REQUIRE(c.ok());
        (*c)->exec("UPDATE nodes SET heartbeat_s = heartbeat_s - 31 WHERE name = 'a'");
        auto b = open_pg(url, "b");
        REQUIRE(b->take_over_orphans().size() == 2);
        CHECK(b->take_never_sent(held.id));
        CHECK_FALSE(b->take_never_sent(sent.id));
        CHECK_FALSE(b->take_never_sent(held.id));  // answered once per adoption
        // What b knew carries over to the next adoption (b restarted under its name): the
        // process that ran before is refused from then on.
        auto b2 = open_pg(url, "b");
        REQUIRE(b2->in_state(JobState::submitting).size() == 2);
        CHECK(b2->take_never_sent(held.id));
        CHECK_FALSE(b2->take_never_sent(sent.id));
        CHECK(b->reserve_send("main", 100, 10, sent.id).lost);
        CHECK_FALSE(b2->reserve_send("main", 100, 10, sent.id).lost);
    }

    TEST_CASE("pg: times shared by nodes are in the database's clock, whatever the nodes' say") {
        SKIP_WITHOUT_PG();
        std::string url = fresh_pg_database();
        // Node "ahead" runs 40 s ahead of the database (its host's clock); "behind" 25 s behind.
        OffsetClock ahead(genq::system_clock(), 40), behind(genq::system_clock(), -25);
        auto s_ahead = PgQueueStore::open({url, "", "ahead", 30, &ahead});
        auto s_behind = PgQueueStore::open({url, "", "behind", 30, &behind});
        REQUIRE(s_ahead.ok());
        REQUIRE(s_behind.ok());
        PgQueueStore& a = **s_ahead;
        PgQueueStore& b = **s_behind;
        CHECK(std::abs(a.clock_offset().offset() + 40) < 0.05);
        CHECK(std::abs(b.clock_offset().offset() - 25) < 0.05);
        Job j = make_job("j");
        a.insert({j}, "");
        // "ahead" requeues it not before 10 s from its now: "behind" must not find it ready
        // 10 s early (its now is 65 s behind "ahead"'s).
        Job mine = *a.get(j.id);
        mine.not_before_s = ahead.now() + 10;
        a.save_progress(mine, Durability::full);
        CHECK(b.next_queued(behind.now(), 10).empty());
        CHECK(b.next_queued_wake(behind.now()) >= behind.now() + 9.8);
        CHECK(b.next_queued_wake(behind.now()) < behind.now() + 10.1);
        CHECK(b.next_queued(behind.now() + 10.2, 10).size() == 1);
        // A last poll written by "ahead" reads, on "behind", as the same moment.
        mine.last_poll_s = ahead.now() - 1;
        a.save_progress(mine, Durability::full);
        double seen = b.get(j.id)->last_poll_s;
        CHECK(seen >= behind.now() - 1 - 0.1);  // (the clocks ran on between the two calls)
        CHECK(seen < behind.now() - 1 + 0.1);
        // A lock-out "ahead" saved lasts as long on "behind".
        a.save_lockout("main", ahead.now() + 30);
        CHECK(b.lockout("main") >= behind.now() + 29.9);
        CHECK(b.lockout("main") < behind.now() + 30.2);
    }
}
