// ports::JobReader over today's store::JobStore: what the control API reads from the queue. A
// thin adapter until the queue's storage interface implements the port itself.
#pragma once
#include "ports/job_reader.hpp"

namespace genq::store {
class JobStore;
}

namespace genq::app {

class StoreReader final : public ports::JobReader {
public:
    explicit StoreReader(store::JobStore& jobs) : jobs_(jobs) {}

    std::optional<Job> get(std::string_view id) override;
    std::vector<std::string> ids_with_prefix(std::string_view prefix, int limit) override;
    std::vector<Job> list(const ports::JobQuery& q) override;
    std::vector<ports::JobEvent> events(std::string_view id) override;
    std::vector<ports::JobEvent> events_since(std::int64_t seq, int limit) override;
    std::map<std::string, std::int64_t> counts_by_state() override;

private:
    store::JobStore& jobs_;
};

}  // namespace genq::app
