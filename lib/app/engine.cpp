#include "app/engine.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <random>
#include <spdlog/spdlog.h>

#include "app/metrics.hpp"
#include "app/outputs.hpp"
#include "core/clock.hpp"
#include "core/files.hpp"
#include "net/https_client.hpp"
#include "provider/multipart.hpp"
#include "provider/operation.hpp"
#include "provider/response.hpp"
#include "sched/backoff.hpp"
#include "sched/key_pool.hpp"
#include "sched/poll_planner.hpp"
#include "sched/poll_queue.hpp"
#include "store/database.hpp"
#include "store/job_store.hpp"
#include "store/send_log.hpp"
#include "store/spool.hpp"

namespace genq::app {

namespace asio = boost::asio;
using provider::Outcome;
using store::Job;
using store::JobState;

namespace {

constexpr int kQueueBatch = 32;
constexpr double kIdleRecheck = 30;   // seconds between dispatcher runs when nothing happens
constexpr double kPruneEvery = 60;

// Exceptions escaping a task are bugs: log them loudly; the loop goes on.
void log_task_failure(std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const store::DbError& err) {
        spdlog::critical("database failure: {}; stopping", err.what());
        std::_Exit(1);  // the database is the source of truth; never run on without it
    } catch (const std::exception& err) {
        spdlog::error("internal error in a task: {}", err.what());
    }
}

constexpr std::size_t kHeadBytes = 16;  // enough for every magic number result_file_ext knows

// The first bytes of a file; "" when it cannot be read (the extension then comes from headers).
std::string file_head(const std::string& path) {
    std::string head(kHeadBytes, '\0');
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "";
    ssize_t n = ::read(fd, head.data(), head.size());
    ::close(fd);
    head.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return head;
}

// Credits are whole numbers in practice: "60", not "60.0", in status output.
nlohmann::json credits_json(double credits) {
    if (std::nearbyint(credits) == credits && std::fabs(credits) < 1e15)
        return static_cast<std::int64_t>(credits);
    return credits;
}

std::string param_text(const nlohmann::json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
    if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
    return v.dump();  // floats in their shortest round-trip form, booleans as true/false
}

}  // namespace

struct Engine::Impl {
    Impl(asio::io_context& io_, store::Database& db_, store::JobStore& jobs_, store::Spool& spool_,
         net::HttpsClient& client_, Metrics& metrics_)
        : io(io_), db(db_), jobs(jobs_), spool(spool_), client(client_), metrics(metrics_),
          send_log(db_), outputs("", jobs_), wake(io_), rng(std::random_device{}()) {}

    asio::io_context& io;
    store::Database& db;
    store::JobStore& jobs;
    store::Spool& spool;
    net::HttpsClient& client;
    Metrics& metrics;
    store::SendLog send_log;
    Outputs outputs;

    EngineSettings settings;
    sched::KeyPool keys;
    sched::PollQueue polls;
    sched::PollPlanner planner{10};
    sched::Backoff backoff{2, 300};
    std::map<std::string, Job> active;  // submitting and running jobs
    std::vector<TransitionListener> listeners;
    asio::steady_timer wake;
    std::mt19937_64 rng;
    bool running = false;
    bool dirty = false;
    bool paused = false;
    bool budget_override = false;  // `resume --budget` lifts today's cap
    TimePoint started_at = 0;
    TimePoint last_prune = 0;

    // ---- transitions -------------------------------------------------------------------
    bool transition(Job& job, JobState to, const std::string& detail, bool durable = true) {
        JobState from = job.state;
        if (!jobs.transition(job, to, detail, durable)) return false;
        ++metrics.transitions;
        spdlog::info("job {} {} -> {} key={} {}", job.id, sched::to_string(from),
                     sched::to_string(to), job.key_name.empty() ? "-" : job.key_name, detail);
        for (auto& l : listeners) l(job, from, detail);
        return true;
    }

    void leave_active(const Job& job) {
        if (active.erase(job.id)) keys.add_in_flight(job.key_name, -1);
        polls.remove(job.id);
    }

