#include "app/engine.hpp"

#include <unistd.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <type_traits>
#include <set>
#include <spdlog/spdlog.h>

#include "app/metrics.hpp"
#include "app/outputs.hpp"
#include "app/pause_memory.hpp"
#include "app/provider_calls.hpp"
#include "app/shared_send_gate.hpp"
#include "app/state_disk.hpp"
#include "core/clock.hpp"
#include "core/files.hpp"
#include "net/https_client.hpp"
#include "provider/operation.hpp"
#include "sched/job_machine.hpp"
#include "store/database.hpp"
#include "store/queue_store.hpp"
#include "store/shared_store.hpp"

namespace genq::app {

namespace asio = boost::asio;
using namespace sched;

namespace {

constexpr int kQueueBatch = 32;
constexpr double kIdleRecheck = 30;  // seconds between dispatcher runs when nothing happens
constexpr double kPruneEvery = 60;
constexpr double kQueuedMaxAge = 1;  // seconds a read batch of queued jobs is offered at most
constexpr double kPlannerSaveEvery = 10;
constexpr double kDownRecheck = 0.5;  // seconds between looks while the shared store is down  // seconds between saves of what the planner learned

std::int64_t day_start_ms(TimePoint t) {
    return static_cast<std::int64_t>(std::floor(t / 86400) * 86400000);
}

asio::steady_timer::duration seconds(double s) {
    return std::chrono::microseconds(static_cast<std::int64_t>(std::max(0.0, s) * 1e6));
}

}  // namespace

struct Engine::Impl {
    Impl(asio::io_context& io_, store::QueueStore& store_, net::HttpsClient& client_,
         Metrics& metrics_, const Clock& clock_)
        : io(io_), store(store_), client(client_), metrics(metrics_), clock(clock_),
          outputs("", store_), wake(io_), grace_timer(io_) {}

    asio::io_context& io;
    store::QueueStore& store;
    net::HttpsClient& client;
    Metrics& metrics;
    const Clock& clock;
    Outputs outputs;
    JobMachine machine;
    std::unique_ptr<SharedSendGate> gate;  // a shared store's limiter (nullptr: embedded store)
    store::SharedStore* shared = nullptr;
    std::uint64_t seen_reconnects = 0;  // the store's reconnects() at the last reconcile
    EngineSettings settings;
    std::vector<TransitionListener> listeners;
    StateDiskMonitor* disk = nullptr;
    std::map<RequestId, std::unique_ptr<asio::cancellation_signal>> signals;
    asio::steady_timer wake;
    asio::steady_timer grace_timer;
    bool running = false;
    bool stopping = false;
    bool dirty = false;
    bool pauses_unsaved = false;
    bool db_down = false;  // the shared store did not answer the last dispatcher turn
    int tasks = 0;
    std::function<void()> on_stopped;
    TimePoint started_at = 0;
    TimePoint last_prune = 0;
    TimePoint last_planner_save = 0;
    std::vector<Job> queued;  // the dispatcher's batch of queued jobs, best first
    bool queued_stale = true;
    TimePoint queued_read_at = 0;
    TimePoint queued_wake = 0;  // when a queued job not yet ready becomes ready (0 = none)

    TimePoint now() const { return clock.now(); }

    // ---- performing the machine's actions ------------------------------------------------
    void perform(const Actions& actions) {
        std::set<std::string> lost;  // jobs whose commit found the stored state changed
        for (const auto& a : actions) {
            try {
                std::visit([&](const auto& x) { act(x, lost); }, a);
            } catch (const store::DbUnavailable& e) {
                // The shared store is unreachable: whether this step of the job happened is
                // unknown, so the machine forgets the job, and once the store answers again the
                // reconcile takes it back as the store has it (reconcile_if_reconnected).
                std::string id = job_of(a);
                spdlog::warn("job {}: the shared store is unreachable: {}", id.empty() ? "-" : id,
                             e.what());
                if (!id.empty() && lost.insert(id).second) machine.on_conflict(id);
            }
        }
    }

    static std::string job_of(const Action& a) {
        return std::visit(
            [](const auto& x) -> std::string {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, Commit> || std::is_same_v<T, SaveProgress> ||
                              std::is_same_v<T, PlaceResult>)
                    return x.job.id;
                else if constexpr (std::is_same_v<T, SendSubmit> || std::is_same_v<T, SendPoll> ||
                                   std::is_same_v<T, DiscardTemp>)
                    return x.job_id;
                else
                    return {};
            },
            a);
    }

