// Turning a submission (socket, HTTP API or watched folder) into a queued job: validate
// everything first, spool the input durably, then commit the job row. Nothing invalid is queued
// and nothing is sent to the provider for a refused job.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "ports/intake.hpp"
#include "store/job.hpp"

namespace genq::store {
class QueueStore;
}  // namespace genq::store
namespace genq::ports {
class StateDisk;
}  // namespace genq::ports

namespace genq::app {

using SubmitRequest = ports::SubmitRequest;

class Intake final : public ports::Intake {
public:
    using KeyExists = std::function<bool(const std::string&)>;
    using OnCreated = std::function<void(const store::Job&)>;
    Intake(store::QueueStore& store, KeyExists key_exists, OnCreated on_created)
        : store_(store), key_exists_(std::move(key_exists)),
          on_created_(std::move(on_created)) {}

    // While the state directory is full, every submission is refused with state_disk_full
    // (before anything is spooled), and a write that finds no space reports it there.
    void set_state_disk(ports::StateDisk* disk) { disk_ = disk; }

    // Error codes: invalid_kind, invalid_param, invalid_image, invalid_key, io_error,
    // state_disk_full.
    Result<store::Job> submit(const SubmitRequest& req) override;
    // The same for a burst (watched folders): every input spooled, one file-system sync, one
    // commit for all the accepted jobs. One result per request, in order.
    std::vector<Result<store::Job>> submit_many(const std::vector<SubmitRequest>& reqs) override;
    // The API's group commit in steps (see ports::Intake).
    ports::PreparedSubmissions prepare_many(const std::vector<SubmitRequest>& reqs) override;
    void when_inputs_durable(std::function<void(Status)> done) override;
    void commit_prepared(ports::PreparedSubmissions& batch) override;
    void when_durable(std::function<void(Status)> done) override;
    void announce(const ports::PreparedSubmissions& batch) override;
    // Validation only (no spool, no row): the normalised params.
    Result<nlohmann::json> check(const SubmitRequest& req) override;

private:
    // check() of a request whose fit (if any) is applied.
    Result<nlohmann::json> check_fitted(const SubmitRequest& req);
    // Validates, spools (durably or not) and fills the job row; nothing committed.
    Result<store::Job> prepare(const SubmitRequest& req, bool durable);
    // The refusal while the state disk is full (nullopt: there is room, or no monitor).
    std::optional<Error> refused() const;
    // A spool error or failed commit that found no space: reported, and the refusal instead.
    Error no_space(const std::string& what);
    // Inserts the rows (`synced`: waiting for the disk); false (nothing committed) when the disk
    // had no room for them.
    bool commit(const std::vector<store::Job>& jobs, const std::string& source,
                bool synced = true);
    // Fails every accepted result with `why`.
    static void refuse_accepted(std::vector<Result<store::Job>>& results, const Error& why);

    store::QueueStore& store_;
    KeyExists key_exists_;
    OnCreated on_created_;
    ports::StateDisk* disk_ = nullptr;
};

}  // namespace genq::app