    void fail(Job& job, const std::string& code, const std::string& message) {
        job.error_code = code;
        job.error_message = message;
        job.finished_at = now_ms();
        job.wait_reason.clear();
        leave_active(job);
        transition(job, JobState::failed, code + ": " + message);
    }

    void requeue(Job& job, TimePoint not_before, const std::string& reason,
                 const std::string& detail) {
        job.not_before_s = not_before;
        job.wait_reason = reason;
        leave_active(job);
        transition(job, JobState::queued, detail);
        notify();
    }

    // A retryable submit failure: back off, or give up after max_attempts.
    void retry_later(Job& job, const std::string& code, const std::string& message) {
        if (job.attempts >= settings.retry.max_attempts) {
            fail(job, code, "gave up after " + std::to_string(job.attempts) +
                                " attempts; last error: " + message);
            return;
        }
        std::uniform_real_distribution<double> u(0, 1);
        double delay = backoff.delay(job.attempts, u(rng));
        requeue(job, now() + delay, "backoff",
                fmt::format("{}: {}; retrying in {:.1f} s", code, message, delay));
    }

    void notify() {
        dirty = true;
        wake.cancel();
    }

    // ---- requests -------------------------------------------------------------------------
    // Counts each wire attempt against the key: the first uses the dispatcher's reservation,
    // a transparent retry must find room in the limiter itself.
    struct SendGuard {
        Impl& self;
        std::string key;
        bool reservation_pending = true;
        bool sent = false;

        bool on_send() {
            TimePoint t = now();
            if (reservation_pending) {
                reservation_pending = false;
                self.keys.commit_send(key, t);
            } else if (!self.keys.try_send_now(key, t)) {
                return false;
            }
            self.send_log.record(key, t);
            sent = true;
            return true;
        }
        void finish() {
            if (reservation_pending) self.keys.release(key);
            reservation_pending = false;
        }
    };

    net::Headers auth_headers(const std::string& key, std::string accept) const {
        auto it = settings.keys.find(key);
        std::string secret = it == settings.keys.end() ? "" : it->second.first;
        return {{"authorization", "Bearer " + secret},
                {"stability-client-id", settings.api.client_id},
                {"stability-client-version", GENQ_VERSION},
                {"accept", std::move(accept)}};
    }

    // What a request that may answer with the result asks for: the raw bytes (op.accept), or
    // the JSON form with base64 when [api] result_form = "json" (some proxies only answer JSON).
    std::string result_accept(const provider::Operation& op) const {
        return settings.api.result_form == "json" ? std::string("application/json") : op.accept;
    }

    Result<net::HttpRequest> submit_request(const Job& job, const provider::Operation& op) {
        auto image = spool.read(job.input_sha256);
        if (!image) return image.error();
        provider::MultipartBuilder mp;
        auto info = provider::read_image_info(*image);
        mp.add_file("image", job.input_name,
                    info ? provider::mime_type(info->format) : "application/octet-stream", *image);
        if (!job.mask_sha256.empty()) {
            auto mask = spool.read(job.mask_sha256);
            if (!mask) return mask.error();
            auto minfo = provider::read_image_info(*mask);
            mp.add_file("mask", "mask", minfo ? provider::mime_type(minfo->format) : "image/png",
                        *mask);
        }
        for (const auto& [name, value] : job.params.items()) mp.add_field(name, param_text(value));
        net::HttpRequest req;
        req.method = "POST";
        req.target = op.submit_path;
        req.headers = auth_headers(job.key_name, op.mode == provider::Mode::sync
                                                     ? result_accept(op)
                                                     : std::string("application/json"));
        req.headers.emplace_back("content-type", mp.content_type());
        req.body = mp.finish();
        return req;
    }

    void observe(const std::string& key, const Result<net::HttpResponse>& res, TimePoint t0) {
        double dt = now() - t0;
        if (res) {
            metrics.observe_request(key, res->status, dt);
            metrics.bytes_downloaded += res->body_bytes;
        } else if (res.error().code != "rate_limited_local") {
            metrics.observe_error(key, dt);
        }
    }

