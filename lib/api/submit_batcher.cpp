#include "api/submit_batcher.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <optional>

#include "provider/fit_request.hpp"

namespace genq::api {

namespace asio = boost::asio;

struct SubmitBatcher::Waiter {
    explicit Waiter(const asio::any_io_executor& ex) : wake(ex) {}
    std::optional<Results> results;
    asio::steady_timer wake;  // canceled by flush() once `results` is set
};

namespace {

using Refusals = std::vector<std::optional<Error>>;

// Runs on the fitting thread while the request's coroutine is suspended: it alone touches the
// requests until the result is posted back to the loop.
asio::awaitable<void> fit_all(std::vector<ports::SubmitRequest>* reqs, Refusals* refused) {
    for (std::size_t i = 0; i < reqs->size(); ++i)
        if (auto st = provider::apply_fit((*reqs)[i]); !st) (*refused)[i] = st.error();
    co_return;
}

}  // namespace

SubmitBatcher::SubmitBatcher(ports::Intake& intake, Defer defer)
    : intake_(intake), defer_(std::move(defer)), fitters_(std::make_unique<asio::thread_pool>(1)) {}

SubmitBatcher::~SubmitBatcher() { fitters_->join(); }

net::Awaitable<SubmitBatcher::Results> SubmitBatcher::submit(
    std::vector<ports::SubmitRequest> reqs) {
    bool any_fit = false;
    for (const auto& r : reqs) any_fit = any_fit || provider::needs_fit(r);
    if (!any_fit) {
        Results direct = co_await enqueue(std::move(reqs));
        co_return direct;
    }
    Refusals refused(reqs.size());
    co_await asio::co_spawn(fitters_->get_executor(), fit_all(&reqs, &refused),
                            asio::use_awaitable);
    // The refused ones never reach the intake; the rest keep their places in the answer.
    std::vector<ports::SubmitRequest> fitted;
    for (std::size_t i = 0; i < reqs.size(); ++i)
        if (!refused[i]) fitted.push_back(std::move(reqs[i]));
    Results committed;
    if (!fitted.empty()) {
        Results r = co_await enqueue(std::move(fitted));
        committed = std::move(r);
    }
    Results out;
    std::size_t next = 0;
    for (auto& why : refused) {
        if (why)
            out.emplace_back(std::move(*why));
        else
            out.push_back(std::move(committed[next++]));
    }
    co_return out;
}

net::Awaitable<SubmitBatcher::Results> SubmitBatcher::enqueue(
    std::vector<ports::SubmitRequest> reqs) {
    if (!defer_) co_return commit(reqs);
    if (pending_.empty()) defer_([this] { flush(); });
    const asio::any_io_executor ex = co_await asio::this_coro::executor;
    auto waiter = std::make_shared<Waiter>(ex);
    pending_.push_back({std::move(reqs), waiter});
    while (!waiter->results) {
        waiter->wake.expires_at(asio::steady_timer::time_point::max());
        co_await waiter->wake.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return std::move(*waiter->results);
}

// Without a loop to defer to: one synchronous Intake::submit_many per source.
SubmitBatcher::Results SubmitBatcher::commit(std::vector<ports::SubmitRequest>& reqs) {
    std::map<std::string, std::vector<std::size_t>> by_source;
    for (std::size_t i = 0; i < reqs.size(); ++i) by_source[reqs[i].source].push_back(i);
    Results out(reqs.size(), Result<Job>(Error{"internal", "not submitted"}));
    for (const auto& [source, idx] : by_source) {
        std::vector<ports::SubmitRequest> group;
        group.reserve(idx.size());
        for (auto i : idx) group.push_back(std::move(reqs[i]));
        try {
            auto results = intake_.submit_many(group);
            for (std::size_t k = 0; k < idx.size(); ++k) out[idx[k]] = std::move(results[k]);
        } catch (const std::exception& e) {
            // The transaction rolled back: nothing of this group was committed, and each of its
            // requests hears so.
            spdlog::error("control: committing {} submission(s) failed: {}", idx.size(), e.what());
            for (auto i : idx) out[i] = Error{"io_error", "cannot store the job"};
        }
    }
    return out;
}

// At most this many jobs per commit (whole requests, so a large batch request may exceed it):
// the loop blocks for one commit at a time, and a status request waits for one group at most.
constexpr std::size_t kMaxJobsPerCommit = 16;

void SubmitBatcher::flush() {
    std::vector<Pending> batch;
    std::size_t jobs = 0;
    auto it = pending_.begin();
    for (; it != pending_.end() && jobs < kMaxJobsPerCommit; ++it) {
        jobs += it->reqs.size();
        batch.push_back(std::move(*it));
    }
    pending_.erase(pending_.begin(), it);
    if (!pending_.empty()) defer_([this] { flush(); });  // the rest after other work had a turn
    std::vector<ports::SubmitRequest> all;
    for (auto& p : batch)
        for (auto& r : p.reqs) all.push_back(std::move(r));
    auto group = std::make_shared<Group>();
    group->waiting = std::move(batch);
    group->count = all.size();
    prepare(all, *group);
    // Every fsync off the loop: the inputs' first (a job is never committed before its input is
    // durable), then the commit's own (the WAL's), and only then the answers.
    ports::Intake* intake = &intake_;
    intake_.when_inputs_durable([intake, defer = defer_, group](Status st) {
        // On the syncer's thread (or here): back to the loop, touching nothing but these (the
        // batcher may be gone at shutdown, when the loop drops this unrun; the intake and the
        // store outlive the loop's last turn).
        defer([intake, defer, group, st = std::move(st)] {
            commit_group(*intake, defer, group, st);
        });
    });
}

// One Intake::prepare_many per source, so each job's history names where it came from.
void SubmitBatcher::prepare(std::vector<ports::SubmitRequest>& all, Group& group) {
    std::map<std::string, std::vector<std::size_t>> by_source;
    for (std::size_t i = 0; i < all.size(); ++i) by_source[all[i].source].push_back(i);
    for (auto& [source, idx] : by_source) {
        std::vector<ports::SubmitRequest> reqs;
        reqs.reserve(idx.size());
        for (auto i : idx) reqs.push_back(std::move(all[i]));
        Part part;
        try {
            part.batch = intake_.prepare_many(reqs);
        } catch (const std::exception& e) {
            spdlog::error("control: spooling {} submission(s) failed: {}", idx.size(), e.what());
            part.batch.results.assign(idx.size(), Error{"io_error", "cannot store the job"});
        }
        part.index = std::move(idx);
        group.parts.push_back(std::move(part));
    }
}

// On the loop, once the group's inputs are durable (or their fsync failed).
void SubmitBatcher::commit_group(ports::Intake& intake, const Defer& defer,
                                 const std::shared_ptr<Group>& group, const Status& inputs) {
    for (auto& part : group->parts) {
        if (!inputs) {
            for (auto& r : part.batch.results)
                if (r) r = inputs.error();
            continue;
        }
        try {
            intake.commit_prepared(part.batch);
        } catch (const std::exception& e) {
            // The transaction rolled back: nothing of this part was committed, and each of its
            // requests hears so.
            spdlog::error("control: committing {} submission(s) failed: {}", part.index.size(),
                          e.what());
            for (auto& r : part.batch.results)
                if (r) r = Error{"io_error", "cannot store the job"};
        }
    }
    // Committed without the fsync; the WAL's fsync runs off the loop for this group and any
    // other committed meanwhile.
    ports::Intake* announcer = &intake;
    intake.when_durable([announcer, defer, group](Status st) {
        defer([announcer, group, st = std::move(st)] {
            if (st)
                for (const auto& part : group->parts) announcer->announce(part.batch);
            answer(*group, st);
        });
    });
}

// On the loop, once the group's commit is durable (or its fsync failed).
void SubmitBatcher::answer(Group& group, const Status& durable) {
    Results results(group.count, Result<Job>(Error{"internal", "not submitted"}));
    for (auto& part : group.parts)
        for (std::size_t k = 0; k < part.index.size(); ++k) {
            auto& r = part.batch.results[k];
            if (r && !durable)
                r = Error{"io_error", "the job " + r->id +
                                          " was queued but could not be made durable (" +
                                          durable.error().message +
                                          "); it may run: check it before submitting again"};
            results[part.index[k]] = std::move(r);
        }
    std::size_t next = 0;
    for (auto& p : group.waiting) {
        p.waiter->results.emplace(
            results.begin() + static_cast<std::ptrdiff_t>(next),
            results.begin() + static_cast<std::ptrdiff_t>(next + p.reqs.size()));
        next += p.reqs.size();
        p.waiter->wake.cancel();
    }
}

}  // namespace genq::api
