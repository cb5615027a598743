#include "app/daemon.hpp"

#include <sys/file.h>
#include <time.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <spdlog/spdlog.h>

#include "api/control_api.hpp"
#include "app/config_check.hpp"
#include "app/engine.hpp"
#include "app/state_disk.hpp"
#include "app/engine_control.hpp"
#include "app/intake.hpp"
#include "app/loop_lag_probe.hpp"
#include "app/metrics.hpp"
#include "app/job_wakeups.hpp"
#include "app/node_duties.hpp"
#include "app/retention_driver.hpp"
#include "app/status_line.hpp"
#include "core/files.hpp"
#include "core/key_advice.hpp"
#include "core/logging.hpp"
#include "net/http_server.hpp"
#include "net/https_client.hpp"
#include "core/clock.hpp"
#include "core/offset_clock.hpp"
#include "store/database.hpp"
#include "store/migrations.hpp"
#include "store/pg_queue_store.hpp"
#include "store/sqlite_queue_store.hpp"
#include "watch/watcher.hpp"

namespace genq::app {

namespace asio = boost::asio;

namespace {

struct StartupError {
    int exit_code;
    std::string message;
};

// Secrets for every configured key; a key that cannot be read is a configuration error.
Result<EngineSettings> engine_settings(const Config& c, const Environment& env) {
    EngineSettings s;
    s.limits = c.limits;
    s.retry = c.retry;
    s.api = c.api;
    s.output_dir = c.output_dir;
    s.daily_credits = c.daily_credits;
    for (const auto& k : c.keys) {
        auto secret = load_key_secret(k, env);
        if (!secret) return Error{secret.error().code, key_problem_report(k, secret.error())};
        s.keys[k.name] = {*secret, k.weight};
    }
    return s;
}

// One genqd per state directory: an flock held for the life of the process (released by the
// kernel even after SIGKILL).
Result<int> lock_state_dir(const std::string& dir) {
    std::string path = dir + "/genq.lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Error{"io_error", "cannot open " + path + ": " + errno_text(errno)};
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return Error{"locked", "another genqd is already using the state directory " + dir};
    }
    return fd;
}

class Daemon {
public:
    Daemon(ConfigLocation where, Environment env, Config config)
        : where_(std::move(where)), env_(std::move(env)), config_(std::move(config)),
          signals_(io_, SIGINT, SIGTERM, SIGHUP), watchdog_(io_), status_timer_(io_) {}

    int run() {
        if (auto st = open_state(); !st) return fail(1, st.error().message);
        auto settings = engine_settings(config_, env_);
        if (!settings) return fail(2, settings.error().message);
        if (auto st = start_services(std::move(*settings)); !st)
            return fail(1, st.error().message);
        wait_signals();
        start_watchdog();
        report_status();
        if (duties_) duties_->start();
        if (wakeups_) wakeups_->start();
        ::sd_notify(0, "READY=1");
        spdlog::info("genqd {} ready: socket {}, state {}, {} key(s)", GENQ_VERSION,
                     config_.socket, config_.state_dir, config_.keys.size());
        io_.run();
        spdlog::info("genqd stopped");
        return 0;
    }

private:
    int fail(int code, const std::string& message) {
        spdlog::critical("{}", message);
        ::sd_notifyf(0, "STATUS=%s", message.c_str());
        return code;
    }

    Status open_state() {
        for (const auto& dir : {config_.state_dir, config_.output_dir})
            if (auto st = make_dirs(dir); !st) return st;
        auto lock = lock_state_dir(config_.state_dir);
        if (!lock) return lock.error();
        lock_fd_ = *lock;
        if (config_.store.shared()) return open_shared_store();
        auto store = store::SqliteQueueStore::open(config_.state_dir);
        if (!store) return store.error();
        watch_db_ = &(*store)->database();
        store_ = std::move(*store);
        return ok_status();
    }

    // The clock the engine and the shared store decide with: the system's, or for the
    // multi-node tests one off by GENQ_TEST_CLOCK_OFFSET_S seconds (a node whose clock
    // disagrees with the others'; see core/offset_clock.hpp). Never set it in production.
    static const Clock& node_clock() {
        static const OffsetClock* skewed = [] () -> const OffsetClock* {
            const char* v = std::getenv("GENQ_TEST_CLOCK_OFFSET_S");
            if (!v || !*v) return nullptr;
            char* end = nullptr;
            double s = std::strtod(v, &end);
            if (*end != '\0' || !std::isfinite(s)) {
                spdlog::error("GENQ_TEST_CLOCK_OFFSET_S={} is not a number of seconds; ignored", v);
                return nullptr;
            }
            spdlog::warn("GENQ_TEST_CLOCK_OFFSET_S: this node's clock runs {} s off the system's "
                         "(a test-only setting)", s);
            return new OffsetClock(system_clock(), s);
        }();
        return skewed ? static_cast<const Clock&>(*skewed) : system_clock();
    }