    // After the shared store's connection was re-established: what this node works on is what
    // the store says it holds. Jobs another node took over meanwhile (this node's heartbeat
    // stopped for the lease) are dropped; jobs the store gives this node but the machine lost
    // (a step that failed with the connection) are recovered as after a restart.
    void reconcile_if_reconnected() {
        if (!shared || shared->reconnects() == seen_reconnects) return;
        auto own = shared->own_generations();
        seen_reconnects = shared->reconnects();
        std::set<std::string> held;
        for (const auto& j : own) held.insert(j.id);
        for (const auto& id : machine.active_ids())
            if (!held.count(id)) {
                spdlog::warn("job {}: held by another node after the reconnect; dropped here", id);
                machine.on_conflict(id);
            }
        std::vector<Job> lost;
        for (auto& j : own)
            if (!machine.is_active(j.id)) lost.push_back(std::move(j));
        if (!lost.empty())
            spdlog::warn("{} job(s) of this node recovered after the reconnect", lost.size());
        recover_jobs(std::move(lost));
        queue_changed();
    }

    void act(const Commit& c, std::set<std::string>& lost) {
        if (lost.count(c.job.id)) return;
        Job job = c.job;
        JobState from = job.state;
        auto d = c.durable ? store::Durability::full : store::Durability::relaxed;
        bool written = false;
        // A job with changes still unwritten keeps its order: this one waits behind them.
        bool behind = machine.has_unsaved(job.id);
        auto write = [&] { written = store.transition(job, c.to, c.detail, d, job.updated_at); };
        if (behind || !guarded("a job's commit", write)) {
            if (machine.on_commit_failed(c)) lost.insert(job.id);
            return;
        }
        if (!written) {
            lost.insert(job.id);
            machine.on_conflict(job.id);
            return;
        }
        ++metrics.transitions;
        log_transition(job, from, c.detail);
        for (auto& l : listeners) guarded("after a commit", [&] { l(job, from, c.detail); });
        if (c.to == JobState::queued) queue_changed();
    }

    void act(const SaveProgress& s, std::set<std::string>& lost) {
        if (lost.count(s.job.id) || machine.has_unsaved(s.job.id)) return;  // the commit carries it
        guarded("a job's progress", [&] {
            store.save_progress(s.job,
                                s.durable ? store::Durability::full : store::Durability::relaxed);
        });
    }

    // Runs a store write; false when it found no space (reported, the daemon goes on).
    template <class F>
    bool guarded(const char* what, F&& write) {
        try {
            write();
            return true;
        } catch (const store::DiskFullError& e) {
            no_space(std::string(what) + ": " + e.what());
            return false;
        }
    }

    // A pause or resume acts at once; on a full disk it is saved once space returns (a restart
    // before then forgets it).
    void save_pauses() {
        pauses_unsaved = !guarded("the pauses", [&] { remember_pauses(store, machine); });
    }

    void no_space(const std::string& what) {
        machine.set_store_full(true);
        if (disk) disk->no_space(what);
    }

    // The state disk has room again: what waited is written, in order, then new work goes.
    void space_returned() {
        if (pauses_unsaved) save_pauses();
        perform(machine.store_writable());
        queue_changed();
    }

    void act(const SendSubmit& s, std::set<std::string>& lost) {
        if (lost.count(s.job_id)) return;
        start_submit(s.request, s.job_id);
    }

    void act(const SendPoll& s, std::set<std::string>& lost) {
        if (lost.count(s.job_id)) return;
        spawn_request(s.request, poll(s.request, s.job_id));
        notify();  // the dispatcher may sleep past the next due poll
    }

    void act(const PlaceResult& p, std::set<std::string>& lost) {
        if (lost.count(p.job.id)) return;
        Job job = p.job;
        Status placed = ok_status();
        if (p.already_in_place) {
            placed = outputs.write_metadata(job);
            if (!placed) {
                spdlog::warn("job {}: metadata not written: {}", job.id, placed.error().message);
                placed = ok_status();  // the result itself is in place
            }
        } else {
            std::string ext = p.ext;
            if (ext.empty()) ext = extension_on_disk(job);
            auto d = p.durable_reservation ? store::Durability::full : store::Durability::relaxed;
            // The name's reservation is a store write: without space the result waits in its
            // temporary file and is placed once space returns.
            if (!guarded("a result's name", [&] { placed = outputs.place(job, ext, d); }))
                return machine.on_place_deferred(p);
            if (!placed) spdlog::error("job {}: result not saved: {}", job.id, placed.error().message);
        }
        perform(machine.on_placed(job.id, placed, job.output, now()));
    }

