// Group commit for submissions: every submission that arrives in one turn of the event loop is
// spooled, synced once and committed in one transaction, and only then answered. A job's answer
// still means "durable" (SPEC §5); many clients share the cost of the fsyncs instead of queueing
// behind one fsync each. The commit's own fsync (the WAL's) runs on the store's syncer thread,
// not on the loop: the answers wait for it, the loop does not.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "net/http_server.hpp"
#include "ports/intake.hpp"

namespace boost::asio {
class thread_pool;
}  // namespace boost::asio

namespace genq::api {

class SubmitBatcher {
  public:
    using Results = std::vector<Result<Job>>;
    // Runs a function later on the event loop; empty = commit at once (no grouping).
    using Defer = std::function<void(std::function<void()>)>;

    SubmitBatcher(ports::Intake& intake, Defer defer);
    ~SubmitBatcher();
    SubmitBatcher(const SubmitBatcher&) = delete;
    SubmitBatcher& operator=(const SubmitBatcher&) = delete;

    // The outcome of one request's submissions, once their group is committed: one result per
    // request, in order. Images with a `fit` are fitted first on a worker thread (0.2-0.8 s of
    // CPU for a large photo), so the loop serves other clients meanwhile.
    net::Awaitable<Results> submit(std::vector<ports::SubmitRequest> reqs);

  private:
    struct Waiter;  // a suspended request: its results and the timer that wakes it
    struct Pending {
        std::vector<ports::SubmitRequest> reqs;
        std::shared_ptr<Waiter> waiter;
    };
    // A flushed group, answered once durable: its requests by source (one prepare_many each,
    // `index` = their places in the group) and the waiters, in order.
    struct Part {
        ports::PreparedSubmissions batch;
        std::vector<std::size_t> index;
    };
    struct Group {
        std::vector<Pending> waiting;
        std::size_t count = 0;
        std::vector<Part> parts;
    };
    void flush();
    void prepare(std::vector<ports::SubmitRequest>& all, Group& group);
    static void commit_group(ports::Intake& intake, const Defer& defer,
                             const std::shared_ptr<Group>& group, const Status& inputs);
    static void answer(Group& group, const Status& durable);
    Results commit(std::vector<ports::SubmitRequest>& reqs);
    net::Awaitable<Results> enqueue(std::vector<ports::SubmitRequest> reqs);

    ports::Intake& intake_;
    Defer defer_;
    std::vector<Pending> pending_;
    std::unique_ptr<boost::asio::thread_pool> fitters_;  // one thread: --fit off the loop
};

}  // namespace genq::api
