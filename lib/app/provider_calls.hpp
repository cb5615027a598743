// The two ends of a provider request for the engine: the HTTP request a job's submission or poll
// becomes, and the machine's Reply an HTTP outcome becomes (classified, its result, if any, whole
// on disk). No decisions here: the job machine makes them from the Reply.
#pragma once
#include <string>

#include "core/job.hpp"
#include "core/result.hpp"
#include "net/http_types.hpp"
#include "provider/operation.hpp"
#include "sched/job_machine.hpp"

namespace genq::store {
class QueueStore;
}

namespace genq::app {

struct CallIdentity {
    std::string secret;     // the key's secret, only ever placed in the authorization header
    std::string client_id;  // stability-client-id
    bool json_results = false;  // [api] result_form = "json"
};

// The submission: multipart with the job's input(s) read back from the store, and its params.
// Error: spool_error when an input cannot be read.
Result<net::HttpRequest> submit_request(const Job& job, const provider::Operation& op,
                                        const CallIdentity& who, store::QueueStore& store);
net::HttpRequest poll_request(const Job& job, const provider::Operation& op,
                              const CallIdentity& who);

// GET /v1/user/balance with the key's identity, and its answer ({"credits": N}) as credits.
net::HttpRequest balance_request(const CallIdentity& who);
Result<double> read_balance(const Result<net::HttpResponse>& res);

// What the answer means; a result is written (JSON form) or already streamed into `part`.
sched::Reply read_reply(const Result<net::HttpResponse>& res, const provider::Operation& op,
                        const Job& job, bool submit, const std::string& part);

// Whether `path` holds a whole result (a complete image), for recovery after a crash.
bool result_file_complete(const std::string& path);

}  // namespace genq::app
