// The whole life of a job, decided in one sans-io machine (SPEC §3–5). Facts go in — a classified
// provider answer or a transport error, a tick of the clock, a cancel, a reload, what the store
// and the disk held at start-up — and actions come out: send this submit or poll on this key,
// commit this transition, place this result, forget this temporary file. The engine performs the
// actions and feeds back what happened; it decides nothing itself. Time is always a parameter:
// the machine never reads a clock, so tests drive it with a manual one.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/job.hpp"
#include "core/result.hpp"
#include "provider/response.hpp"
#include "sched/backlog_signal.hpp"
#include "sched/backoff.hpp"
#include "sched/key_pool.hpp"
#include "sched/poll_planner.hpp"
#include "sched/poll_queue.hpp"

namespace genq::sched {

struct MachineSettings {
    LimitsConfig limits;
    RetryConfig retry;
    double daily_credits = 0;  // 0 = no cap
    std::vector<KeySpec> keys;
};

// ---- facts ---------------------------------------------------------------------------------

// A result that arrived: streamed (or decoded) into the job's temporary file, fsynced.
struct ReceivedResult {
    std::string finish_reason;  // "" = SUCCESS
    std::string seed;
    std::string ext;                 // what the bytes are: "mp4", "png", ...
    std::optional<Error> not_saved;  // the body could not be decoded or written (disk full)
};

// How one request ended.
struct Reply {
    bool answered = false;         // the provider answered (any status)
    int status = 0;
    provider::Classified answer;   // when answered
    Error transport;               // when not (timeout, reset, truncated, canceled, ...)
    ReceivedResult result;         // when answer.outcome == result
};

// What the disk holds for a job found submitting or running at start-up.
struct OnDisk {
    bool final_exists = false;   // the reserved output name exists
    bool temp_exists = false;    // the temporary result file exists
    bool temp_complete = false;  // ... and holds a whole result (a complete image or video)
    bool never_sent = false;     // a shared store knows no byte of the submission went out
};

// ---- actions -------------------------------------------------------------------------------

using RequestId = std::uint64_t;

struct SendSubmit {
    RequestId request;
    std::string job_id;
    std::string key;
};
struct SendPoll {
    RequestId request;
    std::string job_id;
    std::string key;
    std::string remote_id;
};
// Moves the stored job from job.state to `to`, with every field of `job` and an event. If the
// stored state changed meanwhile the driver reports on_conflict(job.id) and skips the rest of
// this job's actions.
struct Commit {
    Job job;
    JobState to;
    std::string detail;
    bool durable = true;
};
struct SaveProgress {
    Job job;
    bool durable = false;
};
// Moves the job's temporary result to job.output (choosing and reserving a free name first
// when empty, under `durable` for results that cannot be fetched again) with its metadata file,
// or, with `already_in_place`, writes only the metadata; then the driver reports on_placed.
struct PlaceResult {
    Job job;
    std::string ext;
    bool durable_reservation = false;
    bool already_in_place = false;
};
struct DiscardTemp {
    std::string job_id;
};
struct AbortRequest {
    RequestId request;
};
// A key-level answer: the driver logs it, counts it and keeps the lock-out across restarts.
struct KeyChanged {
    std::string key;
    int status = 0;      // 429, 401, 402
    std::string code;    // the provider's error name
    TimePoint locked_until = 0;  // 429
};

// GET /v1/user/balance on `key` (start-up, after each reload, every kBalanceEvery seconds):
// a request of that key like any other, so the driver asks may_send() before it goes, and
// reports on_balance().
struct SendBalance {
    RequestId request;
    std::string key;
};

using Action = std::variant<SendSubmit, SendPoll, Commit, SaveProgress, PlaceResult, DiscardTemp,
                            AbortRequest, KeyChanged, SendBalance>;
using Actions = std::vector<Action>;

// What offer() made of a batch of queued jobs.
struct Offer {
    Actions actions;
    int placed = 0;
    bool more = false;  // every candidate was placed: offer the next batch now
};

class JobMachine {
public:
    explicit JobMachine(std::uint64_t seed = std::random_device{}());

    // Keys, limits and retry rules; on a running machine each remaining key keeps its history.
    void configure(MachineSettings s);
    const MachineSettings& settings() const { return settings_; }

    // ---- start-up ----
    // The limiter's memory from before the restart.
    void restore_key(const std::string& key, const std::vector<TimePoint>& sends,
                     TimePoint locked_until);
    // Credits already spent on the UTC day of `now`.
    void set_spent_today(double credits, TimePoint now);
    // Jobs left submitting or running, with what the disk holds for each.
    Actions recover(const std::vector<std::pair<Job, OnDisk>>& jobs, TimePoint now);

