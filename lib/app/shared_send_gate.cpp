#include "app/shared_send_gate.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "app/metrics.hpp"
#include "store/database.hpp"
#include "store/shared_store.hpp"

namespace genq::app {
namespace {

// The store's window is open at its edge (a send exactly `window` old has left it); a node's
// clock and the store's tick apart by less than this, so asking again this much later is not
// refused for a hair.
constexpr double kEdge = 0.001;

double since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

SharedSendGate::SharedSendGate(store::SharedStore& store, const Clock& clock, Metrics& metrics)
    : store_(store), clock_(clock), metrics_(metrics) {}

void SharedSendGate::configure(int requests_per_window, double window) {
    limit_ = std::max(1, requests_per_window);
    window_ = window;
}

void SharedSendGate::sample(double seconds, const char* answer) {
    auto& m = metrics_;
    ++m.reservations[answer];
    if (m.reservation_samples.size() < m.kReservationSamples)
        m.reservation_samples.push_back(seconds);
    else
        m.reservation_samples[m.reservation_next] = seconds;
    m.reservation_next = (m.reservation_next + 1) % m.kReservationSamples;
    m.reservation_sum += seconds;
    ++m.reservation_count;
}

SharedSendGate::Decision SharedSendGate::reserve(const std::string& key,
                                                 const std::string& job_id) {
    auto t0 = std::chrono::steady_clock::now();
    Decision d;
    try {
        auto r = store_.reserve_send(key, limit_, window_, job_id);
        sample(since(t0), r.granted      ? "granted"
                          : r.lost       ? "lost"
                          : r.locked_out ? "locked"
                                         : "busy");
        if (failures_ > 0) spdlog::info("shared store: reachable again; requests resume");
        failures_ = 0;
        d.granted = r.granted;
        d.locked_out = r.locked_out;
        d.lost = r.lost;
        d.until = clock_.now() + std::max(0.0, r.wait_s) + kEdge;
        return d;
    } catch (const store::DbError& e) {
        sample(since(t0), "unreachable");
        ++failures_;
        if (failures_ == 1)
            spdlog::error("shared store unreachable ({}): nothing is sent until it answers",
                          e.what());
        d.unreachable = true;
        d.until = clock_.now() + backoff_.ceiling(failures_);
        return d;
    }
}

}  // namespace genq::app
