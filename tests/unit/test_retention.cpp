// Retention: the [retention] table and its durations, and the sweeper's decisions (what each
// step asks of the store, and when) on a manual clock. The store's side is in
// test_store_contract.cpp (both stores), the daemon's in tests/integration/test_retention.py.
#include <doctest/doctest.h>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/retention_config.hpp"
#include "sched/retention_sweeper.hpp"

using namespace genq;
using sched::RetentionSweeper;
using sched::SweepStep;

namespace {

ConfigLoad parse(const std::string& text) {
    return parse_config(text, "/etc/genq/genq.toml", {{"HOME", "/home/u"}});
}

bool has_problem(const ConfigLoad& load, const std::string& key, const std::string& text) {
    for (const auto& p : load.problems)
        if (p.key == key && p.reason.find(text) != std::string::npos) return true;
    return false;
}

RetentionConfig retention(double finished, double every, int batch = 100) {
    RetentionConfig c;
    c.finished_jobs = finished;
    c.sweep_every = every;
    c.batch = batch;
    return c;
}

std::int64_t ms(double s) { return static_cast<std::int64_t>(s * 1000); }

}  // namespace

TEST_SUITE("retention") {
    TEST_CASE("durations: a number and one unit, or 0") {
        CHECK(*parse_duration("90s") == 90);
        CHECK(*parse_duration("10m") == 600);
        CHECK(*parse_duration("12h") == 43200);
        CHECK(*parse_duration("30d") == 30 * 86400);
        CHECK(*parse_duration("2w") == 14 * 86400);
        CHECK(*parse_duration("1.5h") == 5400);
        CHECK(*parse_duration("0") == 0);
        for (const char* bad : {"", "d", "30", "3x", "-1d", "1 d", "1dd", "1e3s", "..s"}) {
            auto r = parse_duration(bad);
            CHECK_MESSAGE(!r.ok(), bad);
            if (!r.ok()) CHECK(r.error().message.find("\"30d\"") != std::string::npos);
        }
        CHECK(format_duration(30 * 86400) == "30d");
        CHECK(format_duration(600) == "10m");
        CHECK(format_duration(2) == "2s");
        CHECK(format_duration(0) == "0");
    }

    TEST_CASE("[retention]: defaults keep a month; strings, integers and errors") {
        auto d = parse("");
        REQUIRE(d.problems.empty());
        CHECK(d.config.retention.finished_jobs == 30 * 86400);
        CHECK(d.config.retention.sweep_every == 600);
        CHECK(d.config.retention.batch == 1000);

        auto ok = parse("[retention]\nfinished_jobs = \"2s\"\nsweep_every = 1\nbatch = 50\n");
        REQUIRE(ok.problems.empty());
        CHECK(ok.config.retention.finished_jobs == 2);
        CHECK(ok.config.retention.sweep_every == 1);
        CHECK(ok.config.retention.batch == 50);

        auto days = parse("[retention]\nfinished_jobs = 7\nsweep_every = \"5m\"\n");
        REQUIRE(days.problems.empty());
        CHECK(days.config.retention.finished_jobs == 7 * 86400);  // an integer counts days
        CHECK(days.config.retention.sweep_every == 300);           // ... and seconds here

        auto off = parse("[retention]\nfinished_jobs = 0\n");
        REQUIRE(off.problems.empty());
        CHECK(off.config.retention.finished_jobs == 0);

        auto bad = parse(
            "[retention]\nfinished_jobs = \"3x\"\nsweep_every = \"0\"\nbatch = 0\nage = 1\n");
        CHECK(has_problem(bad, "retention.finished_jobs", "like \"30d\""));
        CHECK(has_problem(bad, "retention.finished_jobs", "(got \"3x\")"));
        CHECK(has_problem(bad, "retention.sweep_every", "from 1s to 1d"));
        CHECK(has_problem(bad, "retention.batch", "from 1 to 100000"));
        CHECK(has_problem(bad, "retention.age", "known keys: finished_jobs, sweep_every, batch"));

        auto typed = parse("[retention]\nfinished_jobs = true\nsweep_every = \"2d\"\n");
        CHECK(has_problem(typed, "retention.finished_jobs", "(got a boolean)"));
        CHECK(has_problem(typed, "retention.sweep_every", "(got \"2d\")"));
        CHECK(has_problem(parse("retention = 3\n"), "retention", "must be a table"));
        CHECK(has_problem(parse("[retention]\nfinished_jobs = -1\n"), "retention.finished_jobs",
                          "0 (keep forever) or from 1s"));
    }

    TEST_CASE("sweeper: first sweep soon after start, then every sweep_every") {
        ManualClock clock(1'000'000);
        RetentionSweeper s;
        s.configure(retention(3600, 600), clock.now());
        CHECK(s.next_at() == clock.now() + RetentionSweeper::kFirstSweepAfter);
        CHECK_FALSE(s.step(clock.now()));
        clock.advance(10);
        auto st = s.step(clock.now());
        REQUIRE(st);
        CHECK(st->kind == SweepStep::Kind::prune);
        CHECK(st->query.finished_before_ms == ms(clock.now() - 3600));
        CHECK(st->query.limit == 100);
        CHECK(st->query.states.empty());  // every final state
        CHECK(st->query.input_grace_s == RetentionSweeper::kInputGrace);
        s.pruned({0, 0, 0}, clock.now());
        auto fin = s.step(clock.now());
        REQUIRE(fin);
        CHECK(fin->kind == SweepStep::Kind::finish);
        CHECK(fin->forget_answers_before_ms == ms(clock.now()) - 24 * 3600 * 1000LL);
        CHECK_FALSE(fin->checkpoint);  // nothing was deleted: no checkpoint
        auto report = s.finished(clock.now());
        CHECK(report.batches == 1);
        CHECK(report.removed.jobs == 0);
        CHECK(s.next_at() == clock.now() + 600);
        CHECK_FALSE(s.step(clock.now() + 599));
        CHECK(s.step(clock.now() + 600));
    }

    TEST_CASE("sweeper: full batches continue after a pause with the same cut-off") {
        ManualClock clock(2'000'000);
        RetentionSweeper s;
        s.configure(retention(60, 300, 10), clock.now());
        clock.advance(10);
        auto first = s.step(clock.now());
        REQUIRE(first);
        std::int64_t cutoff = first->query.finished_before_ms;
        for (int i = 0; i < 3; ++i) {
            s.pruned({10, 40, 2}, clock.now());  // a full batch: there may be more
            CHECK(s.next_at() == doctest::Approx(clock.now() + RetentionSweeper::kBatchPause));
            CHECK_FALSE(s.step(clock.now()));     // not before the pause
            clock.advance(0.5);                   // time moves on during the sweep ...
            auto next = s.step(clock.now());
            REQUIRE(next);
            CHECK(next->kind == SweepStep::Kind::prune);
            CHECK(next->query.finished_before_ms == cutoff);  // ... the cut-off does not
        }
        s.pruned({3, 9, 1}, clock.now());  // short: the last batch
        auto fin = s.step(clock.now());
        REQUIRE(fin);
        CHECK(fin->kind == SweepStep::Kind::finish);
        CHECK(fin->checkpoint);
        auto r = s.finished(clock.now());
        CHECK(r.removed.jobs == 33);
        CHECK(r.removed.events == 129);
        CHECK(r.removed.inputs == 7);
        CHECK(r.batches == 4);
        CHECK(r.seconds == doctest::Approx(1.5));
        CHECK_FALSE(s.sweeping());
    }

    TEST_CASE("sweeper: finished_jobs = 0 keeps jobs; idempotency answers still expire") {
        ManualClock clock(3'000'000);
        RetentionSweeper s;
        s.configure(retention(0, 5), clock.now());
        CHECK(s.next_at() == clock.now() + 5);  // sweep_every below the first-sweep delay
        clock.advance(5);
        auto st = s.step(clock.now());
        REQUIRE(st);
        CHECK(st->kind == SweepStep::Kind::finish);
        CHECK_FALSE(st->checkpoint);
        s.finished(clock.now());
    }

    TEST_CASE("sweeper: a reload that shortens sweep_every takes effect at once") {
        ManualClock clock(4'000'000);
        RetentionSweeper s;
        s.configure(retention(60, 3600), clock.now());
        clock.advance(10);
        REQUIRE(s.step(clock.now()));
        s.pruned({}, clock.now());
        REQUIRE(s.step(clock.now()));
        s.finished(clock.now());
        CHECK(s.next_at() == clock.now() + 3600);
        s.configure(retention(60, 60), clock.now());
        CHECK(s.next_at() == clock.now() + 60);
        s.configure(retention(60, 7200), clock.now());  // longer: the earlier sweep stays
        CHECK(s.next_at() == clock.now() + 60);
        CHECK(s.config().sweep_every == 7200);
    }

    TEST_CASE("purge: its query; the input grace is clamped") {
        ManualClock clock(5'000'000);
        RetentionSweeper s;
        s.configure(retention(86400, 600, 250), clock.now());
        auto all = s.purge_query(0, {}, clock.now());
        CHECK(all.finished_before_ms == ms(clock.now()) + 1);  // everything finished so far
        CHECK(all.limit == 250);
        CHECK(all.input_grace_s == RetentionSweeper::kMinInputGrace);
        auto old = s.purge_query(7200, {JobState::failed}, clock.now());
        CHECK(old.finished_before_ms == ms(clock.now() - 7200));
        CHECK(old.states == std::vector<JobState>{JobState::failed});
        CHECK(old.input_grace_s == RetentionSweeper::kInputGrace);
        CHECK(s.purge_query(30, {}, clock.now()).input_grace_s == 30);
    }
}