    // The queue in PostgreSQL (SPEC §11); this node's watched folders keep their own table in
    // <state_dir>/watch.db (they are the node's own, as its config is).
    Status open_shared_store() {
        auto password = load_store_password(config_.store);
        if (!password) return password.error();
        store_password_ = *password;
        auto pg = store::PgQueueStore::open(
            {config_.store.url, *password, config_.store.node, config_.store.lease, &node_clock()});
        if (!pg) return pg.error();
        spdlog::info("shared store: PostgreSQL, node {}, schema version {}", config_.store.node,
                     (*pg)->schema_version());
        pg_ = pg->get();
        store_ = std::move(*pg);
        auto db = store::Database::open(config_.state_dir + "/watch.db");
        if (!db) return db.error();
        if (auto st = store::migrate(**db); !st) return st.error();
        own_watch_db_ = std::move(*db);
        watch_db_ = own_watch_db_.get();
        return ok_status();
    }

    Status start_services(EngineSettings settings) {
        net::ClientOptions copts;
        copts.base_url = config_.api.base_url;
        copts.ca_file = config_.api.ca_file;
        copts.timeout = config_.api.timeout;
        auto client = net::HttpsClient::create(io_, copts);
        if (!client) return client.error();
        client_ = std::move(*client);
        engine_ = std::make_unique<Engine>(io_, *store_, *client_, metrics_, node_clock());
        if (pg_) {
            engine_->share(*pg_);
            duties_ = std::make_unique<NodeDuties>(io_, *pg_, *engine_);
            wakeups_ = std::make_unique<JobWakeups>(io_, config_.store.url, store_password_,
                                                    *engine_);
        }
        engine_->configure(std::move(settings));
        state_disk_ = std::make_unique<StateDiskMonitor>(io_, config_.state_dir, system_clock());
        engine_->set_state_disk(*state_disk_);
        if (pg_) state_disk_->add_probe([this] { return pg_->has_room(); });
        intake_ = std::make_unique<Intake>(
            *store_, [this](const std::string& k) { return engine_->has_key(k); },
            [this](const store::Job& job) {
                engine_->notify();
                publish_created(job);
            });
        intake_->set_state_disk(state_disk_.get());
        // Submissions are committed in groups, at the end of the loop turn they arrived in.
        auto defer = [this](std::function<void()> f) { asio::post(io_, std::move(f)); };
        control_ = std::make_unique<EngineControl>(*engine_, [this] { return reload(); });
        retention_ = std::make_unique<RetentionDriver>(io_, *store_, system_clock());
        api_ = std::make_unique<api::ControlApi>(
            api::ApiContext{*intake_, *store_, *store_, *control_, metrics_, config_.output_dir,
                            defer, *retention_});
        if (auto st = start_servers(); !st) return st;
        engine_->add_listener([this](const Job& job, JobState from,
                                     const std::string& detail) {
            publish_transition(job, from, detail);
        });
        engine_->start();
        lag_probe_ = std::make_unique<LoopLagProbe>(io_, metrics_.loop_lag);
        lag_probe_->start();
        retention_->configure(config_.retention);
        start_watches();
        return ok_status();
    }

    // Watched folders share the loop; a folder that cannot be used is logged, never fatal.
    void start_watches() {
        watcher_ = std::make_unique<watch::Watcher>(io_, *watch_db_, *store_, *intake_);
        watcher_->set_state_disk(*state_disk_);
        state_disk_->on_change([this](bool full) {
            report_now();
            if (full || !watches_pending_ || stopping_) return;
            watches_pending_ = false;
            asio::post(io_, [this] { configure_watches(); });
        });
        engine_->add_listener(
            [this](const Job& job, JobState from, const std::string&) {
                watcher_->on_transition(job, from);
            });
        configure_watches();
    }

    // Starting a watch records what it finds; on a full state disk that waits for the space.
    void configure_watches() {
        try {
            watcher_->configure(config_.watches);
        } catch (const store::DiskFullError& e) {
            state_disk_->no_space(std::string("watched folders: ") + e.what());
            watches_pending_ = true;  // configured again once space returns
        }
    }

