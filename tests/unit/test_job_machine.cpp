// The job machine as tables: every (phase x answer) pair, and every crash and failure point of a
// job's life looped the way Beast loops fail_count. No sockets, no sleeps, a manual clock.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include "machine_world.hpp"
#include "sched/job_machine.hpp"

namespace genq::test {
namespace {

using namespace sched;

std::string error_body(const std::string& name) {
    return R"({"id":"e1","name":")" + name + R"(","errors":["something about )" + name + R"("]})";
}

// What one answer should lead to, for a table row.
enum class Expect { running, placed, poll_again, failed, backoff, key_rest, key_off, retried_free };

struct Row {
    const char* what;
    Reply reply;
    Expect expect;
    const char* error_code = "";
};

std::vector<Row> submit_rows(bool sync) {
    std::vector<Row> rows = {
        {"400", answered(400, error_body("bad_request"), true, sync), Expect::failed, "bad_request"},
        {"401", answered(401, error_body("unauthorized"), true, sync), Expect::key_off},
        {"402", answered(402, error_body("payment_required"), true, sync), Expect::key_off},
        {"403", answered(403, error_body("content_moderation"), true, sync), Expect::failed,
         "content_moderation"},
        {"404", answered(404, error_body("not_found"), true, sync), Expect::failed, "not_found"},
        {"413", answered(413, error_body("payload_too_large"), true, sync), Expect::failed,
         "payload_too_large"},
        {"422", answered(422, error_body("invalid_parameters"), true, sync), Expect::failed,
         "invalid_parameters"},
        {"429", answered(429, error_body("rate_limit_exceeded"), true, sync), Expect::key_rest},
        {"500", answered(500, error_body("internal_error"), true, sync), Expect::backoff},
        {"503", answered(503, "", true, sync), Expect::backoff},
        {"202", answered(202, "{}", true, sync), Expect::backoff},
        {"timeout", transport(errc::timeout), Expect::backoff},
        {"reset", transport(errc::connection_reset), Expect::backoff},
        {"truncated", transport(errc::truncated), Expect::backoff},
        {"tls", transport(errc::tls_failed), Expect::backoff},
        {"not sent", transport(errc::rate_limited_local), Expect::retried_free},
    };
    if (sync)
        rows.push_back({"200 result", answered(200, "", true, true), Expect::placed});
    else
        rows.push_back({"200 id", answered(200, R"({"id":"gen1"})", true, false), Expect::running});
    return rows;
}

std::vector<Row> poll_rows() {
    return {
        {"200 result", answered(200, "", false, false), Expect::placed},
        {"202", answered(202, "{}", false, false), Expect::poll_again},
        {"400", answered(400, error_body("bad_request"), false, false), Expect::failed,
         "bad_request"},
        {"401", answered(401, error_body("unauthorized"), false, false), Expect::poll_again},
        {"402", answered(402, error_body("payment_required"), false, false), Expect::poll_again},
        {"403", answered(403, error_body("forbidden"), false, false), Expect::failed, "forbidden"},
        {"404", answered(404, error_body("not_found"), false, false), Expect::failed,
         "generation_not_found"},
        {"413", answered(413, "", false, false), Expect::failed, "http_413"},
        {"422", answered(422, error_body("invalid"), false, false), Expect::failed, "invalid"},
        {"429", answered(429, error_body("rate_limit_exceeded"), false, false), Expect::poll_again},
        {"500", answered(500, "", false, false), Expect::poll_again},
        {"503", answered(503, "", false, false), Expect::poll_again},
        {"timeout", transport(errc::timeout), Expect::poll_again},
        {"reset", transport(errc::connection_reset), Expect::poll_again},
        {"truncated", transport(errc::truncated), Expect::poll_again},
    };
}

// A machine with one key and one job driven to the moment its request is under way.
struct Bench {
    JobMachine m{7};
    ManualClock clock;
    Job job;
    RequestId request = 0;

    explicit Bench(const std::string& kind) {
        MachineSettings s;
        s.keys = {{"main", 1}};
        m.configure(s);
        job.id = "j1";
        job.kind = kind;
        job.input_name = "cat.png";
        auto o = m.offer({job}, clock.now());
        REQUIRE(o.placed == 1);
        for (auto& a : o.actions) {
            if (auto* c = std::get_if<Commit>(&a)) job = c->job, job.state = c->to;
            if (auto* s2 = std::get_if<SendSubmit>(&a)) request = s2->request;
        }
        REQUIRE(request != 0);
    }