    // ---- dispatch ----
    // Polls that are due, each reserved on its key (and submissions the shared limiter held
    // back, now that their key is free).
    Actions dispatch_polls(TimePoint now);
    // Whether queued jobs should be offered now (not paused, some key could take one).
    bool wants_submissions(TimePoint now) const;
    // Queued jobs, best first: which are submitted now, on which key. The jobs are updated in
    // place (a wait reason saved); the engine keeps its batch between passes without a copy.
    Offer offer(std::vector<Job>& candidates, TimePoint now);
    Offer offer(std::vector<Job>&& candidates, TimePoint now) { return offer(candidates, now); }
    // The earliest time a due poll can go, or, with queued jobs waiting, a key can take one
    // (+inf: nothing to wait for).
    TimePoint next_wake(TimePoint now, bool have_queued) const;

    // ---- requests ----
    // Immediately before each attempt of `request` puts bytes on the wire: whether the key's
    // limiter allows it (a transparent resend needs room of its own). True: it counts as sent.
    bool may_send(RequestId request, TimePoint now);
    // On a shared store, after may_send() said yes: the store's limiter (every node's sends of
    // the key) refused the request; the key is busy until `until` (this process's clock), or,
    // with `locked_out`, rests after a 429 another node saw. The request does not go: the
    // driver ends it as not sent, and the machine sends the same attempt (a submit: no new
    // claim, no attempt counted; a poll: the same generation) once the key is free.
    void on_send_refused(RequestId request, TimePoint until, bool locked_out, TimePoint now);
    Actions on_reply(RequestId request, const Reply& reply, TimePoint now);
    // The result of a PlaceResult: ok, or why it could not be placed.
    Actions on_placed(const std::string& job_id, const Status& placed, const std::string& output,
                      TimePoint now);
    // A Commit found the stored job changed (a concurrent cancel): forget it.
    void on_conflict(const std::string& job_id);
    // The store says another node changed the job (canceled it, took it over): its requests
    // are aborted and the machine forgets it, committing nothing.
    Actions forget(const std::string& job_id);

    // ---- control ----
    // Error codes: conflict (terminal, or not retryable).
    Result<Actions> cancel(const Job& stored, TimePoint now);
    Result<Actions> retry(const Job& stored, TimePoint now);
    void pause_all(bool paused) { paused_ = paused; }
    bool paused() const { return paused_; }
    Status pause_key(const std::string& key, bool paused);
    // Clears out_of_credits ("" = every key); `budget` lifts today's cap until the next reload.
    Status resume_key(const std::string& key);
    void lift_budget() { budget_override_ = settings_.daily_credits > 0; }
    bool budget_lifted() const { return budget_override_; }
    // A result started streaming in for `request` (a download under way).
    void on_streaming(RequestId request);
    // Shutdown: every request but the result downloads already streaming (those get a grace).
    Actions abort_for_stop();
    // Every request under way.
    Actions abort_all();

    // ---- credits (lib/sched/job_machine_credits.cpp) ----
    // Balance reads that are due, each reserved on its key (a key that cannot send now is read
    // once it can).
    Actions dispatch_balances(TimePoint now);
    // How a balance read ended: the key's credits, or why not (read again after a short rest).
    void on_balance(RequestId request, const Result<double>& credits, TimePoint now);
    // The key's last balance less what it has been charged since (nullopt: not read yet).
    std::optional<double> balance(const std::string& key) const;
    // The earliest time a balance read is due (+inf: none).
    TimePoint next_balance_time(TimePoint now) const;

    // ---- a store that cannot write: the state disk full (lib/sched/job_machine_unsaved.cpp) ----
    // A Commit found no space. A claim (queued -> submitting) is given back: the store still
    // holds the job queued and nothing was sent; true = skip the rest of the job's actions, as
    // after a conflict. Any other commit is kept, in order, and the machine goes on from its new
    // state (a generation under way is still polled, never forgotten): the store is behind
    // until store_writable() hands the kept commits back. False = the job's actions go on.
    bool on_commit_failed(const Commit& c);
    // A result whose name could not be reserved for lack of space: it stays in its temporary
    // file and is placed again by store_writable() (a sync result is never paid twice).
    void on_place_deferred(const PlaceResult& p);
    // Whether the job has kept actions (the driver keeps a later commit of it behind them).
    bool has_unsaved(const std::string& job_id) const;
    std::size_t unsaved_count() const { return unsaved_.size(); }
    // While the store cannot write, no queued job is offered (polls and balance reads go on).
    void set_store_full(bool full) { store_full_ = full; }
    bool store_full() const { return store_full_; }
    // The store writes again: the kept commits and placements, in the order they were made.
    Actions store_writable();

