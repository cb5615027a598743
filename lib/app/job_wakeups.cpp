#include "app/job_wakeups.hpp"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <spdlog/spdlog.h>
#include <sstream>

#include "app/engine.hpp"
#include "store/database.hpp"
#include "store/pg_connection.hpp"

namespace genq::app {

namespace asio = boost::asio;

struct JobWakeups::Impl {
    Impl(asio::io_context& io_, std::string url_, std::string password_, Engine& engine_)
        : io(io_), url(std::move(url_)), password(std::move(password_)), engine(engine_),
          retry(io_) {}

    asio::io_context& io;
    std::string url;
    std::string password;
    Engine& engine;
    std::unique_ptr<store::PgConnection> conn;
    std::unique_ptr<asio::posix::stream_descriptor> socket;
    asio::steady_timer retry;
    int failures = 0;
    bool stopped = false;

    void connect() {
        if (stopped) return;
        try {
            if (!conn) {
                auto c = store::PgConnection::open(url, password);
                if (!c) throw store::DbUnavailable(c.error().message);
                conn = std::move(*c);
            }
            conn->exec("LISTEN genq_jobs");
            // A duplicate: the descriptor closes its own copy, never libpq's socket.
            socket = std::make_unique<asio::posix::stream_descriptor>(io, ::dup(conn->socket()));
        } catch (const store::DbError& e) {
            if (failures++ == 0) spdlog::warn("wake-ups: not listening ({}); retrying", e.what());
            conn.reset();
            later();
            return;
        }
        if (failures > 0) spdlog::info("wake-ups: listening again");
        failures = 0;
        engine.notify();  // what changed while nobody listened
        engine.on_store_change("", "pauses");
        wait();
    }

    void later() {
        double s = std::min(5.0, 0.25 * (1 << std::min(failures, 5)));
        retry.expires_after(std::chrono::milliseconds(static_cast<int>(s * 1000)));
        retry.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) connect();
        });
    }

    void wait() {
        socket->async_wait(asio::posix::descriptor_base::wait_read,
                           [this](const boost::system::error_code& ec) {
                               if (ec || stopped) return;
                               readable();
                           });
    }

    void readable() {
        std::vector<std::string> payloads;
        try {
            payloads = conn->notifications();
        } catch (const store::DbError& e) {
            spdlog::warn("wake-ups: connection lost ({}); reconnecting", e.what());
            socket.reset();
            conn.reset();
            later();
            return;
        }
        for (const auto& p : payloads) {
            std::istringstream in(p);  // "<state> <id> <node>"
            std::string state, id;
            in >> state >> id;
            engine.on_store_change(id, state);
        }
        wait();
    }
};

JobWakeups::JobWakeups(asio::io_context& io, std::string url, std::string password,
                       Engine& engine)
    : impl_(std::make_unique<Impl>(io, std::move(url), std::move(password), engine)) {}

JobWakeups::~JobWakeups() = default;

void JobWakeups::start() { impl_->connect(); }

void JobWakeups::stop() {
    auto& i = *impl_;
    i.stopped = true;
    i.retry.cancel();
    if (i.socket) i.socket->cancel();
}

}  // namespace genq::app