    Status start_servers() {
        net::ServerOptions sopts;
        sopts.tcp_token = config_.http.token;
        auto handler = [this](const net::ServerRequest& r) { return api_->handle(r); };
        server_ = net::ControlServer::create(io_, sopts, handler);
        if (::sd_listen_fds(1) >= 1 && ::sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1,
                                                           nullptr, 0) > 0) {
            if (auto st = server_->adopt_unix(SD_LISTEN_FDS_START); !st) return st;
            spdlog::info("control socket from systemd (socket activation)");
        } else if (auto st = server_->listen_unix(config_.socket, config_.socket_mode,
                                                  config_.socket_group);
                   !st) {
            return st;
        }
        if (!config_.http.listen.empty()) {
            if (auto st = server_->listen_tcp(config_.http.listen); !st) return st;
            spdlog::info("HTTP API listening on {}", config_.http.listen);
        }
        return ok_status();
    }

    void publish_transition(const Job& job, JobState from,
                            const std::string& detail) {
        publish_job(job, to_string(from), detail);
    }

    // A new job is an event too (from null to queued), so a subscriber sees a job's whole life.
    void publish_created(const Job& job) {
        if (server_) publish_job(job, nullptr, "accepted from " + job.source);
    }

    // Built only for a subscriber: with none, the JSON of every transition was pure cost.
    void publish_job(const Job& job, nlohmann::json from, const std::string& detail) {
        if (!server_ || !server_->has_subscribers()) return;
        nlohmann::json ev = to_json(job);
        ev["from"] = std::move(from);
        ev["detail"] = detail;
        server_->publish("job", ev.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }

    Status reload() {
        auto load = load_checked_config(where_, env_);
        if (!load.problems.empty()) {
            std::string msg = "configuration not reloaded:";
            for (const auto& p : load.problems) {
                msg += "\n  " + p.to_string();
                // One log line per problem: journald reads a priority prefix per line.
                spdlog::error("configuration not reloaded, keeping the running one: {}",
                              p.to_string());
            }
            return Error{"invalid_config", msg};
        }
        auto settings = engine_settings(load.config, env_);
        if (!settings) {
            spdlog::error("configuration not reloaded, keeping the running one: {}",
                          settings.error().message);
            return Error{"invalid_config", settings.error().message};
        }
        set_log_level(load.config.log_level);
        engine_->configure(std::move(*settings));
        keep_restart_only(load.config);
        load.config.store = config_.store;  // changing the store needs a restart too
        config_ = std::move(load.config);
        api_->set_output_dir(config_.output_dir);
        configure_watches();
        retention_->configure(config_.retention);
        spdlog::info("configuration reloaded from {}", where_.path);
        return ok_status();
    }

    // What the running daemon cannot change in place (its database, its sockets) is refused
    // explicitly, one warning per key, and keeps its running value until a restart.
    void keep_restart_only(Config& next) {
        auto keep = [](const char* name, auto& now, const auto& running, const std::string& shown,
                       const std::string& wanted) {
            if (now == running) return;
            spdlog::warn("reload: {} changed (\"{}\" -> \"{}\"): not applied, needs a restart; "
                         "keeping \"{}\"",
                         name, shown, wanted, shown);
            now = running;
        };
        keep("state_dir", next.state_dir, config_.state_dir, config_.state_dir, next.state_dir);
        keep("socket", next.socket, config_.socket, config_.socket, next.socket);
        keep("socket_group", next.socket_group, config_.socket_group, config_.socket_group,
             next.socket_group);
        keep("socket_mode", next.socket_mode, config_.socket_mode,
             std::to_string(config_.socket_mode), std::to_string(next.socket_mode));
        keep("[http] listen", next.http.listen, config_.http.listen, config_.http.listen,
             next.http.listen);
        keep("[http] token", next.http.token, config_.http.token, "(hidden)", "(hidden)");
    }

    void wait_signals() {
        signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
            if (ec) return;
            if (sig == SIGHUP) {
                // MONOTONIC_USEC: systemd >= 253 (Type=notify-reload) wants it with RELOADING=1.
                struct timespec ts {};
                ::clock_gettime(CLOCK_MONOTONIC, &ts);
                ::sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
                             static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
                                 static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL);
                (void)reload();
                ::sd_notify(0, "READY=1");
                wait_signals();
                return;
            }
            spdlog::info("signal {}: stopping", sig);
            ::sd_notify(0, "STOPPING=1");
            stop();
        });
    }

    // Stop taking work first (no new connections, no new files), let the engine end its
    // requests within the grace, then close what is left; io_.run() returns once every task has
    // ended on its own.
    void stop() {
        if (stopping_) return;
        stopping_ = true;
        server_->stop();
        watcher_->stop();
        if (state_disk_) state_disk_->stop();
        signals_.cancel();
        watchdog_.cancel();
        status_timer_.cancel();
        if (lag_probe_) lag_probe_->stop();
        if (duties_) duties_->stop();
        if (wakeups_) wakeups_->stop();
        retention_->stop();
        engine_->stop(config_.stop_grace, [this] {
            client_->cancel_all();
            last_resort_.cancel();
        });
        // A safety net, not the way out: if something still holds the loop well after the
        // grace, say so and end it rather than wait for systemd's SIGKILL.
        last_resort_.expires_after(std::chrono::milliseconds(
            static_cast<std::int64_t>((config_.stop_grace + 3) * 1000)));
        last_resort_.async_wait([this](const boost::system::error_code& ec) {
            if (ec) return;
            spdlog::error("shutdown: work still pending {:.0f} s after the stop began; ending it",
                          config_.stop_grace + 3);
            io_.stop();
        });
    }

    // WATCHDOG=1 from the event loop itself: a loop stuck for longer than WatchdogSec gets
    // genqd killed by systemd.
    void start_watchdog() {
        std::uint64_t usec = 0;
        if (::sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
        watchdog_period_ = std::chrono::microseconds(usec / 2);
        kick_watchdog();
    }

    void kick_watchdog() {
        ::sd_notify(0, "WATCHDOG=1");
        watchdog_.expires_after(watchdog_period_);
        watchdog_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) kick_watchdog();
        });
    }

    // STATUS= every 5 s, and at once when the state disk fills or clears (report_now).
    void report_status() {
        ::sd_notifyf(0, "STATUS=%s", status_line(status_facts()).c_str());
        status_timer_.expires_after(std::chrono::seconds(5));
        status_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) report_status();
        });
    }

    void report_now() {
        if (stopping_) return;
        status_timer_.cancel();  // the pending wait ends with operation_aborted
        asio::post(io_, [this] {
            if (!stopping_) report_status();
        });
    }

    StatusFacts status_facts() {
        StatusFacts f;
        try {
            auto c = store_->counts_by_state();
            f.queued = c["queued"] + c["submitting"];
            f.running = c["running"];
            f.succeeded = c["succeeded"];
            f.failed = c["failed"];
        } catch (const store::DbUnavailable&) {
            f.counts_known = false;
            f.store_unreachable = true;
        }
        if (state_disk_ && state_disk_->full()) {
            f.disk_full = true;
            f.disk_dir = state_disk_->dir();
            f.shared_disk = state_disk_->shared();
            f.held = engine_->unsaved_changes();
        }
        return f;
    }

    ConfigLocation where_;
    Environment env_;
    Config config_;
    asio::io_context io_{1};  // one thread: the whole daemon is single-threaded
    asio::signal_set signals_;
    asio::steady_timer watchdog_;
    asio::steady_timer status_timer_;
    asio::steady_timer last_resort_{io_};
    std::chrono::microseconds watchdog_period_{0};
    int lock_fd_ = -1;
    Metrics metrics_;
    bool stopping_ = false;
    bool watches_pending_ = false;  // a watch configuration found the state disk full
    std::unique_ptr<store::QueueStore> store_;
    store::PgQueueStore* pg_ = nullptr;            // the shared store, when configured
    std::unique_ptr<store::Database> own_watch_db_;  // the watch table beside a shared store
    store::Database* watch_db_ = nullptr;
    std::unique_ptr<net::HttpsClient> client_;
    std::unique_ptr<StateDiskMonitor> state_disk_;
    std::unique_ptr<Engine> engine_;
    std::unique_ptr<Intake> intake_;
    std::unique_ptr<EngineControl> control_;
    std::unique_ptr<RetentionDriver> retention_;
    std::unique_ptr<api::ControlApi> api_;
    std::unique_ptr<net::ControlServer> server_;
    std::unique_ptr<LoopLagProbe> lag_probe_;
    std::unique_ptr<NodeDuties> duties_;  // a shared store's heartbeat and takeover
    std::unique_ptr<JobWakeups> wakeups_;  // a shared store's LISTEN/NOTIFY
    std::string store_password_;
    std::unique_ptr<watch::Watcher> watcher_;  // last: it uses the intake, store and loop
};

}  // namespace

int run_daemon(const ConfigLocation& where, const Environment& env, Config config) {
    try {
        Daemon d(where, env, std::move(config));
        return d.run();
    } catch (const store::DbError& e) {
        spdlog::critical("database failure: {}", e.what());
        return 1;
    }
}

}  // namespace genq::app