    // ---- views ----
    const KeyPool& keys() const { return keys_; }
    bool has_key(const std::string& name) const { return keys_.has(name); }
    std::size_t active_count() const { return active_.size(); }
    std::size_t requests_in_flight() const { return requests_.size(); }
    bool is_active(const std::string& job_id) const { return active_.count(job_id) > 0; }
    std::vector<std::string> active_ids() const;
    // The machine's view of a submitting or running job (nullptr: not active).
    const Job* active_job(const std::string& job_id) const;
    double spent_today() const { return spent_; }
    double poll_interval() const { return planner_.interval(); }
    // The poll planner's learned generation times (restored at start-up, saved when changed).
    PollPlanner& planner() { return planner_; }
    const PollPlanner& planner() const { return planner_; }

private:
    struct Request {
        std::string job_id;
        std::string key;
        bool poll = false;
        std::string remote_id;
        bool reservation_pending = true;
        bool sent = false;
        TimePoint sent_at = 0;
        TimePoint refused_until = 0;  // the shared limiter refused it (0 = it did not)
        bool streaming = false;
        bool balance = false;  // a GET /v1/user/balance, not a job's request
    };
    struct KeyCredits {
        std::optional<double> balance;
        TimePoint due = 0;  // the next read
        bool reading = false;
    };

    Actions on_submit_reply(const Request& r, Job job, const Reply& reply, TimePoint now);
    Actions on_poll_reply(const Request& r, Job job, const Reply& reply, TimePoint now);
    void place(Actions& out, Job& job, const ReceivedResult& res, bool sync, TimePoint now);
    void commit(Actions& out, Job& job, JobState to, std::string detail, TimePoint now,
                bool durable = true);
    void fail(Actions& out, Job& job, const std::string& code, const std::string& message,
              TimePoint now);
    void requeue(Actions& out, Job& job, TimePoint not_before, const std::string& reason,
                 std::string detail, TimePoint now);
    void retry_later(Actions& out, Job& job, const std::string& code, const std::string& message,
                     TimePoint now);
    void learn(const Job& job, const Reply& reply, TimePoint now);
    double key_load(const std::string& key, TimePoint now) const;
    void poll_again(Actions& out, Job& job, TimePoint at, TimePoint now);
    // A 429, 401 or 402: the key's state changes; true when it was one of those.
    bool key_answer(Actions& out, const std::string& key, const Reply& reply, TimePoint now);
    void recover_one(Actions& out, Job job, const OnDisk& disk, TimePoint now);
    bool try_submit(Actions& out, Job& job, TimePoint now);
    // The key for the job among those whose balance can pay its price; sets the job's
    // wait_reason to "credits" when only too poor keys could have taken it.
    std::optional<std::string> choose_paying_key(Actions& out, Job& job, TimePoint now);
    // Keys whose known balance, less what their active jobs will cost, is below the job's price.
    std::set<std::string> too_poor_for(const Job& job) const;
    void charge_balance(const std::string& key, double credits);
    // After configure(): every key read again soon; removed keys forgotten.
    void schedule_balance_reads();
    bool over_budget(const Job& job, TimePoint now);
    void enter_active(const Job& job);
    void leave_active(const std::string& job_id);
    RequestId new_request(Request r);
    void release(RequestId id);

    MachineSettings settings_;
    KeyPool keys_;
    PollQueue polls_;
    PollPlanner planner_{10};
    BacklogSignal backlog_;  // work kept waiting: first polls go late (backlog_signal.hpp)
    Backoff backoff_{2, 300};
    std::mt19937_64 rng_;
    std::map<std::string, Job> active_;  // submitting and running jobs, by id
    std::map<RequestId, Request> requests_;
    struct Timing {
        TimePoint accepted_at = 0;
        TimePoint pending_at = 0;  // the last poll answered "still running" (0 = none)
    };
    std::map<std::string, Timing> timing_;  // running jobs accepted by this process, by id
    RequestId next_request_ = 1;
    bool paused_ = false;
    bool store_full_ = false;
    Actions unsaved_;  // commits and placements not yet written (the state disk full)
    bool budget_override_ = false;
    double spent_ = 0;           // credits charged on day_
    std::int64_t day_ = -1;      // UTC day number of spent_
    double in_flight_price_ = 0;  // what the active jobs will cost if they succeed
    // The same per key, kept as jobs enter and leave active_ (summing active_ for every offered
    // job was a tenth of genqd's CPU with a thousand generations under way).
    std::map<std::string, double> committed_by_key_;
    std::map<std::string, KeyCredits> credits_;  // by key
};

// Seconds between balance reads of a key (a read is one request of the key's limit); a failed
// read is tried again after kBalanceRetry.
inline constexpr double kBalanceEvery = 300;
inline constexpr double kBalanceRetry = 30;

// The price of a job's kind in credits (0 for an unknown kind).
int price_of(const Job& job);
// Whether the kind answers its submission with the result itself.
bool is_sync(const Job& job);

}  // namespace genq::sched