    void act(const DiscardTemp& d, std::set<std::string>&) {
        ::unlink(outputs.part_path(d.job_id).c_str());
    }

    void act(const AbortRequest& a, std::set<std::string>&) {
        auto it = signals.find(a.request);
        if (it != signals.end()) it->second->emit(asio::cancellation_type::terminal);
    }

    void act(const SendBalance& b, std::set<std::string>&) {
        spawn_request(b.request, read_credits(b.request, b.key));
    }

    void act(const KeyChanged& k, std::set<std::string>&) {
        if (k.status == 429) {
            guarded("a key's lock-out", [&] { store.save_lockout(k.key, k.locked_until); });
            ++metrics.lockouts[k.key];
            spdlog::warn("key {}: provider answered 429 ({}); resting {:.0f} s", k.key, k.code,
                         settings.limits.lockout);
            return;
        }
        spdlog::error("key {}: provider answered {} ({}); no new work for this key until reload{}",
                      k.key, k.status, k.code, k.status == 402 ? " or resume" : "");
    }

    void log_transition(const Job& job, JobState from, const std::string& detail) {
        // Only a job's end is worth a line at info; the steps between are at debug (a line
        // formatted and written per step was a measurable share of the CPU per job).
        auto level = job.state == JobState::failed ? spdlog::level::err
                     : job.state == JobState::queued && from == JobState::submitting
                         ? spdlog::level::warn
                     : is_terminal(job.state) ? spdlog::level::info
                                              : spdlog::level::debug;
        if (!spdlog::should_log(level)) return;
        spdlog::log(level, "job {} {} -> {} key={} {}", job.id, to_string(from),
                    to_string(job.state), job.key_name.empty() ? "-" : job.key_name, detail);
    }

    std::string extension_on_disk(const Job& job) {
        const auto* op = provider::find_operation(job.kind);
        std::string head;
        if (auto bytes = read_file(outputs.part_path(job.id), 16)) head = *bytes;
        return op ? provider::result_file_ext(*op, job.params, "", head) : "bin";
    }

    // ---- requests --------------------------------------------------------------------------
    CallIdentity identity(const std::string& key) const {
        auto it = settings.keys.find(key);
        return {it == settings.keys.end() ? "" : it->second.first, settings.api.client_id,
                settings.api.result_form == "json"};
    }

    // Each request runs with a cancellation slot of its own: cancelling the job stops it at
    // once, whatever phase it is in.
    void spawn_request(RequestId id, asio::awaitable<void> task) {
        auto& sig = signals[id];
        sig = std::make_unique<asio::cancellation_signal>();
        ++tasks;
        auto done = [this, id](std::exception_ptr e) {
            // The signal must outlive the completion that runs through its slot: drop it later.
            asio::post(io, [this, id] { signals.erase(id); });
            if (e) answer_after_exception(id, e);
            task_ended(nullptr);
        };
        asio::co_spawn(io, std::move(task), asio::bind_cancellation_slot(sig->slot(), done));
    }

    // An exception escaping a request is a bug (or a dead database, which ends the daemon): the
    // machine still hears that the request ended, so its job is retried rather than stuck.
    void answer_after_exception(RequestId id, std::exception_ptr e) {
        std::string what = "unknown exception";
        try {
            std::rethrow_exception(e);
        } catch (const store::DbUnavailable& err) {
            what = err.what();  // the request's job is retried once the store answers again
        } catch (const store::DiskFullError& err) {
            no_space(err.what());
            what = err.what();
        } catch (const store::DbError& err) {
            spdlog::critical("database failure: {}; stopping", err.what());
            std::_Exit(1);
        } catch (const std::exception& err) {
            what = err.what();
        }
        spdlog::error("internal error in a provider request: {}", what);
        Reply failed;
        failed.transport = Error{errc::io_error, "internal error: " + what};
        answered(id, failed);
    }