    asio::awaitable<void> submit(std::string id) {
        auto it = active.find(id);
        if (it == active.end()) co_return;
        Job job = it->second;
        SendGuard guard{*this, job.key_name};
        const provider::Operation* op = provider::find_operation(job.kind);
        auto req = submit_request(job, *op);
        if (!req) {
            guard.finish();
            fail(job, "spool_error", req.error().message);
            co_return;
        }
        bool sync = op->mode == provider::Mode::sync;
        std::string part = sync ? outputs.part_path(job.id) : std::string();
        std::function<bool()> before = [&guard] { return guard.on_send(); };
        TimePoint t0 = now();
        auto res = co_await client.send(std::move(*req), part, std::move(before));
        guard.finish();
        observe(job.key_name, res, t0);
        if (!running) co_return;
        it = active.find(id);
        if (it == active.end()) {  // canceled while the request was under way
            ::unlink(part.c_str());
            co_return;
        }
        job = it->second;
        on_submit_answer(job, *op, res, part);
    }

    void on_submit_answer(Job& job, const provider::Operation& op,
                          const Result<net::HttpResponse>& res, const std::string& part) {
        if (!res) {
            if (res.error().code != "canceled")
                retry_later(job, res.error().code, res.error().message);
            return;
        }
        auto c = provider::classify_submit(res->status, res->body,
                                           op.mode == provider::Mode::sync);
        switch (c.outcome) {
            case Outcome::accepted:
                job.remote_id = c.remote_id;
                if (transition(job, JobState::running, "accepted, generation " + c.remote_id)) {
                    active[job.id] = job;
                    schedule_poll(job, planner.first_poll(now()));
                }
                return;
            case Outcome::result:
                finish(job, op, *res, part);
                return;
            default:
                on_refusal(job, c, res->status);
        }
    }

    // The key-level answers (429, 401, 402) are not the job's fault: its attempt is given back.
    bool on_key_answer(Job& job, const provider::Classified& c) {
        const std::string& key = job.key_name;
        if (c.outcome == Outcome::rate_limited) {
            keys.on_rate_limited(key, now());
            TimePoint until = now() + settings.limits.lockout;
            send_log.save_lockout(key, until);
            ++metrics.lockouts[key];
            spdlog::warn("key {}: provider answered 429 ({}); resting {:.0f} s", key, c.error_code,
                         settings.limits.lockout);
            return true;
        }
        if (c.outcome == Outcome::unauthorized || c.outcome == Outcome::out_of_credits) {
            auto st = c.outcome == Outcome::unauthorized ? sched::KeyStatus::unauthorized
                                                         : sched::KeyStatus::out_of_credits;
            keys.set_status(key, st);
            spdlog::error("key {}: provider answered {} ({}); no new work for this key until "
                          "reload{}",
                          key, c.outcome == Outcome::unauthorized ? 401 : 402, c.error_code,
                          st == sched::KeyStatus::out_of_credits ? " or resume" : "");
            return true;
        }
        return false;
    }

    void on_refusal(Job& job, const provider::Classified& c, int status) {
        if (on_key_answer(job, c)) {
            --job.attempts;
            TimePoint when = c.outcome == Outcome::rate_limited ? now() + settings.limits.lockout
                                                                : 0;
            requeue(job, when, "key",
                    fmt::format("http {} {} on key {}; requeued", status, c.error_code,
                                job.key_name));
            return;
        }
        if (c.outcome == Outcome::retryable) {
            retry_later(job, c.error_code, c.error_message);
            return;
        }
        fail(job, c.error_code, c.error_message);
    }

    asio::awaitable<void> poll(std::string id, std::string key) {
        auto it = active.find(id);
        SendGuard guard{*this, key};
        if (it == active.end()) {
            guard.finish();
            co_return;
        }
        Job job = it->second;
        const std::string remote_id = job.remote_id;
        const provider::Operation* op = provider::find_operation(job.kind);
        net::HttpRequest req;
        req.target = op->result_prefix + job.remote_id;
        req.headers = auth_headers(key, result_accept(*op));
        std::string part = outputs.part_path(job.id);
        std::function<bool()> before = [&guard] { return guard.on_send(); };
        TimePoint t0 = now();
        auto res = co_await client.send(std::move(req), part, std::move(before));
        guard.finish();
        observe(key, res, t0);
        if (guard.sent) ++metrics.polls;
        if (!running) co_return;
        it = active.find(id);
        // Canceled meanwhile (or canceled and retried: a different generation now).
        if (it == active.end() || it->second.remote_id != remote_id) {
            ::unlink(part.c_str());
            co_return;
        }
        job = it->second;
        if (guard.sent) ++job.polls;
        on_poll_answer(job, *op, res, part);
    }

