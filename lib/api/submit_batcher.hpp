// Group commit for submissions: every submission that arrives in one turn of the event loop is
// spooled, synced once and committed in one transaction, and only then answered. A job's answer
// still means "durable" (SPEC §5); many clients share the cost of the fsyncs instead of queueing
// behind one fsync each.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "ports/intake.hpp"
#include "net/http_server.hpp"

namespace genq::api {

class SubmitBatcher {
  public:
    using Results = std::vector<Result<Job>>;
    // Turns the outcome of one request's submissions into its answer.
    using Reply = std::function<net::ServerResponse(const Results&)>;
    // Runs a function later on the event loop; empty = commit at once (no grouping).
    using Defer = std::function<void(std::function<void()>)>;

    SubmitBatcher(ports::Intake& intake, Defer defer) : intake_(intake), defer_(std::move(defer)) {}

    // Queues the submissions of one request; the response is deferred until the group commit.
    net::ServerResponse submit(std::vector<ports::SubmitRequest> reqs, Reply reply);

  private:
    struct Pending {
        std::vector<ports::SubmitRequest> reqs;
        Reply reply;
        std::shared_ptr<net::DeferredResponse> out;
    };
    void flush();
    Results commit(std::vector<ports::SubmitRequest>& reqs);

    ports::Intake& intake_;
    Defer defer_;
    std::vector<Pending> pending_;
};

}  // namespace genq::api