    void to_running() {
        REQUIRE(m.may_send(request, clock.now()));
        auto acts = m.on_reply(request, answered(200, R"({"id":"gen1"})", true, false),
                               clock.now());
        REQUIRE(!acts.empty());
        clock.advance(m.poll_interval());
        auto polls = m.dispatch_polls(clock.now());
        REQUIRE(polls.size() == 1);
        request = std::get<SendPoll>(polls[0]).request;
    }
};

template <class T>
const T* find(const Actions& acts) {
    for (const auto& a : acts)
        if (const auto* x = std::get_if<T>(&a)) return x;
    return nullptr;
}

void check_row(Bench& b, const Row& row, bool poll) {
    bool sent = !(row.reply.transport.ec == errc::rate_limited_local);
    if (sent) REQUIRE(b.m.may_send(b.request, b.clock.now()));
    auto acts = b.m.on_reply(b.request, row.reply, b.clock.now());
    const Commit* c = find<Commit>(acts);
    const KeyChanged* k = find<KeyChanged>(acts);
    switch (row.expect) {
        case Expect::running:
            REQUIRE(c);
            CHECK(c->to == JobState::running);
            CHECK(c->job.remote_id == "gen1");
            break;
        case Expect::placed: {
            const auto* p = find<PlaceResult>(acts);
            REQUIRE(p);
            CHECK(p->durable_reservation == !poll);  // a sync result cannot be fetched again
            CHECK(c == nullptr);                      // succeeded only once it is in place
            break;
        }
        case Expect::poll_again:
            CHECK(c == nullptr);
            CHECK(find<SaveProgress>(acts));
            CHECK(b.m.is_active(b.job.id));
            break;
        case Expect::failed:
            REQUIRE(c);
            CHECK(c->to == JobState::failed);
            CHECK(c->job.error_code == row.error_code);
            CHECK(!c->job.error_message.empty());
            CHECK(c->job.attempts == 1);
            break;
        case Expect::backoff:
            REQUIRE(c);
            CHECK(c->to == JobState::queued);
            CHECK(c->job.wait_reason == "backoff");
            CHECK(c->job.attempts == 1);  // the attempt counts
            CHECK(c->job.not_before_s >= b.clock.now());
            break;
        case Expect::key_rest:
            REQUIRE(c);
            REQUIRE(k);
            CHECK(k->status == 429);
            CHECK(c->to == JobState::queued);
            CHECK(c->job.attempts == 0);  // not the job's fault
            CHECK(c->job.not_before_s >= b.clock.now() + 60);
            CHECK(b.m.keys().next_send_time("main", b.clock.now()) >= b.clock.now() + 60);
            break;
        case Expect::key_off:
            REQUIRE(c);
            REQUIRE(k);
            CHECK(c->to == JobState::queued);
            CHECK(c->job.attempts == 0);
            CHECK_FALSE(b.m.wants_submissions(b.clock.now() + 1000));
            break;
        case Expect::retried_free:
            REQUIRE(c);
            CHECK(c->to == JobState::queued);
            CHECK(c->job.attempts == 0);
            break;
    }
    if (poll && row.expect == Expect::poll_again) {
        // Whatever the answer, the next poll keeps poll_interval from this one.
        CHECK(b.m.dispatch_polls(b.clock.now() + b.m.poll_interval() - 0.01).empty());
        auto later = b.m.dispatch_polls(b.clock.now() + b.m.poll_interval() +
                                        (k && k->status == 429 ? 60 : 0) + 0.01);
        CHECK(later.size() == 1);
    }
}

}  // namespace

TEST_SUITE("job machine: every (phase x answer) pair") {
    TEST_CASE("submit of an async kind") {
        for (const auto& row : submit_rows(false)) {
            CAPTURE(row.what);
            Bench b("video");
            check_row(b, row, false);
        }
    }
    TEST_CASE("submit of a sync kind") {
        for (const auto& row : submit_rows(true)) {
            CAPTURE(row.what);
            Bench b("inpaint");
            check_row(b, row, false);
        }
    }
    TEST_CASE("poll of a running generation") {
        for (const auto& row : poll_rows()) {
            CAPTURE(row.what);
            Bench b("video");
            b.to_running();
            check_row(b, row, true);
        }
    }
    TEST_CASE("a result that could not be written: async polls again, sync resubmits") {
        Bench a("video");
        a.to_running();
        REQUIRE(a.m.may_send(a.request, a.clock.now()));
        Reply r = answered(200, "", false, false);
        r.result.not_saved = Error{errc::disk_full, "no space left"};
        auto acts = a.m.on_reply(a.request, r, a.clock.now());
        CHECK(find<Commit>(acts) == nullptr);
        CHECK(find<PlaceResult>(acts) == nullptr);
        CHECK(a.m.is_active("j1"));

        Bench s("inpaint");
        REQUIRE(s.m.may_send(s.request, s.clock.now()));
        Reply rs = answered(200, "", true, true);
        rs.result.not_saved = Error{errc::disk_full, "no space left"};
        auto sacts = s.m.on_reply(s.request, rs, s.clock.now());
        const Commit* c = find<Commit>(sacts);
        REQUIRE(c);
        CHECK(c->to == JobState::queued);
        CHECK(c->job.wait_reason == "backoff");
    }
    TEST_CASE("an input that cannot be read back fails the job without a send") {
        Bench b("video");
        auto acts = b.m.on_reply(b.request, transport(errc::spool_error), b.clock.now());
        const Commit* c = find<Commit>(acts);
        REQUIRE(c);
        CHECK(c->to == JobState::failed);
        CHECK(c->job.error_code == "spool_error");
    }
    TEST_CASE("retryable failures give up after max_attempts") {
        MachineSettings s;
        s.keys = {{"main", 1}};
        s.retry.max_attempts = 3;
        JobMachine m(1);
        m.configure(s);
        ManualClock clock;
        Job job;
        job.id = "j1";
        job.kind = "video";
        for (int attempt = 1; attempt <= 3; ++attempt) {
            clock.advance(400);
            auto o = m.offer({job}, clock.now());
            REQUIRE(o.placed == 1);
            RequestId r = find<SendSubmit>(o.actions)->request;
            REQUIRE(m.may_send(r, clock.now()));
            auto acts = m.on_reply(r, answered(500, "", true, false), clock.now());
            const Commit* c = find<Commit>(acts);
            REQUIRE(c);
            job = c->job;
            job.state = c->to;
            CHECK(job.attempts == attempt);
        }
        CHECK(job.state == JobState::failed);
        CHECK(job.error_message.find("gave up after 3 attempts") != std::string::npos);
    }
    TEST_CASE("a canceled job's late answer is discarded and its reservation given back") {
        Bench b("video");
        Job stored = b.job;
        auto c = b.m.cancel(stored, b.clock.now());
        REQUIRE(c);
        REQUIRE(find<AbortRequest>(*c));
        CHECK(find<Commit>(*c)->to == JobState::canceled);
        auto acts = b.m.on_reply(b.request, answered(200, R"({"id":"gen1"})", true, false),
                                 b.clock.now());
        CHECK(find<Commit>(acts) == nullptr);
        CHECK(find<DiscardTemp>(acts));
        CHECK(b.m.requests_in_flight() == 0);
        Job done = find<Commit>(*c)->job;
        done.state = JobState::canceled;
        CHECK_FALSE(b.m.cancel(done, b.clock.now()));  // already terminal
    }
    TEST_CASE("the poll planner never polls sooner than poll_interval after the previous poll") {
        Bench b("video");
        b.to_running();
        TimePoint last_answer = b.clock.now();
        for (int i = 0; i < 5; ++i) {
            REQUIRE(b.m.may_send(b.request, b.clock.now()));
            b.m.on_reply(b.request, answered(202, "{}", false, false), b.clock.now());
            last_answer = b.clock.now();
            CHECK(b.m.dispatch_polls(last_answer + b.m.poll_interval() - 0.001).empty());
            b.clock.set(last_answer + b.m.poll_interval());
            auto polls = b.m.dispatch_polls(b.clock.now());
            REQUIRE(polls.size() == 1);
            b.request = std::get<SendPoll>(polls[0]).request;
        }
    }
    TEST_CASE("the daily budget holds new work, counting what is under way") {
        MachineSettings s;
        s.keys = {{"main", 1}};
        s.daily_credits = 50;  // a video costs 20
        JobMachine m(1);
        m.configure(s);
        ManualClock clock;
        m.set_spent_today(0, clock.now());
        std::vector<Job> jobs(3);
        for (int i = 0; i < 3; ++i) jobs[i].id = "j" + std::to_string(i), jobs[i].kind = "video";
        int placed = 0;
        for (auto& j : jobs) {
            clock.advance(1);
            placed += m.offer({j}, clock.now()).placed;
        }
        CHECK(placed == 2);
        auto held = m.offer({jobs[2]}, clock.now() + 1);
        CHECK(held.placed == 0);
        REQUIRE(find<SaveProgress>(held.actions));
        CHECK(find<SaveProgress>(held.actions)->job.wait_reason == "budget");
        m.lift_budget();
        CHECK(m.offer({jobs[2]}, clock.now() + 2).placed == 1);
    }
}

TEST_SUITE("job machine: the shared limiter (several nodes on one store)") {
    TEST_CASE("a refused submission waits for its key and goes as the same attempt") {
        Bench b("video");
        TimePoint t = b.clock.now();
        REQUIRE(b.m.may_send(b.request, t));
        b.m.on_send_refused(b.request, t + 0.5, false, t);
        auto acts = b.m.on_reply(b.request, transport(errc::rate_limited_local), t);
        CHECK(find<Commit>(acts) == nullptr);  // no requeue, no new claim
        CHECK(b.m.requests_in_flight() == 0);
        REQUIRE(b.m.active_job("j1"));
        CHECK(b.m.active_job("j1")->state == JobState::submitting);
        // The refused send is not counted by the local limiter, and the key waits.
        CHECK(b.m.keys().snapshot("main", t)->in_window == 0);
        CHECK_FALSE(b.m.wants_submissions(t + 0.49));
        CHECK(b.m.dispatch_polls(t + 0.49).empty());
        CHECK(b.m.next_wake(t, false) == doctest::Approx(t + 0.5));
        auto again = b.m.dispatch_polls(t + 0.5);
        REQUIRE(again.size() == 1);
        const auto* sub = std::get_if<SendSubmit>(&again[0]);
        REQUIRE(sub);
        CHECK(sub->job_id == "j1");
        CHECK(sub->key == "main");
        REQUIRE(b.m.may_send(sub->request, t + 0.5));
        auto ok = b.m.on_reply(sub->request, answered(200, R"({"id":"gen1"})", true, false),
                               t + 0.6);
        const Commit* c = find<Commit>(ok);
        REQUIRE(c);
        CHECK(c->to == JobState::running);
        CHECK(c->job.attempts == 1);  // one attempt: the refusal sent nothing
    }
    TEST_CASE("a submission its dead node never sent is requeued without counting its attempt") {
        // A job found submitting at start-up or in a takeover: whether bytes went out decides.
        for (bool never_sent : {true, false}) {
            CAPTURE(never_sent);
            JobMachine m{7};
            MachineSettings s;
            s.keys = {{"main", 1}};
            m.configure(s);
            Job job;
            job.id = "j1";
            job.kind = "video";
            job.state = JobState::submitting;
            job.key_name = "main";
            job.attempts = 2;
            OnDisk disk;
            disk.never_sent = never_sent;
            auto acts = m.recover({{job, disk}}, 1000);
            const Commit* c = find<Commit>(acts);
            REQUIRE(c);
            CHECK(c->to == JobState::queued);
            CHECK(c->job.attempts == (never_sent ? 1 : 2));
            CHECK((c->detail.find("never sent") != std::string::npos) == never_sent);
            CHECK(find<SendSubmit>(acts) == nullptr);  // offered again from the queue
        }
    }

    TEST_CASE("a refused poll keeps its generation and goes once the key is free") {
        Bench b("video");
        b.to_running();
        TimePoint t = b.clock.now();
        REQUIRE(b.m.may_send(b.request, t));
        b.m.on_send_refused(b.request, t + 0.3, false, t);
        auto acts = b.m.on_reply(b.request, transport(errc::rate_limited_local), t);
        CHECK(find<Commit>(acts) == nullptr);
        CHECK(find<SaveProgress>(acts) == nullptr);
        CHECK(b.m.active_job("j1")->polls == 0);  // nothing reached the provider
        CHECK(b.m.dispatch_polls(t + 0.29).empty());
        auto again = b.m.dispatch_polls(t + 0.3);
        REQUIRE(again.size() == 1);
        const auto* poll = std::get_if<SendPoll>(&again[0]);
        REQUIRE(poll);
        CHECK(poll->remote_id == "gen1");
    }
    TEST_CASE("a lock-out another node saved rests the key here too") {
        Bench b("video");
        TimePoint t = b.clock.now();
        REQUIRE(b.m.may_send(b.request, t));
        b.m.on_send_refused(b.request, t + 60, true, t);
        b.m.on_reply(b.request, transport(errc::rate_limited_local), t);
        auto snap = b.m.keys().snapshot("main", t);
        CHECK(snap->locked_until == doctest::Approx(t + 60));
        CHECK(b.m.dispatch_polls(t + 59).empty());
        CHECK_FALSE(b.m.keys().can_send("main", t + 59));
        CHECK(b.m.dispatch_polls(t + 60).size() == 1);
    }
    TEST_CASE("a refused balance read is read again when the key is free") {
        MachineSettings s;
        s.keys = {{"main", 1}};
        JobMachine m(3);
        m.configure(s);
        ManualClock clock;
        auto reads = m.dispatch_balances(clock.now());
        REQUIRE(reads.size() == 1);
        RequestId r = std::get<SendBalance>(reads[0]).request;
        REQUIRE(m.may_send(r, clock.now()));
        m.on_send_refused(r, clock.now() + 0.4, false, clock.now());
        m.on_balance(r, Error{errc::rate_limited_local, "refused"}, clock.now());
        CHECK(m.next_balance_time(clock.now()) == doctest::Approx(clock.now() + 0.4));
    }
    TEST_CASE("a cancel while a submission waits for the shared limiter ends it") {
        Bench b("video");
        TimePoint t = b.clock.now();
        REQUIRE(b.m.may_send(b.request, t));
        b.m.on_send_refused(b.request, t + 0.5, false, t);
        b.m.on_reply(b.request, transport(errc::rate_limited_local), t);
        auto c = b.m.cancel(b.job, t + 0.1);
        REQUIRE(c);
        CHECK(b.m.dispatch_polls(t + 1).empty());
        CHECK_FALSE(b.m.is_active("j1"));
    }
}

TEST_SUITE("job machine: the state disk full") {
    TEST_CASE("a claim that cannot be written is given back: nothing is sent, nothing offered") {
        Bench b("video");
        JobMachine m(3);
        MachineSettings s;
        s.keys = {{"main", 1}};
        m.configure(s);
        Job job;
        job.id = "j1";
        job.kind = "video";
        auto o = m.offer({job}, b.clock.now());
        const Commit* claim = find<Commit>(o.actions);
        REQUIRE(claim);
        REQUIRE(claim->to == JobState::submitting);
        CHECK(m.on_commit_failed(*claim));  // the driver skips the send that follows
        CHECK_FALSE(m.is_active("j1"));
        CHECK(m.requests_in_flight() == 0);
        CHECK(m.unsaved_count() == 0);
        m.set_store_full(true);
        CHECK_FALSE(m.wants_submissions(b.clock.now() + 10));
        CHECK(std::isinf(m.next_wake(b.clock.now(), true)));
        CHECK(m.store_writable().empty());
        CHECK(m.wants_submissions(b.clock.now() + 10));
    }
    TEST_CASE("an accepted generation whose commit fails is kept, still polled, written later") {
        Bench b("video");
        REQUIRE(b.m.may_send(b.request, b.clock.now()));
        auto acts = b.m.on_reply(b.request, answered(200, R"({"id":"gen1"})", true, false),
                                 b.clock.now());
        const Commit* running = find<Commit>(acts);
        REQUIRE(running);
        REQUIRE(running->to == JobState::running);
        CHECK_FALSE(b.m.on_commit_failed(*running));
        CHECK(b.m.has_unsaved("j1"));
        CHECK(b.m.is_active("j1"));
        b.clock.advance(b.m.poll_interval() + 1);
        auto polls = b.m.dispatch_polls(b.clock.now());
        REQUIRE(polls.size() == 1);  // the paid generation is not forgotten
        CHECK(std::get<SendPoll>(polls[0]).remote_id == "gen1");
        auto kept = b.m.store_writable();
        REQUIRE(kept.size() == 1);
        CHECK(std::get<Commit>(kept[0]).to == JobState::running);
        CHECK(std::get<Commit>(kept[0]).job.remote_id == "gen1");
        CHECK_FALSE(b.m.has_unsaved("j1"));
    }
    TEST_CASE("a sync result whose name cannot be reserved waits in its file, never paid twice") {
        Bench b("inpaint");
        REQUIRE(b.m.may_send(b.request, b.clock.now()));
        auto acts = b.m.on_reply(b.request, answered(200, "", true, true), b.clock.now());
        const PlaceResult* p = find<PlaceResult>(acts);
        REQUIRE(p);
        b.m.on_place_deferred(*p);
        CHECK(b.m.is_active("j1"));
        auto kept = b.m.store_writable();
        REQUIRE(kept.size() == 1);
        const auto& again = std::get<PlaceResult>(kept[0]);
        CHECK(again.durable_reservation);
        auto done = b.m.on_placed("j1", ok_status(), "/out/cat.png", b.clock.now());
        REQUIRE(find<Commit>(done));
        CHECK(find<Commit>(done)->to == JobState::succeeded);
        CHECK(find<SendSubmit>(done) == nullptr);
    }

    // The n-th store write of a job's life finds the disk full, and it stays full for 30 s of
    // the clock: whatever write it was, the job ends succeeded, sent once, paid once, with one
    // result file and a history that is one unbroken chain of states.
    void full_everywhere(const std::string& kind, int writes) {
        int points = 0;
        for (int n = 1;; ++n) {
            CAPTURE(n);
            World w(kind);
            const std::string id = w.add_job().id;
            w.full_at_write = n;
            w.boot();
            w.run(2000);
            CHECK(w.store[id].state == JobState::succeeded);
            CHECK(w.terminal_events(id) == 1);
            CHECK(w.submits_sent == 1);
            CHECK(w.charges[id] == 1);
            int results = 0;
            for (const auto& f : w.files) results += f.ends_with(".json") ? 0 : 1;
            CHECK(results == 1);
            std::string at = "";
            for (const auto& e : w.events[id]) {
                CHECK(e.substr(0, e.find("->")) == at);  // each event starts where the last ended
                at = e.substr(e.find("->") + 2);
            }
            if (w.failed_writes == 0) break;  // past the last write of the job's life
            ++points;
        }
        CHECK(points == writes);
    }
    // The disk never clears; the process is restarted instead (a fresh machine, from what the
    // store and the disk kept). Whatever was waiting, the job ends once with one result file. A
    // sync result waiting in its file is never paid again; an accepted generation whose commit
    // waited is unknown to the store, like an answer lost in flight, and may be paid twice.
    void restart_while_full(const std::string& kind, int writes) {
        for (int n = 1; n <= writes; ++n) {
            CAPTURE(n);
            World w(kind);
            const std::string id = w.add_job().id;
            w.full_at_write = n;
            w.full_for = std::numeric_limits<double>::infinity();
            w.boot();
            w.run(2000);
            REQUIRE(w.disk_full);
            CHECK_FALSE(is_terminal(w.store[id].state));
            w.disk_full = false;  // freed while genqd was down
            w.full_at_write = 0;
            w.boot();
            w.run(2000);
            CHECK(w.store[id].state == JobState::succeeded);
            CHECK(w.terminal_events(id) == 1);
            CHECK(w.charges[id] <= (is_sync(w.store[id]) ? 1 : 2));
            int results = 0;
            for (const auto& f : w.files) results += f.ends_with(".json") ? 0 : 1;
            CHECK(results == 1);
        }
    }
    TEST_CASE("restarted while full, async") { restart_while_full("video", 6); }
    TEST_CASE("restarted while full, sync") { restart_while_full("inpaint", 3); }

    // claim, accepted, polls' progress, reservation, succeeded
    TEST_CASE("async kind (video): every write point") { full_everywhere("video", 6); }
    // claim, reservation, succeeded
    TEST_CASE("sync kind (inpaint): every write point") { full_everywhere("inpaint", 3); }
}

TEST_SUITE("job machine: every crash point ends in exactly one final state") {
    // Loops the crash over every I/O step of a job's life until a run passes without reaching
    // it: before the send, after the send with no answer, after the answer before the commit,
    // after the reservation, after the rename, after the metadata, after the commit.
    void crash_everywhere(const std::string& kind) {
        int points = 0;
        for (int crash_at = 1;; ++crash_at) {
            CAPTURE(crash_at);
            World w(kind);
            const std::string id = w.add_job().id;
            w.crash_at = crash_at;
            w.boot();
            bool crashed = false;
            bool lost_answer = false;
            try {
                w.run();
            } catch (const Crash&) {
                crashed = true;
                lost_answer = w.charged_sent > w.charged_known;
                w.crash_at = 0;
                w.boot();
                w.run();
            }
            CHECK(w.store[id].state == JobState::succeeded);
            CHECK(w.terminal_events(id) == 1);
            // Committed work is never paid twice; only an answer lost in flight may be.
            CHECK(w.charges[id] <= (lost_answer ? 2 : 1));
            CHECK(w.charges[id] >= 1);
            int results = 0;
            for (const auto& f : w.files) results += f.ends_with(".json") ? 0 : 1;
            CHECK(results == 1);  // one result file, no "-1" copy, no temporary left behind
            CHECK(w.files.count(w.store[id].output + ".json") == 1);
            if (!crashed) break;
            ++points;
        }
        CHECK(points >= 6);
    }

    TEST_CASE("async kind (video): submit, polls, result") { crash_everywhere("video"); }
    TEST_CASE("sync kind (inpaint): a received result is finished from its file, never paid again") {
        crash_everywhere("inpaint");
    }
    TEST_CASE("sync kind killed after the rename, before the commit: one file, one charge") {
        // The bug this machine fixes: the job used to be requeued, paid again and saved as -1.
        World w("inpaint");
        const std::string id = w.add_job().id;
        w.boot();
        // steps: commit submitting, send, part written, reservation, rename -> crash here
        w.crash_at = 5;
        CHECK_THROWS_AS(w.run(), Crash);
        REQUIRE(w.store[id].state == JobState::submitting);
        REQUIRE(w.files.count("/out/cat.png") == 1);
        w.crash_at = 0;
        w.boot();
        w.run();
        CHECK(w.store[id].state == JobState::succeeded);
        CHECK(w.store[id].output == "/out/cat.png");
        CHECK(w.charges[id] == 1);
        CHECK(w.submits_sent == 1);
        CHECK(w.files.count("/out/cat-1.png") == 0);
    }
}

TEST_SUITE("job machine: every failure point is survived") {
    // The n-th request fails in transit before reaching the provider (nothing charged); the job
    // still ends succeeded, paid once.
    void fail_everywhere(const std::string& kind, errc how) {
        for (int fail_at = 1; fail_at < 12; ++fail_at) {
            CAPTURE(fail_at);
            ProviderScript script;
            int n = 0;
            auto failing = [&n, fail_at, how](int) -> std::optional<Reply> {
                if (++n == fail_at) return transport(how);
                return std::nullopt;
            };
            script.submit_override = failing;
            script.poll_override = failing;
            World w(kind, script);
            const std::string id = w.add_job().id;
            w.boot();
            w.run(2000);
            CHECK(w.store[id].state == JobState::succeeded);
            CHECK(w.charges[id] == 1);
            CHECK(w.terminal_events(id) == 1);
        }
    }
    TEST_CASE("resets, async") { fail_everywhere("video", errc::connection_reset); }
    TEST_CASE("timeouts, sync") { fail_everywhere("inpaint", errc::timeout); }
    TEST_CASE("truncated bodies, async") { fail_everywhere("video", errc::truncated); }
}

}  // namespace genq::test