    void poll_again(Job& job, TimePoint at) {
        job.updated_at = now_ms();
        jobs.save_progress(job, false);
        active[job.id] = job;
        schedule_poll(job, at);
    }

    // The dispatcher may be asleep until later than `at`: wake it to re-plan.
    void schedule_poll(const Job& job, TimePoint at) {
        polls.schedule(job.key_name, job.id, at);
        notify();
    }

    void on_poll_answer(Job& job, const provider::Operation& op,
                        const Result<net::HttpResponse>& res, const std::string& part) {
        TimePoint next = planner.next_poll(now());
        if (!res) {
            ::unlink(part.c_str());
            if (res.error().code == "canceled") return;
            spdlog::warn("job {} poll failed: {}: {}", job.id, res.error().code,
                         res.error().message);
            poll_again(job, next);
            return;
        }
        auto c = provider::classify_poll(res->status, res->body);
        if (c.outcome == Outcome::result) {
            finish(job, op, *res, part);
            return;
        }
        ::unlink(part.c_str());
        if (c.outcome == Outcome::in_progress || c.outcome == Outcome::retryable) {
            if (c.outcome == Outcome::retryable)
                spdlog::warn("job {} poll: http {} {}", job.id, res->status, c.error_code);
            poll_again(job, next);
        } else if (on_key_answer(job, c)) {
            poll_again(job, std::max(next, keys.next_send_time(job.key_name, now())));
        } else {
            fail(job, c.error_code, c.error_message);
        }
    }

    // A result arrived (raw bytes in `part`, or JSON with base64 in the body).
    void finish(Job& job, const provider::Operation& op, const net::HttpResponse& res,
                const std::string& part) {
        job.finish_reason = std::string(res.header("finish-reason"));
        job.seed = std::string(res.header("seed"));
        std::string head;  // the result's first bytes: the file is named after what arrived
        if (res.body_file.empty()) {
            auto json = provider::parse_json_result(res.body, op.json_result_field);
            auto written = json ? write_file_durably(part, json->data)
                                : Status(Error{"bad_result", "the result could not be decoded"});
            if (!written) {
                result_not_saved(job, op, written.error());
                return;
            }
            head = json->data.substr(0, kHeadBytes);
            job.finish_reason = json->finish_reason;
            job.seed = json->seed;
        } else {
            head = file_head(part);
        }
        std::string ext =
            provider::result_file_ext(op, job.params, res.header("content-type"), head);
        if (job.finish_reason.empty()) job.finish_reason = "SUCCESS";
        job.cost = op.price_credits;
        job.finished_at = now_ms();
        job.wait_reason.clear();
        auto placed = outputs.place(job, part, ext, [](const Job& j) {
            Job final_view = j;
            final_view.state = JobState::succeeded;
            return store::to_json(final_view).dump(2, ' ', false,
                                                    nlohmann::json::error_handler_t::replace) +
                   "\n";
        });
        if (!placed) {
            job.cost = 0;
            job.finished_at.reset();
            result_not_saved(job, op, placed.error());
            return;
        }
        complete(job, op, false);
    }

    // `write_meta`: the metadata file still has to be written (recovery after a crash that
    // came between the rename and the commit).
    void complete(Job& job, const provider::Operation& op, bool write_meta) {
        job.cost = op.price_credits;
        if (!job.finished_at) job.finished_at = now_ms();
        job.wait_reason.clear();
        Job final_view = job;
        final_view.state = JobState::succeeded;
        if (write_meta) {
            if (auto meta = outputs.write_metadata(final_view); !meta)
                spdlog::warn("job {}: metadata not written: {}", job.id, meta.error().message);
        }
        leave_active(job);
        transition(job, JobState::succeeded,
                   "saved " + job.output + " (" + job.finish_reason + ")");
    }