    void task_ended(std::exception_ptr e) {
        --tasks;
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& err) {
                // The store is the source of truth; an exception here is a bug or a dead disk.
                spdlog::critical("internal error in an engine task: {}; stopping", err.what());
                std::_Exit(1);
            }
        }
        if (stopping && tasks == 0 && on_stopped) {
            save_planner();
            grace_timer.cancel();
            auto f = std::move(on_stopped);
            on_stopped = nullptr;
            f();
        }
    }

    // A request ended: the machine decides, and the dispatcher re-plans (a poll may now be due
    // sooner than it planned to wake, a key may be free again).
    void answered(RequestId id, const Reply& reply) {
        perform(machine.on_reply(id, reply, now()));
        notify();
    }

    asio::awaitable<Result<net::HttpResponse>> send(RequestId id, const std::string& key,
                                                    net::HttpRequest req, std::string part) {
        req.on_stream_start = [this, id] { machine.on_streaming(id); };
        std::function<bool()> before = [this, id, key] {
            TimePoint t = now();
            if (!machine.may_send(id, t)) return false;
            if (gate) return reserved(id, key, t);
            // Written before the bytes go out: a SIGKILL right after the write must not let a
            // restart forget the send and put one request too many into the key's window.
            // Without space the limiter still counts it in memory; only a restart would forget.
            guarded("the limiter's log", [&] {
                store.record_send(key, t);
                store.flush_sends();
            });
            return true;
        };
        TimePoint t0 = now();
        auto res = co_await client.send(std::move(req), std::move(part), std::move(before));
        observe(key, res, now() - t0);
        co_return res;
    }

    // On a shared store the slot is taken in the store (every node's sends of the key); a
    // refusal is a fact for the machine, which sends the request again once the key is free.
    bool reserved(RequestId id, const std::string& key, TimePoint t) {
        auto d = gate->reserve(key);
        if (shared->reconnects() != seen_reconnects) {
            // Reconnected: nothing goes before the reconcile (a job may be another node's now).
            asio::post(io, [this] {
                try {
                    reconcile_if_reconnected();
                } catch (const store::DbUnavailable&) {
                    // Down again: the dispatcher tries on its next turn.
                }
                notify();
            });
            machine.on_send_refused(id, t + 0.05, false, t);
            return false;
        }
        if (d.granted) return true;
        machine.on_send_refused(id, d.until, d.locked_out, t);
        return false;
    }

    // The request is built before anything is spawned: an input that cannot be read back is a
    // fact for the machine at once, not a request.
    void start_submit(RequestId id, const std::string& job_id) {
        const Job* job = machine.active_job(job_id);
        if (!job) return;
        const auto* op = provider::find_operation(job->kind);
        auto req = submit_request(*job, *op, identity(job->key_name), store);
        if (!req) {
            Reply unsent;
            unsent.transport = req.error();
            answered(id, unsent);
            return;
        }
        spawn_request(id, submit(id, *job, std::move(*req)));
    }

    asio::awaitable<void> submit(RequestId id, Job job, net::HttpRequest req) {
        // A cancelled request ends with errc::canceled like any other failure, not with an
        // exception at its next co_await.
        co_await asio::this_coro::throw_if_cancelled(false);
        const auto* op = provider::find_operation(job.kind);
        std::string part = outputs.part_path(job.id);
        bool sync = op->mode == provider::Mode::sync;
        // GCC 12: no temporaries in a co_await statement's arguments; name them first.
        std::string stream_to = sync ? part : std::string();
        auto res = co_await send(id, job.key_name, std::move(req), stream_to);
        answered(id, read_reply(res, *op, job, true, part));
    }

    asio::awaitable<void> poll(RequestId id, std::string job_id) {
        co_await asio::this_coro::throw_if_cancelled(false);
        const Job* job = machine.active_job(job_id);
        if (!job) co_return;
        Job snapshot = *job;
        const auto* op = provider::find_operation(snapshot.kind);
        std::string part = outputs.part_path(job_id);
        net::HttpRequest req = poll_request(snapshot, *op, identity(snapshot.key_name));
        auto res = co_await send(id, snapshot.key_name, std::move(req), part);
        if (res || res.error().ec != errc::rate_limited_local) ++metrics.polls;
        auto reply = read_reply(res, *op, snapshot, false, part);
        if (!reply.answered && reply.transport.ec != errc::canceled &&
            reply.transport.ec != errc::rate_limited_local)  // held back, not failed
            spdlog::warn("job {} poll failed: {}: {}", job_id, reply.transport.code,
                         reply.transport.message);
        else if (reply.answered && reply.answer.outcome == provider::Outcome::retryable)
            spdlog::warn("job {} poll: http {} {}", job_id, reply.status, reply.answer.error_code);
        answered(id, reply);
    }

    // GET /v1/user/balance through the same client and limiter as the key's jobs.
    asio::awaitable<void> read_credits(RequestId id, std::string key) {
        co_await asio::this_coro::throw_if_cancelled(false);
        net::HttpRequest req = balance_request(identity(key));
        std::string no_file;
        auto res = co_await send(id, key, std::move(req), no_file);
        Result<double> credits = read_balance(res);
        if (credits)
            spdlog::info("key {}: balance {} credits", key, *credits);
        else if (credits.error().ec != errc::canceled)
            spdlog::warn("key {}: balance not read: {}", key, credits.error().message);
        machine.on_balance(id, credits, now());
        notify();  // a key may have become able (or unable) to pay
    }

    void observe(const std::string& key, const Result<net::HttpResponse>& res, double dt) {
        if (res) {
            metrics.observe_request(key, res->status, dt);
            metrics.bytes_downloaded += res->body_bytes;
        } else if (res.error().ec != errc::rate_limited_local) {
            metrics.observe_error(key, dt);
        }
    }

    // ---- dispatch --------------------------------------------------------------------------
    void notify() {
        dirty = true;
        wake.cancel();
    }

    // One pass: due polls first, then queued jobs while keys can take them. Returns when to
    // look again.
    TimePoint dispatch(TimePoint t) {
        perform(machine.dispatch_polls(t));
        perform(machine.dispatch_balances(t));
        TimePoint next = std::min(t + kIdleRecheck, machine.next_balance_time(t));
        bool have_queued = false;
        while (running && !machine.paused()) {
            refresh_queued(t);
            if (queued.empty()) break;
            have_queued = true;
            if (!machine.wants_submissions(t)) break;
            auto offer = machine.offer(queued, t);
            perform(offer.actions);
            // What was placed is the machine's now; what is left waits for the next pass. The
            // offer claims in place: a copy left saying `submitting` lost its claim (another
            // node won it, or a cancel came first) and must never be offered again from that
            // state, which the store's guard would accept: it goes, and the batch is re-read.
            std::erase_if(queued, [&](const Job& j) {
                if (machine.is_active(j.id)) return true;
                if (j.state == JobState::queued) return false;
                queued_stale = true;
                return true;
            });
            if (offer.more) continue;
            if (offer.placed == 0) {
                next = std::min(next, t + 1);  // held: requested keys, budget
                queued_stale = true;  // and its rows re-read then, with what was saved on them
            }
            break;
        }
        if (queued_wake > 0) next = std::min(next, queued_wake);
        return std::min(next, machine.next_wake(t, have_queued));
    }

    // The batch of queued jobs the dispatcher offers is read once and kept between passes: keys
    // are paced, so a pass places one or two jobs, and re-reading and parsing the whole batch
    // for each was most of the dispatcher's cost. It is read again when it runs out, when the
    // queue changed (new jobs, a job queued again, a cancel), when a job waiting for its
    // not_before time becomes ready, and at least every kQueuedMaxAge (a change made elsewhere,
    // e.g. another node on a shared store).
    void refresh_queued(TimePoint t) {
        bool due = queued_stale || queued.empty() || t - queued_read_at > kQueuedMaxAge ||
                   (queued_wake > 0 && t >= queued_wake);
        if (!due) return;
        queued = store.next_queued(t, kQueueBatch);
        queued_wake = store.next_queued_wake(t);
        queued_read_at = t;
        queued_stale = false;
    }

    void queue_changed() {
        queued_stale = true;
        notify();
    }

    // One turn of the dispatcher; a shared store that cannot be reached makes it wait and try
    // again (nothing is sent meanwhile: every request needs a reservation in the store).
    TimePoint turn(TimePoint t) {
        try {
            reconcile_if_reconnected();
            if (t - last_prune > kPruneEvery) {
                const auto& l = settings.limits;
                TimePoint before = t - 2 * (l.window + l.safety_margin);
                guarded("pruning the limiter's log", [&] { store.prune_sends(before); });
                last_prune = t;
            }
            if (t - last_planner_save > kPlannerSaveEvery) {
                save_planner();
                last_planner_save = t;
            }
            TimePoint next = t + 1;  // a pass cut short by a full disk: look again soon
            guarded("dispatching", [&] { next = dispatch(t); });
            if (db_down) spdlog::info("shared store reachable again");
            db_down = false;
            return next;
        } catch (const store::DbUnavailable& e) {
            if (!db_down) spdlog::error("shared store unreachable: {}; waiting for it", e.what());
            db_down = true;
            queued.clear();
            queued_stale = true;
            return t + kDownRecheck;
        }
    }

    asio::awaitable<void> dispatch_loop() {
        while (running) {
            TimePoint t = now();
            dirty = false;
            TimePoint next = turn(t);
            if (dirty && !db_down) continue;
            wake.expires_after(seconds(std::min(next - now(), kIdleRecheck)));
            boost::system::error_code ec;
            co_await wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
    }

    void save_planner() {
        for (const auto& [kind, blob] : machine.planner().take_changed())
            guarded("the poll planner", [&] { store.save_planner_state(kind, blob); });
    }

    // ---- start-up --------------------------------------------------------------------------
    void restore_planner() {
        for (const auto& [kind, blob] : store.load_planner_state())
            if (!machine.planner().restore(kind, blob))
                spdlog::warn("poll planner: the stored state for kind {} is unreadable; "
                             "learning it again",
                             kind);
    }

    void restore_limiter() {
        TimePoint t = now();
        double span = settings.limits.window + settings.limits.safety_margin;
        for (const auto& name : machine.keys().names())
            machine.restore_key(name, store.sends_since(name, t - span), store.lockout(name));
        double spent = 0;
        for (const auto& [k, v] : store.credits_by_key(day_start_ms(t))) spent += v;
        machine.set_spent_today(spent, t);
    }

    void recover() {
        std::vector<Job> jobs;
        for (auto state : {JobState::submitting, JobState::running})
            for (Job& job : store.in_state(state)) jobs.push_back(std::move(job));
        recover_jobs(std::move(jobs));
    }

    // The shared store's pauses, applied to this node (they act on every node).
    void apply_shared_pauses() {
        if (!shared) return;
        auto rows = shared->paused_keys();
        std::set<std::string> p(rows.begin(), rows.end());
        bool was = machine.paused();
        machine.pause_all(p.count("") > 0);
        for (const auto& name : machine.keys().names())
            (void)machine.pause_key(name, p.count(name) > 0);
        if (was != machine.paused())
            spdlog::info("{} all submissions (shared store)",
                         machine.paused() ? "paused" : "resumed");
        notify();
    }

    void recover_jobs(std::vector<Job> jobs) {
        std::vector<std::pair<Job, OnDisk>> found;
        for (Job& job : jobs) {
            OnDisk disk;
            std::string part = outputs.part_path(job.id);
            disk.final_exists = !job.output.empty() && ::access(job.output.c_str(), F_OK) == 0;
            disk.temp_exists = ::access(part.c_str(), F_OK) == 0;
            disk.temp_complete = disk.temp_exists && result_file_complete(part);
            found.emplace_back(std::move(job), disk);
        }
        perform(machine.recover(found, now()));
    }

    void spawn_loop() {
        ++tasks;
        asio::co_spawn(io, dispatch_loop(), [this](std::exception_ptr e) { task_ended(e); });
    }
};

