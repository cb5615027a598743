#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>

#include "sched/backoff.hpp"
#include "sched/job_state.hpp"
#include "sched/key_pool.hpp"
#include "sched/poll_planner.hpp"
#include "sched/poll_queue.hpp"
#include "sched/rate_limiter.hpp"

using namespace genq::sched;

namespace {

// The largest number of times that fall into any closed window [t, t + w].
int max_in_any_window(std::vector<double> times, double w) {
    std::sort(times.begin(), times.end());
    int best = 0;
    for (std::size_t i = 0, j = 0; j < times.size(); ++j) {
        while (times[j] - times[i] > w) ++i;
        best = std::max(best, static_cast<int>(j - i + 1));
    }
    return best;
}

}  // namespace

TEST_SUITE("sched.limiter") {
    TEST_CASE("allows exactly the limit, then waits out the window") {
        SlidingWindowLimiter lim(3, 10);
        for (int i = 0; i < 3; ++i) {
            CHECK(lim.can_send(100 + i));
            lim.record(100 + i);
        }
        CHECK_FALSE(lim.can_send(103));
        CHECK_FALSE(lim.can_send(110));  // the first send is exactly one window old: still in
        CHECK(lim.next_free(103) == doctest::Approx(110.000001));
        CHECK(lim.can_send(110.00001));
        CHECK(lim.in_window(105) == 3);
    }

    TEST_CASE("reservations count against the limit") {
        SlidingWindowLimiter lim(2, 1);
        lim.record(0);
        CHECK(lim.can_send(0.5, 0));
        CHECK_FALSE(lim.can_send(0.5, 1));
        CHECK(lim.next_free(0.5, 1) == doctest::Approx(1.000001));
        CHECK_FALSE(lim.can_send(0.5, 2));
    }

    TEST_CASE("no window of the configured length ever holds more than the limit") {
        // A greedy sender that sends whenever allowed, at random instants: the classic boundary
        // burst of token buckets and fixed windows must not happen.
        std::mt19937 rng(7);
        std::uniform_real_distribution<double> step(0.0, 0.05);
        SlidingWindowLimiter lim(150, 10.25);
        std::vector<double> sent;
        double t = 0;
        while (t < 100) {
            t += step(rng);
            while (lim.can_send(t)) {
                lim.record(t);
                sent.push_back(t);
            }
        }
        CHECK(max_in_any_window(sent, 10.25) == 150);
        // And the budget is really used: ~150 per window over 100 s.
        CHECK(sent.size() >= 150 * 9);
    }

    TEST_CASE("shrinking the limit keeps the newest sends") {
        SlidingWindowLimiter lim(5, 10);
        for (int i = 0; i < 5; ++i) lim.record(i);
        lim.configure(2, 10);
        CHECK(lim.history() == std::vector<double>{3, 4});
        CHECK(lim.next_free(5) == doctest::Approx(13.000001));
    }
}

TEST_SUITE("sched.backoff") {
    TEST_CASE("exponential ceiling with full jitter, capped") {
        Backoff b(2, 300);
        CHECK(b.ceiling(1) == 2);
        CHECK(b.ceiling(2) == 4);
        CHECK(b.ceiling(5) == 32);
        CHECK(b.ceiling(20) == 300);
        CHECK(b.ceiling(1000) == 300);
        CHECK(b.delay(3, 0.5) == doctest::Approx(4));
        CHECK(b.delay(3, 0.0) == 0);
        CHECK(b.delay(3, 7.0) == 8);  // clamped into [0, 1]
    }
}

TEST_SUITE("sched.poll") {
    TEST_CASE("polls are spaced from the previous answer") {
        PollPlanner p(10);
        CHECK(p.first_poll(100) == 110);
        CHECK(p.next_poll(111.5) == 121.5);
    }

    TEST_CASE("poll queue orders per key and removes") {
        PollQueue q;
        q.schedule("a", "j1", 5);
        q.schedule("a", "j2", 3);
        q.schedule("b", "j3", 1);
        CHECK(q.peek("a")->second == "j2");
        q.schedule("a", "j2", 9);  // rescheduling replaces
        CHECK(q.peek("a")->second == "j1");
        q.remove("j1");
        CHECK(q.peek("a")->second == "j2");
        q.pop("a");
        CHECK_FALSE(q.peek("a"));
        CHECK(q.size() == 1);
        CHECK(q.contains("j3"));
    }
}

