// Engine-private: performs the machine's request actions (SendSubmit, SendPoll, SendBalance)
// through the HTTPS client, each with a cancellation slot of its own, and hands every answer
// back to the machine.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <exception>
#include <map>
#include <memory>
#include <string>

#include "app/provider_calls.hpp"
#include "core/job.hpp"
#include "core/result.hpp"
#include "net/http_types.hpp"
#include "sched/job_machine.hpp"

namespace boost::asio {
class cancellation_signal;
}

namespace genq::app {

struct EngineCore;

class RequestDriver {
public:
    explicit RequestDriver(EngineCore& e);
    ~RequestDriver();

    // The request is built before anything is spawned: an input that cannot be read back is a
    // fact for the machine at once, not a request.
    void start_submit(sched::RequestId id, const std::string& job_id);
    void start_poll(sched::RequestId id, const std::string& job_id);
    void start_balance(sched::RequestId id, const std::string& key);
    // Cancels a request under way, whatever phase it is in.
    void abort(sched::RequestId id);

private:
    CallIdentity identity(const std::string& key) const;
    void spawn_request(sched::RequestId id, boost::asio::awaitable<void> task);
    void answer_after_exception(sched::RequestId id, std::exception_ptr e);
    void answered(sched::RequestId id, const sched::Reply& reply);
    boost::asio::awaitable<Result<net::HttpResponse>> send(sched::RequestId id,
                                                           const std::string& key,
                                                           net::HttpRequest req,
                                                           std::string part,
                                                           std::string job_id);
    bool reserved(sched::RequestId id, const std::string& key, const std::string& job_id,
                  TimePoint t);
    void drop_lost(const std::string& job_id);
    boost::asio::awaitable<void> submit(sched::RequestId id, Job job, net::HttpRequest req);
    boost::asio::awaitable<void> poll(sched::RequestId id, std::string job_id);
    boost::asio::awaitable<void> read_credits(sched::RequestId id, std::string key);
    void observe(const std::string& key, const Result<net::HttpResponse>& res, double dt);

    EngineCore& e_;
    std::map<sched::RequestId, std::unique_ptr<boost::asio::cancellation_signal>> signals_;
};

}  // namespace genq::app
