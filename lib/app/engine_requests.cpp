#include "app/engine_requests.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "app/engine_core.hpp"
#include "app/metrics.hpp"
#include "net/https_client.hpp"
#include "provider/operation.hpp"
#include "store/shared_store.hpp"

namespace genq::app {

namespace asio = boost::asio;
using namespace sched;

RequestDriver::RequestDriver(EngineCore& e) : e_(e) {}
RequestDriver::~RequestDriver() = default;

CallIdentity RequestDriver::identity(const std::string& key) const {
    const auto& s = e_.settings;
    auto it = s.keys.find(key);
    return {it == s.keys.end() ? "" : it->second.first, s.api.client_id,
            s.api.result_form == "json"};
}

void RequestDriver::abort(RequestId id) {
    auto it = signals_.find(id);
    if (it != signals_.end()) it->second->emit(asio::cancellation_type::terminal);
}

// Each request runs with a cancellation slot of its own: cancelling the job stops it at
// once, whatever phase it is in.
void RequestDriver::spawn_request(RequestId id, asio::awaitable<void> task) {
    auto& sig = signals_[id];
    sig = std::make_unique<asio::cancellation_signal>();
    ++e_.tasks;
    auto done = [this, id](std::exception_ptr e) {
        // The signal must outlive the completion that runs through its slot: drop it later.
        asio::post(e_.io, [this, id] { signals_.erase(id); });
        if (e) answer_after_exception(id, e);
        e_.task_ended(nullptr);
    };
    asio::co_spawn(e_.io, std::move(task), asio::bind_cancellation_slot(sig->slot(), done));
}

// An exception escaping a request is a bug (or a dead database, which ends the daemon): the
// machine still hears that the request ended, so its job is retried rather than stuck.
void RequestDriver::answer_after_exception(RequestId id, std::exception_ptr e) {
    std::string what = "unknown exception";
    try {
        std::rethrow_exception(e);
    } catch (const store::DbUnavailable& err) {
        what = err.what();  // the request's job is retried once the store answers again
    } catch (const store::DiskFullError& err) {
        e_.no_space(err.what());
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

// A request ended: the machine decides, and the dispatcher re-plans (a poll may now be due
// sooner than it planned to wake, a key may be free again).
void RequestDriver::answered(RequestId id, const Reply& reply) {
    e_.actions.perform(e_.machine.on_reply(id, reply, e_.now()));
    e_.dispatcher.notify();
}

asio::awaitable<Result<net::HttpResponse>> RequestDriver::send(RequestId id,
                                                               const std::string& key,
                                                               net::HttpRequest req,
                                                               std::string part,
                                                               std::string job_id) {
    req.on_stream_start = [this, id] { e_.machine.on_streaming(id); };
    std::function<bool()> before = [this, id, key, job_id] {
        TimePoint t = e_.now();
        if (!e_.machine.may_send(id, t)) return false;
        if (e_.gate) return reserved(id, key, job_id, t);
        // Written before the bytes go out: a SIGKILL right after the write must not let a
        // restart forget the send and put one request too many into the key's window.
        // Without space the limiter still counts it in memory; only a restart would forget.
        e_.guarded("the limiter's log", [&] {
            e_.store.record_send(key, t);
            e_.store.flush_sends();
        });
        return true;
    };
    TimePoint t0 = e_.now();
    auto res = co_await e_.client.send(std::move(req), std::move(part), std::move(before));
    observe(key, res, e_.now() - t0);
    co_return res;
}

// On a shared store the slot is taken in the store (every node's sends of the key); a
// refusal is a fact for the machine, which sends the request again once the key is free.
bool RequestDriver::reserved(RequestId id, const std::string& key, const std::string& job_id,
                             TimePoint t) {
    auto d = e_.gate->reserve(key, job_id);
    if (e_.shared->reconnects() != e_.seen_reconnects) {
        // Reconnected: nothing goes before the reconcile (a job may be another node's now).
        asio::post(e_.io, [this] {
            try {
                e_.recovery.reconcile_if_reconnected();
            } catch (const store::DbUnavailable&) {
                // Down again: the dispatcher tries on its next turn.
            }
            e_.dispatcher.notify();
        });
        e_.machine.on_send_refused(id, t + 0.05, false, t);
        return false;
    }
    if (d.granted) return true;
    e_.machine.on_send_refused(id, d.until, d.locked_out, t);
    if (d.lost) asio::post(e_.io, [this, job_id] { drop_lost(job_id); });
    return false;
}

// The store says another node holds the job now (it was taken over while this node stalled):
// its requests here end, and nothing of it is written from here.
void RequestDriver::drop_lost(const std::string& job_id) {
    if (!e_.machine.is_active(job_id)) return;
    spdlog::warn("job {}: held by another node now (taken over); dropped here", job_id);
    e_.actions.perform(e_.machine.forget(job_id));
}

void RequestDriver::start_submit(RequestId id, const std::string& job_id) {
    const Job* job = e_.machine.active_job(job_id);
    if (!job) return;
    const auto* op = provider::find_operation(job->kind);
    auto req = submit_request(*job, *op, identity(job->key_name), e_.store);
    if (!req) {
        Reply unsent;
        unsent.transport = req.error();
        answered(id, unsent);
        return;
    }
    spawn_request(id, submit(id, *job, std::move(*req)));
}

void RequestDriver::start_poll(RequestId id, const std::string& job_id) {
    spawn_request(id, poll(id, job_id));
}

void RequestDriver::start_balance(RequestId id, const std::string& key) {
    spawn_request(id, read_credits(id, key));
}

// GCC 12 false positive (-Wmismatched-new-delete, GCC bug 109224): the coroutine frame is
// allocated by Asio's awaitable_frame_base::operator new (aligned_alloc) and freed by its
// matching operator delete (free); GCC pairs the inlined aligned_alloc with the class's
// operator delete and warns. Scoped to this one coroutine.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
asio::awaitable<void> RequestDriver::submit(RequestId id, Job job, net::HttpRequest req) {
    // A cancelled request ends with errc::canceled like any other failure, not with an
    // exception at its next co_await.
    co_await asio::this_coro::throw_if_cancelled(false);
    const auto* op = provider::find_operation(job.kind);
    std::string part = e_.outputs.part_path(job.id);
    bool sync = op->mode == provider::Mode::sync;
    // GCC 12: no temporaries in a co_await statement's arguments; name them first.
    std::string stream_to = sync ? part : std::string();
    auto res = co_await send(id, job.key_name, std::move(req), stream_to, job.id);
    answered(id, read_reply(res, *op, job, true, part));
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic pop
#endif

asio::awaitable<void> RequestDriver::poll(RequestId id, std::string job_id) {
    co_await asio::this_coro::throw_if_cancelled(false);
    const Job* job = e_.machine.active_job(job_id);
    if (!job) co_return;
    Job snapshot = *job;
    const auto* op = provider::find_operation(snapshot.kind);
    std::string part = e_.outputs.part_path(job_id);
    net::HttpRequest req = poll_request(snapshot, *op, identity(snapshot.key_name));
    auto res = co_await send(id, snapshot.key_name, std::move(req), part, job_id);
    if (res || res.error().ec != errc::rate_limited_local) ++e_.metrics.polls;
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
asio::awaitable<void> RequestDriver::read_credits(RequestId id, std::string key) {
    co_await asio::this_coro::throw_if_cancelled(false);
    net::HttpRequest req = balance_request(identity(key));
    std::string no_file;
    std::string no_job;
    auto res = co_await send(id, key, std::move(req), no_file, no_job);
    Result<double> credits = read_balance(res);
    if (credits)
        spdlog::info("key {}: balance {} credits", key, *credits);
    else if (credits.error().ec != errc::canceled)
        spdlog::warn("key {}: balance not read: {}", key, credits.error().message);
    e_.machine.on_balance(id, credits, e_.now());
    e_.dispatcher.notify();  // a key may have become able (or unable) to pay
}

void RequestDriver::observe(const std::string& key, const Result<net::HttpResponse>& res,
                            double dt) {
    if (res) {
        e_.metrics.observe_request(key, res->status, dt);
        e_.metrics.bytes_downloaded += res->body_bytes;
    } else if (res.error().ec != errc::rate_limited_local) {
        e_.metrics.observe_error(key, dt);
    }
}

}  // namespace genq::app