Engine::Engine(asio::io_context& io, store::QueueStore& store, net::HttpsClient& client,
               Metrics& metrics, const Clock& clock)
    : impl_(std::make_unique<Impl>(io, store, client, metrics, clock)) {}

Engine::~Engine() = default;

void Engine::configure(EngineSettings s) {
    auto& i = *impl_;
    MachineSettings ms;
    ms.limits = s.limits;
    ms.retry = s.retry;
    ms.daily_credits = s.daily_credits;
    i.queued_stale = true;
    for (const auto& [name, secret_weight] : s.keys) ms.keys.push_back({name, secret_weight.second});
    i.machine.configure(std::move(ms));
    i.outputs.set_dir(s.output_dir);
    if (i.gate) i.gate->configure(s.limits.requests_per_window,
                                  s.limits.window + s.limits.safety_margin);
    i.settings = std::move(s);
    if (i.running) i.notify();
}

void Engine::start() {
    auto& i = *impl_;
    i.started_at = i.now();
    i.apply_shared_pauses();
    i.restore_limiter();
    i.restore_planner();
    restore_pauses(i.store, i.machine);
    i.recover();
    i.running = true;
    i.spawn_loop();
}

void Engine::share(store::SharedStore& shared) {
    auto& i = *impl_;
    i.shared = &shared;
    i.seen_reconnects = shared.reconnects();
    i.gate = std::make_unique<SharedSendGate>(shared, i.clock, i.metrics);
    const auto& l = i.settings.limits;
    i.gate->configure(l.requests_per_window, l.window + l.safety_margin);
}

