#include "app/store_reader.hpp"

#include <algorithm>
#include <cctype>

#include "store/job_store.hpp"

namespace genq::app {
namespace {

std::vector<ports::JobEvent> to_port(std::vector<store::JobEvent> in) {
    std::vector<ports::JobEvent> out;
    out.reserve(in.size());
    for (auto& e : in)
        out.push_back({e.seq, std::move(e.job_id), e.at, std::move(e.from_state),
                       std::move(e.to_state), std::move(e.detail)});
    return out;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) ==
                      std::tolower(static_cast<unsigned char>(b));
           });
}

}  // namespace

std::optional<Job> StoreReader::get(std::string_view id) { return jobs_.get(id); }

std::vector<Job> StoreReader::list(const ports::JobQuery& q) {
    store::JobQuery sq;
    sq.states = q.states;
    sq.kind = q.kind;
    sq.limit = q.limit;
    sq.before = q.before;
    return jobs_.list(sq);
}

// Today's store has no prefix index: the ids are walked newest first, a page at a time. The
// queue's storage interface answers this with one indexed query.
std::vector<std::string> StoreReader::ids_with_prefix(std::string_view prefix, int limit) {
    std::vector<std::string> out;
    store::JobQuery q;
    q.limit = 500;
    for (;;) {
        auto page = jobs_.list(q);
        for (const auto& job : page) {
            if (starts_with_nocase(job.id, prefix)) out.push_back(job.id);
            if (static_cast<int>(out.size()) >= limit) return out;
        }
        if (static_cast<int>(page.size()) < q.limit) return out;
        q.before = page.back().id;
    }
}

std::vector<ports::JobEvent> StoreReader::events(std::string_view id) {
    return to_port(jobs_.events(id));
}

std::vector<ports::JobEvent> StoreReader::events_since(std::int64_t seq, int limit) {
    return to_port(jobs_.events_since(seq, limit));
}

std::map<std::string, std::int64_t> StoreReader::counts_by_state() {
    return jobs_.counts_by_state();
}

}  // namespace genq::app