    // Disk full or similar: an async result is fetched again later (it lives 24 h at the
    // provider); a sync result cannot be, so the job is retried as a submission.
    void result_not_saved(Job& job, const provider::Operation& op, const Error& e) {
        spdlog::error("job {}: result not saved: {}", job.id, e.message);
        ::unlink(outputs.part_path(job.id).c_str());
        if (op.mode == provider::Mode::async) {
            poll_again(job, planner.next_poll(now()) + backoff.ceiling(job.polls));
            return;
        }
        retry_later(job, e.code, e.message);
    }

    // ---- dispatch -------------------------------------------------------------------------
    void spawn(asio::awaitable<void> task) { asio::co_spawn(io, std::move(task), log_task_failure); }

    TimePoint dispatch_polls(TimePoint now_s) {
        TimePoint next = now_s + kIdleRecheck;
        for (const auto& key : keys.names()) {
            while (auto top = polls.peek(key)) {
                TimePoint ready = std::max(top->first, keys.next_send_time(key, now_s));
                if (ready > now_s) {
                    next = std::min(next, ready);
                    break;
                }
                std::string id = top->second;
                polls.pop(key);
                keys.reserve(key, now_s);
                spawn(poll(id, key));
            }
        }
        return next;
    }

    bool over_budget(const Job& job) {
        if (settings.daily_credits <= 0 || budget_override) return false;
        const auto* op = provider::find_operation(job.kind);
        std::int64_t day_start = static_cast<std::int64_t>(std::floor(now() / 86400) * 86400000);
        std::int64_t spent = 0;
        for (const auto& [k, v] : jobs.credits_by_key(day_start)) spent += v;
        for (const auto& [id, j] : active) {  // what is under way will be charged if it succeeds
            const auto* aop = provider::find_operation(j.kind);
            spent += aop ? aop->price_credits : 0;
        }
        return spent + (op ? op->price_credits : 0) > settings.daily_credits;
    }

    TimePoint dispatch_submits(TimePoint now_s) {
        TimePoint next = now_s + kIdleRecheck;
        if (paused) return next;
        if (TimePoint wake_at = jobs.next_queued_wake(now_s); wake_at > 0)
            next = std::min(next, wake_at);
        for (;;) {
            TimePoint key_ready = keys.next_submit_time(now_s);
            auto batch = jobs.next_queued(now_s, kQueueBatch);
            if (batch.empty()) break;
            if (key_ready > now_s) {
                next = std::min(next, key_ready);
                break;
            }
            int placed = 0;
            for (Job& job : batch) placed += try_submit(job, now_s) ? 1 : 0;
            if (placed == 0) {
                next = std::min(next, now_s + 1);  // held by requested keys or the budget
                break;
            }
        }
        return next;
    }

    bool try_submit(Job& job, TimePoint now_s) {
        if (over_budget(job)) {
            if (job.wait_reason != "budget") {
                job.wait_reason = "budget";
                jobs.save_progress(job, false);
            }
            return false;
        }
        auto key = keys.choose_for_submit(now_s, job.requested_key);
        if (!key) return false;
        job.key_name = *key;
        ++job.attempts;
        job.wait_reason.clear();
        job.error_code.clear();
        job.error_message.clear();
        // Relaxed: if a power cut loses this commit the job is simply queued again, which is
        // what an interrupted submission becomes anyway; a killed process keeps it.
        if (!transition(job, JobState::submitting,
                        fmt::format("attempt {} with key {}", job.attempts, *key), false))
            return false;
        keys.reserve(*key, now_s);
        keys.add_in_flight(*key, 1);
        active[job.id] = job;
        spawn(submit(job.id));
        return true;
    }