void Engine::take_over(std::vector<Job> jobs) {
    auto& i = *impl_;
    if (jobs.empty() || !i.running) return;
    for (const auto& j : jobs)
        spdlog::warn("job {}: taken over from a dead node ({}, generation {})", j.id,
                     to_string(j.state), j.remote_id.empty() ? "-" : j.remote_id);
    i.recover_jobs(std::move(jobs));
    i.queue_changed();
}

void Engine::stop(double grace, std::function<void()> done) {
    auto& i = *impl_;
    i.running = false;
    i.stopping = true;
    i.on_stopped = std::move(done);
    i.wake.cancel();
    i.perform(i.machine.abort_for_stop());
    if (auto n = i.machine.unsaved_count())
        spdlog::warn("stopping with {} change(s) of jobs not written (the state disk is full); "
                     "the next start recovers those jobs from what was written",
                     n);
    i.grace_timer.expires_after(seconds(grace));
    i.grace_timer.async_wait([&i](const boost::system::error_code& ec) {
        if (ec) return;
        if (i.machine.requests_in_flight())
            spdlog::warn("{} request(s) still under way after the stop grace; abandoning them",
                         i.machine.requests_in_flight());
        i.perform(i.machine.abort_all());
    });
    ++i.tasks;  // the stop itself, so `done` runs from the loop even with nothing under way
    asio::post(i.io, [&i] { i.task_ended(nullptr); });
}

