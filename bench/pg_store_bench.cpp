// Prints what the shared store costs on a real PostgreSQL server (bench/pg_bench.py starts one
// and passes GENQ_PG_CONNINFO): one round trip, a guarded transition with its event, and the
// per-key reservation (genq_reserve_send) from several nodes at once. Numbers, not a test.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "store/pg_connection.hpp"
#include "store/pg_queue_store.hpp"

using namespace genq;
using namespace genq::store;
using Steady = std::chrono::steady_clock;

namespace {

double us_since(Steady::time_point t0) {
    return std::chrono::duration<double, std::micro>(Steady::now() - t0).count();
}

double pct(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

std::unique_ptr<PgQueueStore> open_store(const std::string& url, const std::string& node) {
    auto s = PgQueueStore::open({url, "", node});
    if (!s) {
        std::fprintf(stderr, "%s\n", s.error().message.c_str());
        std::exit(1);
    }
    return std::move(*s);
}

void round_trips(PgQueueStore& s) {
    std::vector<double> lat;
    for (int i = 0; i < 3000; ++i) {
        auto t0 = Steady::now();
        (void)s.db_now();
        lat.push_back(us_since(t0));
    }
    std::printf("round trip (SELECT clock): p50 %.0f us, p99 %.0f us\n", pct(lat, 0.5),
                pct(lat, 0.99));
}

void transitions(PgQueueStore& s) {
    std::vector<Job> jobs;
    for (int i = 0; i < 2000; ++i) {
        Job j;
        j.id = new_job_id(now_ms());
        j.kind = "video";
        j.input_name = "b.png";
        j.input_sha256 = std::string(64, 'a');
        j.created_at = j.updated_at = now_ms();
        jobs.push_back(j);
    }
    auto t0 = Steady::now();
    s.insert(jobs, "bench");
    double insert_us = us_since(t0);
    std::vector<double> lat;
    for (auto& j : jobs) {
        auto t1 = Steady::now();
        ++j.attempts;  // a claim counts its attempt
        s.transition(j, JobState::submitting, "claim", Durability::full, now_ms());
        lat.push_back(us_since(t1));
    }
    std::printf("insert 2000 jobs in one transaction: %.1f ms; claim (guarded transition + "
                "event, one round trip, synchronous commit): p50 %.0f us, p99 %.0f us\n",
                insert_us / 1000, pct(lat, 0.5), pct(lat, 0.99));
}

void reservations(const std::string& url, int nodes, int keys, int limit, double window,
                  double seconds) {
    std::vector<std::vector<double>> lat(static_cast<std::size_t>(nodes));
    std::atomic<long> granted{0}, asked{0};
    auto run = [&](int n) {
        auto s = open_store(url, "bench" + std::to_string(n));
        auto end = Steady::now() + std::chrono::duration<double>(seconds);
        for (int i = 0; Steady::now() < end; ++i) {
            auto t0 = Steady::now();
            auto r = s->reserve_send("k" + std::to_string((i + n) % keys), limit, window, "");
            lat[static_cast<std::size_t>(n)].push_back(us_since(t0));
            ++asked;
            if (r.granted) ++granted;
        }
    };
    std::vector<std::thread> ts;
    for (int n = 0; n < nodes; ++n) ts.emplace_back(run, n);
    for (auto& t : ts) t.join();
    std::vector<double> all;
    for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
    std::printf("reserve_send: %d nodes, %d keys, limit %d per %.1f s: %.0f calls/s, %.0f "
                "granted/s, latency p50 %.0f us, p99 %.0f us\n",
                nodes, keys, limit, window, static_cast<double>(asked) / seconds,
                static_cast<double>(granted) / seconds, pct(all, 0.5), pct(all, 0.99));
}

}  // namespace

int main() {
    const char* ci = std::getenv("GENQ_PG_CONNINFO");
    if (!ci) {
        std::fprintf(stderr, "set GENQ_PG_CONNINFO (bench/pg_bench.py does)\n");
        return 2;
    }
    std::string url = ci;
    auto s = open_store(url, "bench");
    round_trips(*s);
    transitions(*s);
    // Contention on one row: every call granted (the limit is out of reach).
    reservations(url, 3, 1, 1 << 30, 1.0, 3);
    reservations(url, 3, 2, 1 << 30, 1.0, 3);
    // The provider's shape scaled: 15 per second per key, three nodes asking as fast as they can.
    reservations(url, 3, 2, 15, 1.0, 3);
    return 0;
}