    asio::awaitable<void> dispatch_loop() {
        while (running) {
            TimePoint t = now();
            if (t - last_prune > kPruneEvery) {
                send_log.prune(t - 2 * settings.limits.window - 2 * settings.limits.safety_margin);
                last_prune = t;
            }
            dirty = false;
            TimePoint next = std::min(dispatch_polls(t), dispatch_submits(t));
            if (dirty) continue;
            double delay = std::clamp(next - now(), 0.0, kIdleRecheck);
            wake.expires_after(std::chrono::microseconds(static_cast<std::int64_t>(delay * 1e6)));
            boost::system::error_code ec;
            co_await wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
    }

    // ---- start-up -------------------------------------------------------------------------
    void recover() {
        int requeued = jobs.requeue_unknown_submissions();
        if (requeued) spdlog::warn("{} interrupted submission(s) requeued", requeued);
        TimePoint t = now();
        for (Job& job : jobs.in_state(JobState::running)) {
            if (!keys.has(job.key_name)) {
                spdlog::warn("job {} runs on key {} which is no longer configured; it waits",
                             job.id, job.key_name);
                continue;
            }
            active[job.id] = job;
            keys.add_in_flight(job.key_name, 1);
            if (!job.output.empty() && ::access(job.output.c_str(), F_OK) == 0) {
                // Renamed into place before the crash, not yet committed: finish it.
                complete(job, *provider::find_operation(job.kind), true);
                continue;
            }
            job.output.clear();
            ::unlink(outputs.part_path(job.id).c_str());
            // A poll may have been under way at the crash, its answer still to come: wait a
            // whole interval plus at least a second for that answer (a slow provider).
            polls.schedule(job.key_name, job.id,
                           planner.next_poll(t) + std::max(settings.limits.safety_margin, 1.0));
        }
    }

    void restore_limiter() {
        TimePoint t = now();
        double span = settings.limits.window + settings.limits.safety_margin;
        for (const auto& name : keys.names()) {
            keys.restore_sends(name, send_log.since(name, t - span));
            TimePoint until = send_log.lockout(name);
            if (until > t) keys.set_locked_until(name, until);
        }
    }
};

Engine::Engine(asio::io_context& io, store::Database& db, store::JobStore& jobs,
               store::Spool& spool, net::HttpsClient& client, Metrics& metrics)
    : impl_(std::make_unique<Impl>(io, db, jobs, spool, client, metrics)) {}

Engine::~Engine() = default;

void Engine::configure(EngineSettings s) {
    auto& i = *impl_;
    sched::KeyLimits limits;
    limits.requests_per_window = s.limits.requests_per_window;
    limits.window = s.limits.window + s.limits.safety_margin;
    limits.lockout = s.limits.lockout;
    limits.max_in_flight = s.limits.max_in_flight;
    std::vector<sched::KeySpec> specs;
    for (const auto& [name, secret_weight] : s.keys) specs.push_back({name, secret_weight.second});
    i.keys.configure(limits, specs);
    // In-flight counts are derived from the active jobs, so they survive reconfiguration.
    for (const auto& name : i.keys.names()) i.keys.add_in_flight(name, -1000000);
    for (const auto& [id, job] : i.active) i.keys.add_in_flight(job.key_name, 1);
    i.planner.set_interval(s.limits.poll_interval);
    i.backoff = sched::Backoff(s.retry.base_delay, s.retry.max_delay);
    i.outputs.set_dir(s.output_dir);
    i.settings = std::move(s);
    i.budget_override = false;
    if (i.running) i.notify();
}

void Engine::start() {
    auto& i = *impl_;
    i.started_at = now();
    i.restore_limiter();
    i.recover();
    i.running = true;
    i.spawn(i.dispatch_loop());
}

void Engine::stop() {
    impl_->running = false;
    impl_->wake.cancel();
    impl_->client.cancel_all();
}

void Engine::notify() { impl_->notify(); }

void Engine::add_listener(TransitionListener l) { impl_->listeners.push_back(std::move(l)); }

Result<Job> Engine::cancel(const std::string& id) {
    auto& i = *impl_;
    auto job = i.jobs.get(id);
    if (!job) return Error{"not_found", "no job " + id};
    if (sched::is_terminal(job->state))
        return Error{"conflict", "job " + id + " is already " +
                                     std::string(sched::to_string(job->state))};
    std::string detail = job->state == JobState::running
                             ? "canceled by request; remote generation " + job->remote_id +
                                   " abandoned"
                             : "canceled by request";
    job->finished_at = now_ms();
    job->wait_reason.clear();
    i.leave_active(*job);
    if (!i.transition(*job, JobState::canceled, detail))
        return Error{"conflict", "job " + id + " changed state; try again"};
    i.notify();
    return *job;
}

Result<Job> Engine::retry(const std::string& id) {
    auto& i = *impl_;
    auto job = i.jobs.get(id);
    if (!job) return Error{"not_found", "no job " + id};
    if (job->state != JobState::failed && job->state != JobState::canceled)
        return Error{"conflict", "only failed or canceled jobs can be retried; job " + id +
                                     " is " + std::string(sched::to_string(job->state))};
    job->attempts = 0;
    job->polls = 0;
    job->remote_id.clear();
    job->key_name.clear();
    job->error_code.clear();
    job->error_message.clear();
    job->finished_at.reset();
    job->output.clear();
    job->not_before_s = 0;
    if (!i.transition(*job, JobState::queued, "retry requested"))
        return Error{"conflict", "job " + id + " changed state; try again"};
    i.notify();
    return *job;
}

Status Engine::pause(const std::string& key) {
    auto& i = *impl_;
    if (key.empty()) {
        i.paused = true;
    } else {
        if (!i.keys.has(key)) return Error{"not_found", "no key named \"" + key + "\""};
        i.keys.set_paused(key, true);
    }
    spdlog::info("paused {}", key.empty() ? "all submissions" : "key " + key);
    return ok_status();
}

Status Engine::resume(const std::string& key, bool budget) {
    auto& i = *impl_;
    if (key.empty()) {
        i.paused = false;
        if (budget) i.budget_override = i.settings.daily_credits > 0;
        for (const auto& name : i.keys.names()) {
            i.keys.set_paused(name, false);
            auto snap = i.keys.snapshot(name, now());
            if (snap && snap->status == sched::KeyStatus::out_of_credits)
                i.keys.set_status(name, sched::KeyStatus::active);
        }
    } else {
        if (!i.keys.has(key)) return Error{"not_found", "no key named \"" + key + "\""};
        i.keys.set_paused(key, false);
        auto snap = i.keys.snapshot(key, now());
        if (snap && snap->status == sched::KeyStatus::out_of_credits)
            i.keys.set_status(key, sched::KeyStatus::active);
    }
    spdlog::info("resumed {}", key.empty() ? "all submissions" : "key " + key);
    i.notify();
    return ok_status();
}

bool Engine::paused() const { return impl_->paused; }
bool Engine::has_key(const std::string& name) const { return impl_->keys.has(name); }

nlohmann::json Engine::status_json() const {
    auto& i = *impl_;
    TimePoint t = now();
    std::int64_t day_start = static_cast<std::int64_t>(std::floor(t / 86400) * 86400000);
    auto today = i.jobs.credits_by_key(day_start);
    auto total = i.jobs.credits_by_key(0);
    nlohmann::json keys = nlohmann::json::array();
    std::int64_t spent_today = 0;
    for (const auto& snap : i.keys.snapshots(t)) {
        spent_today += today[snap.name];
        keys.push_back({
            {"name", snap.name},
            {"weight", snap.weight},
            {"state", snap.status != sched::KeyStatus::active ? std::string(to_string(snap.status))
                      : snap.locked_until > t                 ? std::string("locked")
                      : snap.paused                           ? std::string("paused")
                                                              : std::string("active")},
            {"locked_until", snap.locked_until > t
                                 ? nlohmann::json(iso8601_ms(static_cast<std::int64_t>(
                                       snap.locked_until * 1000)))
                                 : nlohmann::json(nullptr)},
            {"paused", snap.paused},
            {"requests_in_window", snap.in_window},
            {"requests_per_window", i.settings.limits.requests_per_window},
            {"in_flight", snap.in_flight},
            {"credits_today", today[snap.name]},
            {"credits_total", total[snap.name]},
        });
    }
    return {{"version", GENQ_VERSION},
            {"uptime_s", std::round((t - i.started_at) * 10) / 10},
            {"paused", i.paused},
            {"counts", i.jobs.counts_by_state()},
            {"keys", keys},
            {"budget",
             {{"daily_credits", credits_json(i.settings.daily_credits)},
              {"spent_today", spent_today},
              {"override", i.budget_override}}}};
}

}  // namespace genq::app