void Engine::notify() { impl_->queue_changed(); }

void Engine::on_store_change(const std::string& id, const std::string& state) {
    auto& i = *impl_;
    if (state == "pauses") {  // a node paused or resumed: every node follows the store
        try {
            i.apply_shared_pauses();
        } catch (const store::DbUnavailable&) {
            // Applied again when the wake-ups reconnect (they re-read everything).
        }
        return;
    }
    // New work or a job queued again (a retry, a requeue elsewhere): the dispatcher looks now.
    // Other changes do not concern this node's queue: re-reading it for each would cost every
    // node two statements per transition of any node.
    if (state == "queued") i.queue_changed();
    if (!i.shared || !i.machine.is_active(id)) return;
    // This node's own claims and acceptances notify too; only a job leaving the active states
    // while this node still works on it means someone else changed it.
    if (state != "queued" && state != "canceled" && state != "failed" && state != "succeeded")
        return;
    try {
        auto stored = i.store.get(id);
        const Job* mine = i.machine.active_job(id);
        if (!mine || (stored && stored->state == mine->state && stored->node == i.shared->node()))
            return;
        spdlog::info("job {}: {} by another node; its requests here end", id, state);
        i.perform(i.machine.forget(id));
    } catch (const store::DbUnavailable&) {
        // The reconcile after the reconnect settles it.
    }
}

void Engine::add_listener(TransitionListener l) { impl_->listeners.push_back(std::move(l)); }

void Engine::set_state_disk(StateDiskMonitor& disk) {
    auto& i = *impl_;
    i.disk = &disk;
    disk.on_change([&i](bool full) {
        if (full)
            i.machine.set_store_full(true);
        else
            i.space_returned();
    });
}

Result<Job> Engine::cancel(const std::string& id) {
    auto& i = *impl_;
    if (i.disk && i.disk->full()) return i.disk->refusal();  // nothing changes while full
    auto job = i.store.get(id);
    if (!job) return Error{"not_found", "no job " + id};
    auto actions = i.machine.cancel(*job, i.now());
    if (!actions) return actions.error();
    i.perform(*actions);
    if (i.machine.has_unsaved(id) && i.disk) {  // the disk filled under this very write
        Error e = i.disk->refusal();
        e.message = "job " + id + " is canceled, but " + e.message +
                    " so that it can be recorded";
        return e;
    }
    auto after = i.store.get(id);
    if (!after || after->state != JobState::canceled)
        return Error{"conflict", "job " + id + " changed state; try again"};
    i.queue_changed();
    return *after;
}

