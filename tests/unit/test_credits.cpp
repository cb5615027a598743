// Credits before they run out (issue 15): balance reads as actions of the job machine, each a
// request of its key's limiter; a key whose balance cannot pay for the next job gets no new work
// and the job says why. A manual clock, no sockets.
#include <doctest/doctest.h>

#include <string>

#include "machine_world.hpp"
#include "sched/job_machine.hpp"

namespace genq::test {
namespace {

using namespace sched;

template <class T>
std::vector<T> all_of(const Actions& acts) {
    std::vector<T> out;
    for (const auto& a : acts)
        if (const auto* x = std::get_if<T>(&a)) out.push_back(*x);
    return out;
}

MachineSettings settings(std::vector<KeySpec> keys, int per_window = 150) {
    MachineSettings s;
    s.keys = std::move(keys);
    s.limits.requests_per_window = per_window;
    return s;
}

Job job_of(const std::string& id, const std::string& kind, const std::string& key = "") {
    Job j;
    j.id = id;
    j.kind = kind;  // video: 20 credits, upscale (sync): 25
    j.input_name = id + ".png";
    j.requested_key = key;
    return j;
}

// Reads every due balance and answers each with the given credits; then the clock moves on a
// second, past the limiter's pacing after those reads (they are requests of their keys).
void read_balances(JobMachine& m, const std::map<std::string, double>& credits,
                   ManualClock& clock) {
    for (const auto& b : all_of<SendBalance>(m.dispatch_balances(clock.now()))) {
        REQUIRE(m.may_send(b.request, clock.now()));
        m.on_balance(b.request, credits.at(b.key), clock.now());
    }
    clock.advance(1);
}

}  // namespace

TEST_SUITE("machine.credits") {
    TEST_CASE("every key is read at start-up, once at a time, then every kBalanceEvery") {
        JobMachine m{1};
        ManualClock clock;
        m.configure(settings({{"a", 1}, {"b", 1}}));
        CHECK(m.next_balance_time(clock.now()) <= clock.now());
        auto reads = all_of<SendBalance>(m.dispatch_balances(clock.now()));
        REQUIRE(reads.size() == 2);
        CHECK(all_of<SendBalance>(m.dispatch_balances(clock.now())).empty());  // under way
        CHECK(!m.balance("a"));
        for (const auto& r : reads) {
            REQUIRE(m.may_send(r.request, clock.now()));
            m.on_balance(r.request, r.key == "a" ? 120.5 : 7.0, clock.now());
        }
        CHECK(m.balance("a") == doctest::Approx(120.5));
        CHECK(m.balance("b") == doctest::Approx(7.0));
        CHECK(m.requests_in_flight() == 0);
        clock.advance(kBalanceEvery - 1);
        CHECK(all_of<SendBalance>(m.dispatch_balances(clock.now())).empty());
        CHECK(m.next_balance_time(clock.now()) == doctest::Approx(clock.now() + 1));
        clock.advance(1);
        CHECK(all_of<SendBalance>(m.dispatch_balances(clock.now())).size() == 2);
    }

    TEST_CASE("a read is a request of its key: it takes a place in the key's window") {
        JobMachine m{1};
        ManualClock clock;
        m.configure(settings({{"a", 1}}, 1));
        auto reads = all_of<SendBalance>(m.dispatch_balances(clock.now()));
        REQUIRE(reads.size() == 1);
        // The window of one request is taken by the read: no submission beside it.
        auto o = m.offer({job_of("j1", "video")}, clock.now());
        CHECK(o.placed == 0);
        REQUIRE(m.may_send(reads[0].request, clock.now()));
        CHECK(m.keys().snapshot("a", clock.now())->in_window == 1);
    }

    TEST_CASE("a failed read is tried again after kBalanceRetry; a reload reads again at once") {
        JobMachine m{1};
        ManualClock clock;
        m.configure(settings({{"a", 1}}));
        auto reads = all_of<SendBalance>(m.dispatch_balances(clock.now()));
        REQUIRE(reads.size() == 1);
        REQUIRE(m.may_send(reads[0].request, clock.now()));
        m.on_balance(reads[0].request, Error{"http_500", "GET /v1/user/balance answered 500"},
                     clock.now());
        CHECK(!m.balance("a"));
        clock.advance(kBalanceRetry - 0.5);
        CHECK(all_of<SendBalance>(m.dispatch_balances(clock.now())).empty());
        clock.advance(0.5);
        reads = all_of<SendBalance>(m.dispatch_balances(clock.now()));
        REQUIRE(reads.size() == 1);
        REQUIRE(m.may_send(reads[0].request, clock.now()));
        m.on_balance(reads[0].request, 50.0, clock.now());
        m.configure(settings({{"a", 1}}));  // a reload keeps what was read, and reads again
        CHECK(m.balance("a") == doctest::Approx(50.0));
        clock.advance(1);  // past the pacing after the last read
        CHECK(all_of<SendBalance>(m.dispatch_balances(clock.now())).size() == 1);
    }

    TEST_CASE("a key that cannot pay is passed over; the job goes to one that can") {
        JobMachine m{1};
        ManualClock clock;
        m.configure(settings({{"poor", 100}, {"rich", 1}}));
        read_balances(m, {{"poor", 19.0}, {"rich", 45.0}}, clock);
        std::vector<std::string> keys;
        for (int i = 0; i < 3; ++i) {
            auto o = m.offer({job_of("j" + std::to_string(i), "video")}, clock.now());
            for (const auto& s : all_of<SendSubmit>(o.actions)) keys.push_back(s.key);
            clock.advance(1);  // past the limiter's pacing
        }
        // 45 credits pay for two 20-credit jobs under way; the third waits, saying why.
        CHECK(keys == std::vector<std::string>{"rich", "rich"});
        auto o = m.offer({job_of("j9", "video")}, clock.now());
        CHECK(o.placed == 0);
        auto saved = all_of<SaveProgress>(o.actions);
        REQUIRE(saved.size() == 1);
        CHECK(saved[0].job.wait_reason == "credits");
        // Said once: a job that already waits for credits is not saved again.
        Job waiting = saved[0].job;
        CHECK(all_of<SaveProgress>(m.offer({waiting}, clock.now()).actions).empty());
    }

    TEST_CASE("a job asking for a poor key waits for credits; an unread key is not held back") {
        JobMachine m{1};
        ManualClock clock;
        m.configure(settings({{"a", 1}, {"b", 1}}));
        auto reads = all_of<SendBalance>(m.dispatch_balances(clock.now()));
        for (const auto& r : reads) {
            REQUIRE(m.may_send(r.request, clock.now()));
            if (r.key == "a") m.on_balance(r.request, 3.0, clock.now());
            // b's answer never came: its balance is unknown.
        }
        clock.advance(1);
        auto o = m.offer({job_of("j1", "video", "a")}, clock.now());
        CHECK(o.placed == 0);
        REQUIRE(all_of<SaveProgress>(o.actions).size() == 1);
        CHECK(all_of<SaveProgress>(o.actions)[0].job.wait_reason == "credits");
        o = m.offer({job_of("j2", "video")}, clock.now());
        REQUIRE(all_of<SendSubmit>(o.actions).size() == 1);
        CHECK(all_of<SendSubmit>(o.actions)[0].key == "b");
    }

    TEST_CASE("a success is charged to its key's balance until the next read") {
        JobMachine m{1};
        ManualClock clock;
        m.configure(settings({{"a", 1}}));
        read_balances(m, {{"a", 60.0}}, clock);
        Job job = job_of("j1", "upscale");
        auto o = m.offer({job}, clock.now());
        auto sends = all_of<SendSubmit>(o.actions);
        REQUIRE(sends.size() == 1);
        REQUIRE(m.may_send(sends[0].request, clock.now()));
        auto acts = m.on_reply(sends[0].request, answered(200, "", true, true), clock.now());
        REQUIRE(all_of<PlaceResult>(acts).size() == 1);
        m.on_placed("j1", ok_status(), "/out/j1.png", clock.now());
        CHECK(m.balance("a") == doctest::Approx(35.0));  // upscale costs 25
        // 35 pays for one more upscale, not two under way at once.
        clock.advance(1);
        o = m.offer({job_of("j2", "upscale"), job_of("j3", "upscale")}, clock.now());
        CHECK(o.placed == 1);
        auto saved = all_of<SaveProgress>(o.actions);
        REQUIRE(saved.size() == 1);
        CHECK(saved[0].job.id == "j3");
        CHECK(saved[0].job.wait_reason == "credits");
    }
}

}  // namespace genq::test
