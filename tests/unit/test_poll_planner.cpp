// The learning poll planner: what it learns from censored poll answers, that it never polls
// sooner than poll_interval after the previous request whatever it learned, and that, driven
// through the job machine with a manual clock, it needs fewer polls per video than one every
// interval. No sockets, no sleeps.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>

#include "core/clock.hpp"
#include "machine_world.hpp"
#include "sched/gen_time_estimate.hpp"
#include "sched/job_machine.hpp"
#include "sched/poll_planner.hpp"

namespace genq::test {
namespace {

using namespace sched;

// Feeds `planner` `n` generations of `kind` whose times are uniform in [lo, hi], polled the way
// the planner says (first poll, then every interval), each poll answered at once.
void learn(PollPlanner& planner, const std::string& kind, int n, double lo, double hi,
           std::mt19937_64& rng, double load = 0) {
    std::uniform_real_distribution<double> gen(lo, hi);
    for (int i = 0; i < n; ++i) {
        TimePoint accepted = 1000 + 100.0 * i;
        TimePoint ready = accepted + gen(rng);
        TimePoint poll = planner.first_poll(accepted, kind, load);
        TimePoint pending = 0;
        while (poll < ready) {
            pending = poll;
            poll = planner.next_poll(poll);
        }
        planner.on_result(kind, accepted, pending, poll);
    }
}

TEST_SUITE("poll planner") {
    TEST_CASE("with no history it polls one interval after the acceptance, then every interval") {
        PollPlanner p(1.0);
        CHECK(p.first_poll(50, "video") == doctest::Approx(51));
        CHECK(p.first_poll(50) == doctest::Approx(51));
        CHECK(p.next_poll(52.5) == doctest::Approx(53.5));
        CHECK(p.estimate("video") == nullptr);
        CHECK(p.take_changed().empty());
    }

    TEST_CASE("after learning, the first poll goes at a low quantile of the generation time") {
        std::mt19937_64 rng(1);
        PollPlanner p(1.0);
        learn(p, "video", 300, 2.6, 4.4, rng);
        REQUIRE(p.estimate("video"));
        // What the polls identify is the share finished by each poll time: the first poll
        // settles where 45 % have finished (3.41 s for these), much later than one interval.
        TimePoint first = p.first_poll(100, "video");
        MESSAGE("first poll after " << first - 100 << " s");
        CHECK(first - 100 > 3.0);
        CHECK(first - 100 < 3.8);
        // A saturated key polls late: nearly every first poll finds the result.
        TimePoint busy = p.first_poll(100, "video", 1.0);
        MESSAGE("first poll on a saturated key after " << busy - 100 << " s");
        CHECK(busy - 100 > 4.2);
        CHECK(busy - 100 < 5.5);
        // Another kind has learned nothing.
        CHECK(p.first_poll(100, "upscale") == doctest::Approx(101));
    }

    TEST_CASE("it follows a provider that slows down") {
        std::mt19937_64 rng(2);
        PollPlanner p(1.0);
        learn(p, "video", 300, 2.6, 4.4, rng);
        learn(p, "video", 600, 7.0, 9.0, rng);
        CHECK(*p.estimate("video")->quantile(0.5) == doctest::Approx(8.0).epsilon(0.1));
    }

    TEST_CASE("never sooner than poll_interval after the previous request, whatever it learned") {
        std::mt19937_64 rng(3);
        std::uniform_real_distribution<double> u(0, 1);
        for (int history = 0; history < 200; ++history) {
            double interval = 0.2 + 20 * u(rng);
            PollPlanner p(interval);
            int n = static_cast<int>(u(rng) * 60);
            for (int i = 0; i < n; ++i) {
                // Anything at all: zero, tiny, huge, inverted bounds, garbage.
                double a = std::pow(10.0, -4 + 9 * u(rng)) * (u(rng) < 0.1 ? 0 : 1);
                double b = std::pow(10.0, -4 + 9 * u(rng));
                double acc = 1 + 1e6 * u(rng);
                if (u(rng) < 0.02) b = std::nan("");
                p.on_result("k", acc, acc + a, acc + b);
            }
            for (int j = 0; j < 20; ++j) {
                TimePoint accepted = 1e6 * u(rng);
                TimePoint first = p.first_poll(accepted, "k", 1.2 * u(rng));
                REQUIRE(first >= accepted + interval);
                TimePoint answer = first + u(rng);  // the answer arrives later than the send
                REQUIRE(p.next_poll(answer) >= answer + interval);
            }
        }
    }

    TEST_CASE("the learned state survives a restart through its text form") {
        std::mt19937_64 rng(4);
        PollPlanner p(1.0);
        learn(p, "video", 100, 2.6, 4.4, rng);
        auto changed = p.take_changed();
        REQUIRE(changed.size() == 1);
        CHECK(changed[0].first == "video");
        CHECK(p.take_changed().empty());  // nothing new since
        PollPlanner q(1.0);
        REQUIRE(q.restore("video", changed[0].second));
        CHECK(q.first_poll(0, "video") == doctest::Approx(p.first_poll(0, "video")).epsilon(1e-4));
        CHECK_FALSE(q.restore("video", "not a blob"));
        CHECK_FALSE(q.restore("video", changed[0].second + " 7"));
        CHECK_FALSE(GenTimeEstimate::decode("gte1 3 -1").has_value());
    }
}

// ---- through the machine ---------------------------------------------------------------------

struct Run {
    int polls = 0;
    int videos = 0;
    double delay = 0;  // sum of (result fetched - ready), in intervals
    int early = 0;     // polls sooner than the interval after the previous request's answer
};

// `n` video jobs, one at a time on an idle key, generation times uniform in [2.6, 4.4] s,
// interval 1 s, every request answered `rtt` after it is sent.
Run drive(JobMachine& m, ManualClock& clock, int n, std::mt19937_64& rng) {
    const double rtt = 0.01;
    std::uniform_real_distribution<double> gen(2.6, 4.4);
    Run run;
    for (int i = 0; i < n; ++i) {
        Job job;
        job.id = "j" + std::to_string(i);
        job.kind = "video";
        job.input_name = "cat.png";
        auto o = m.offer({job}, clock.now());
        REQUIRE(o.placed == 1);
        RequestId req = 0;
        for (auto& a : o.actions)
            if (auto* s = std::get_if<SendSubmit>(&a)) req = s->request;
        REQUIRE(m.may_send(req, clock.now()));
        clock.advance(rtt);
        m.on_reply(req, answered(200, R"({"id":"gen)" + std::to_string(i) + R"("})", true, false),
                   clock.now());
        TimePoint last = clock.now();
        TimePoint ready = last + gen(rng);
        for (;;) {
            TimePoint wake = m.next_wake(clock.now(), false);
            REQUIRE(std::isfinite(wake));
            clock.set(std::max(clock.now(), wake));
            auto polls = m.dispatch_polls(clock.now());
            REQUIRE(polls.size() == 1);
            if (clock.now() < last + m.poll_interval() - 1e-9) ++run.early;
            req = std::get<SendPoll>(polls[0]).request;
            REQUIRE(m.may_send(req, clock.now()));
            ++run.polls;
            clock.advance(rtt);
            last = clock.now();
            if (clock.now() < ready) {
                m.on_reply(req, answered(202, "{}", false, false), clock.now());
                continue;
            }
            auto acts = m.on_reply(req, answered(200, "", false, false), clock.now());
            for (auto& a : acts)
                if (auto* p = std::get_if<PlaceResult>(&a))
                    m.on_placed(p->job.id, ok_status(), "/out/" + p->job.id + ".mp4", clock.now());
            run.delay += (clock.now() - ready) / m.poll_interval();
            ++run.videos;
            break;
        }
        clock.advance(0.5);
    }
    return run;
}

TEST_SUITE("poll planner in the job machine") {
    TEST_CASE("it learns: fewer polls per video at light load, never an early poll") {
        std::mt19937_64 rng(5);
        JobMachine m(9);
        MachineSettings s;
        s.keys = {{"main", 1}};
        s.limits.poll_interval = 1.0;
        s.limits.window = 1.0;
        s.limits.requests_per_window = 150;
        m.configure(s);
        ManualClock clock;
        clock.set(1000);
        Run before = drive(m, clock, 2, rng);  // no history yet: today's rhythm, a poll every interval
        CHECK(before.polls >= 2 * 3);
        Run after = drive(m, clock, 300, rng);
        CHECK(after.early == 0);
        CHECK(before.early == 0);
        double per_video = 1.0 + static_cast<double>(after.polls) / after.videos;
        MESSAGE("requests per video " << per_video << ", mean delay "
                                      << after.delay / after.videos << " intervals");
        CHECK(per_video <= 3.0);
        CHECK(after.delay / after.videos <= 0.75);
        // What it learned is there to be saved.
        auto changed = m.planner().take_changed();
        REQUIRE(changed.size() == 1);
        CHECK(changed[0].first == "video");
    }

    TEST_CASE("ready work left waiting on a busy key makes the first poll late, as on a full key") {
        // Under a backlog the key's window was half used (genqd, waiting for fsyncs, was the
        // limit), so first polls went at a low quantile and 14 % of them were answered 202.
        std::mt19937_64 rng(7);
        JobMachine m(3);
        MachineSettings s;
        s.keys = {{"main", 1}};
        s.limits.poll_interval = 1.0;
        s.limits.window = 1.0;
        s.limits.requests_per_window = 150;
        m.configure(s);
        ManualClock clock;
        clock.set(1000);
        drive(m, clock, 40, rng);  // learned: generations of 2.6 to 4.4 s
        // Two queued jobs, `age` seconds old; the key's pacing takes one, the other waits.
        auto first_poll_after = [&](const std::string& tag, double age) {
            clock.advance(10);
            std::vector<Job> jobs(2);
            for (int i = 0; i < 2; ++i) {
                jobs[i].id = tag + std::to_string(i);
                jobs[i].kind = "video";
                jobs[i].input_name = "cat.png";
                jobs[i].created_at = static_cast<std::int64_t>((clock.now() - age) * 1000);
            }
            auto o = m.offer(jobs, clock.now());
            REQUIRE(o.placed == 1);
            RequestId req = std::get<SendSubmit>(o.actions.back()).request;
            REQUIRE(m.may_send(req, clock.now()));
            clock.advance(0.01);
            TimePoint accepted = clock.now();
            m.on_reply(req, answered(200, R"({"id":"gen-)" + tag + R"("})", true, false),
                       accepted);
            double after = m.next_wake(accepted, false) - accepted;
            // Its result, so that the next round's wake is its own.
            clock.set(accepted + after);
            auto polls = m.dispatch_polls(clock.now());
            REQUIRE(polls.size() == 1);
            req = std::get<SendPoll>(polls[0]).request;
            REQUIRE(m.may_send(req, clock.now()));
            for (auto& a : m.on_reply(req, answered(200, "", false, false), clock.now()))
                if (auto* p = std::get_if<PlaceResult>(&a))
                    m.on_placed(p->job.id, ok_status(), "/out/" + p->job.id + ".mp4", clock.now());
            return after;
        };
        double fresh = first_poll_after("fresh", 0.2);  // just submitted: nothing is late
        double late = first_poll_after("late", 30);     // a backlog
        MESSAGE("first poll after " << fresh << " s fresh, " << late << " s with work waiting");
        // As on a saturated key: the high quantile.
        double saturated = m.planner().first_poll(0, "video", 1.0);
        CHECK(late == doctest::Approx(saturated).epsilon(0.01));
        CHECK(fresh < saturated - 0.4);
        // Once nothing waits (the round above ended 10 s ago), polls go early again.
        CHECK(first_poll_after("again", 0.2) == doctest::Approx(fresh).epsilon(0.01));
    }
}

}  // namespace
}  // namespace genq::test