Result<Job> Engine::retry(const std::string& id) {
    auto& i = *impl_;
    if (i.disk && i.disk->full()) return i.disk->refusal();
    auto job = i.store.get(id);
    if (!job) return Error{"not_found", "no job " + id};
    auto actions = i.machine.retry(*job, i.now());
    if (!actions) return actions.error();
    i.perform(*actions);
    auto after = i.store.get(id);
    if (!after || after->state != JobState::queued)
        return Error{"conflict", "job " + id + " changed state; try again"};
    return *after;
}

Status Engine::pause(const std::string& key) {
    auto& i = *impl_;
    if (!key.empty() && !i.machine.has_key(key))
        return Error{"not_found", "no key named \"" + key + "\""};
    if (i.shared) i.shared->set_paused(key, true);  // every node; throws while unreachable
    if (key.empty()) {
        i.machine.pause_all(true);
    } else if (auto st = i.machine.pause_key(key, true); !st) {
        return st;
    }
    i.save_pauses();
    spdlog::info("paused {}", key.empty() ? "all submissions" : "key " + key);
    return ok_status();
}

Status Engine::resume(const std::string& key, bool budget) {
    auto& i = *impl_;
    if (!key.empty() && !i.machine.has_key(key))
        return Error{"not_found", "no key named \"" + key + "\""};
    if (i.shared) {
        if (key.empty())
            i.shared->clear_paused();
        else
            i.shared->set_paused(key, false);
    }
    if (auto st = i.machine.resume_key(key); !st) return st;
    if (key.empty()) {
        i.machine.pause_all(false);
        if (budget) i.machine.lift_budget();
    }
    i.save_pauses();
    spdlog::info("resumed {}", key.empty() ? "all submissions" : "key " + key);
    i.notify();
    return ok_status();
}

bool Engine::paused() const { return impl_->machine.paused(); }
bool Engine::has_key(const std::string& name) const { return impl_->machine.has_key(name); }

ports::StatusView Engine::status_view() const {
    auto& i = *impl_;
    TimePoint t = i.now();
    auto today = i.store.credits_by_key(day_start_ms(t));
    auto total = i.store.credits_by_key(0);
    ports::StatusView v;
    v.version = GENQ_VERSION;
    v.uptime_s = std::round((t - i.started_at) * 10) / 10;
    v.paused = i.machine.paused();
    v.counts = i.store.counts_by_state();
    for (const auto& snap : i.machine.keys().snapshots(t)) {
        ports::KeyView k;
        k.name = snap.name;
        k.weight = snap.weight;
        k.state = snap.status != KeyStatus::active ? std::string(to_string(snap.status))
                  : snap.locked_until > t         ? "locked"
                  : snap.paused                   ? "paused"
                                                  : "active";
        k.locked_until = snap.locked_until > t ? snap.locked_until : 0;
        k.paused = snap.paused;
        k.requests_in_window = snap.in_window;
        k.requests_per_window = i.settings.limits.requests_per_window;
        k.in_flight = snap.in_flight;
        k.credits_today = today[snap.name];
        k.credits_total = total[snap.name];
        k.balance = i.machine.balance(snap.name);
        v.spent_today += k.credits_today;
        v.keys.push_back(std::move(k));
    }
    v.daily_credits = i.settings.daily_credits;
    v.budget_override = i.machine.budget_lifted();
    if (i.shared) {
        v.node = i.shared->node();
        for (const auto& n : i.shared->nodes())
            v.nodes.push_back({n.name, n.alive, n.heartbeat_age_s, n.generations});
    }
    if (i.disk) {
        v.state_disk.dir = i.disk->dir();
        v.state_disk.full = i.disk->full();
        v.state_disk.since = i.disk->since();
        if (v.state_disk.full) v.state_disk.message = i.disk->refusal().message;
    }
    v.state_disk.unsaved = static_cast<std::int64_t>(i.machine.unsaved_count());
    return v;
}

}  // namespace genq::app