TEST_SUITE("sched.job_state") {
    TEST_CASE("transitions of SPEC §3") {
        CHECK(transition_allowed(JobState::queued, JobState::submitting));
        CHECK(transition_allowed(JobState::submitting, JobState::running));
        CHECK(transition_allowed(JobState::submitting, JobState::succeeded));  // sync kinds
        CHECK(transition_allowed(JobState::submitting, JobState::queued));     // retry
        CHECK(transition_allowed(JobState::running, JobState::succeeded));
        CHECK(transition_allowed(JobState::failed, JobState::queued));  // user retry
        CHECK_FALSE(transition_allowed(JobState::succeeded, JobState::queued));
        CHECK_FALSE(transition_allowed(JobState::queued, JobState::running));
        CHECK_FALSE(transition_allowed(JobState::running, JobState::queued));
        CHECK(parse_job_state("running") == JobState::running);
        CHECK_FALSE(parse_job_state("done"));
        CHECK(is_terminal(JobState::canceled));
        CHECK_FALSE(is_terminal(JobState::running));
    }
}

TEST_SUITE("sched.keys") {
    KeyLimits limits(int n, double w = 1, int in_flight = 0) {
        KeyLimits l;
        l.requests_per_window = n;
        l.window = w;
        l.lockout = 60;
        l.max_in_flight = in_flight;
        return l;
    }

    TEST_CASE("weights share submissions") {
        KeyPool pool;
        pool.configure(limits(1000), {{"a", 3}, {"b", 1}});
        std::map<std::string, int> got;
        for (int i = 0; i < 400; ++i) ++got[*pool.choose_for_submit(0, "")];
        CHECK(got["a"] == 300);
        CHECK(got["b"] == 100);
    }

    TEST_CASE("a key that cannot send is skipped; requested keys are honoured") {
        KeyPool pool;
        pool.configure(limits(2), {{"a", 1}, {"b", 1}});
        pool.reserve("a", 0);
        pool.commit_send("a", 0);
        pool.reserve("a", 0);
        CHECK_FALSE(pool.can_send("a", 0.1));
        CHECK(*pool.choose_for_submit(0.1, "") == "b");
        CHECK_FALSE(pool.choose_for_submit(0.1, "a"));
        CHECK_FALSE(pool.choose_for_submit(0.1, "nope"));
        pool.release("a");
        CHECK_FALSE(pool.can_send("a", 0.1));  // paced: 2 per second are 0.5 s apart
        CHECK(pool.can_send("a", 0.5));
    }

    TEST_CASE("sends are paced evenly across the window") {
        KeyPool pool;
        pool.configure(limits(10, 1), {{"a", 1}});
        CHECK(pool.choose_for_submit(0, ""));
        pool.reserve("a", 0);
        pool.commit_send("a", 0);
        CHECK_FALSE(pool.can_send("a", 0.05));  // 1 s / 10 = 0.1 s apart
        CHECK(pool.next_send_time("a", 0.05) == doctest::Approx(0.1));
        CHECK_FALSE(pool.choose_for_submit(0.05, ""));
        CHECK(pool.can_send("a", 0.1));
        // A greedy sender gets the whole budget, evenly: 10 sends in the first second.
        int sent = 1;
        for (double t = 0.001; t < 1.0; t += 0.001)
            if (pool.can_send("a", t)) {
                pool.reserve("a", t);
                pool.commit_send("a", t);
                ++sent;
            }
        CHECK(sent == 10);
    }

    TEST_CASE("a late send is made up by the next ones, within a bound") {
        KeyPool pool;
        pool.configure(limits(10, 1), {{"a", 1}});  // slots 0.1 s apart
        auto send = [&](double t) {
            REQUIRE(pool.can_send("a", t));
            pool.reserve("a", t);
            pool.commit_send("a", t);
        };
        send(0);
        send(0.13);  // 0.03 s late: the next slot stays on the grid
        CHECK(pool.next_send_time("a", 0.13) == doctest::Approx(0.2));
        send(0.2);
        send(0.301);
        // Five sends over 1 s with each 0.01 s late keep the 10-per-second pace (they did not:
        // lateness added up, 0.11 s apart is 9 per second).
        for (double t = 0.41; t < 0.9; t += 0.1) send(t);
        CHECK(pool.next_send_time("a", 0.9) == doctest::Approx(0.9));
        // Later than kPaceCatchUp slots: the key was idle, the grid starts again, no burst.
        send(3.0);
        CHECK_FALSE(pool.can_send("a", 3.05));
        CHECK(pool.next_send_time("a", 3.0) == doctest::Approx(3.1));
        // At most kPaceCatchUp + 1 sends in a row make up lateness.
        send(3.1 + 0.1 * KeyPool::kPaceCatchUp - 0.001);
        int in_a_row = 0;
        double t = 3.1 + 0.1 * KeyPool::kPaceCatchUp;
        while (pool.can_send("a", t) && in_a_row < 20) {
            pool.reserve("a", t);
            pool.commit_send("a", t);
            ++in_a_row;
        }
        CHECK(in_a_row <= KeyPool::kPaceCatchUp + 1);
    }

    TEST_CASE("sends restored after a restart give no catch-up: the downtime is not lateness") {
        KeyPool pool;
        pool.configure(limits(10, 1), {{"a", 1}});  // slots 0.1 s apart
        pool.restore_sends("a", {0.0, 0.1, 0.2});
        CHECK_FALSE(pool.can_send("a", 0.25));  // still paced after the last one
        // Back 0.05 s after the next slot (0.3): one send, and the next a whole spacing later.
        REQUIRE(pool.can_send("a", 0.35));
        pool.reserve("a", 0.35);
        pool.commit_send("a", 0.35);
        CHECK_FALSE(pool.can_send("a", 0.36));
        CHECK(pool.next_send_time("a", 0.36) == doctest::Approx(0.45));
    }

    TEST_CASE("429 rests the key for the lock-out") {
        KeyPool pool;
        pool.configure(limits(100), {{"a", 1}});
        pool.on_rate_limited("a", 10);
        CHECK_FALSE(pool.can_send("a", 69));
        CHECK(pool.next_send_time("a", 11) == 70);
        CHECK(pool.can_send("a", 70));
        CHECK_FALSE(pool.try_send_now("a", 50));
        CHECK(pool.try_send_now("a", 71));
    }

    TEST_CASE("unauthorized and out_of_credits keys get no new work until reconfigured") {
        KeyPool pool;
        pool.configure(limits(100), {{"a", 1}, {"b", 1}});
        pool.set_status("a", KeyStatus::unauthorized);
        pool.set_status("b", KeyStatus::out_of_credits);
        CHECK_FALSE(pool.choose_for_submit(0, ""));
        CHECK(pool.next_submit_time(0) == std::numeric_limits<double>::infinity());
        pool.configure(limits(100), {{"a", 1}, {"b", 1}});
        CHECK(pool.choose_for_submit(0, ""));
    }

    TEST_CASE("max_in_flight caps submissions, not polls") {
        KeyPool pool;
        pool.configure(limits(100, 1, 2), {{"a", 1}});
        pool.add_in_flight("a", 2);
        CHECK_FALSE(pool.choose_for_submit(0, ""));
        CHECK(pool.can_send("a", 0));
        pool.add_in_flight("a", -1);
        CHECK(pool.choose_for_submit(0, ""));
    }

    TEST_CASE("paused keys take no submissions") {
        KeyPool pool;
        pool.configure(limits(100), {{"a", 1}});
        pool.set_paused("a", true);
        CHECK_FALSE(pool.choose_for_submit(0, ""));
        pool.set_paused("a", false);
        CHECK(pool.choose_for_submit(0, ""));
    }

    TEST_CASE("history survives reconfiguration and restore") {
        KeyPool pool;
        pool.configure(limits(2, 10), {{"a", 1}});
        pool.restore_sends("a", {1, 2});
        CHECK_FALSE(pool.can_send("a", 5));
        pool.configure(limits(2, 10), {{"a", 1}, {"b", 1}});
        CHECK_FALSE(pool.can_send("a", 5));
        CHECK(pool.next_send_time("a", 5) == doctest::Approx(11.000001));
        auto snap = pool.snapshot("a", 5);
        REQUIRE(snap);
        CHECK(snap->in_window == 2);
    }
}
