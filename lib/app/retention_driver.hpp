// Retention in the running daemon: a timer that performs what sched::RetentionSweeper decides
// (prune a batch, forget old idempotency answers, checkpoint the WAL) and what
// sched::SpoolScanner decides (delete spool files no job uses) through the QueueStore,
// and the on-demand purge of the control API (ports::Retention, genqctl purge). It decides
// nothing itself; each store call is one short transaction on the event loop.
#pragma once
#include <memory>

#include "core/retention_config.hpp"
#include "ports/retention.hpp"

namespace boost::asio {
class io_context;
}
namespace genq {
class Clock;
}
namespace genq::store {
class QueueStore;
}

namespace genq::app {

class RetentionDriver final : public ports::Retention {
public:
    // A purge deletes at most this many batches per request, then answers `more`: the loop is
    // never held for longer than that, and genqctl asks again.
    static constexpr int kPurgeBatchesPerCall = 10;

    RetentionDriver(boost::asio::io_context& io, store::QueueStore& store, const Clock& clock);
    ~RetentionDriver() override;

    // At start-up and on every reload; the first call starts the timer.
    void configure(const RetentionConfig& c);
    void stop();

    Result<ports::PurgeResult> purge(const ports::PurgeRequest& r) override;

private:
    Result<ports::PurgeResult> purge_now(const ports::PurgeRequest& r);
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace genq::app
