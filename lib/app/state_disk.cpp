#include "app/state_disk.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "core/clock.hpp"
#include "sched/disk_state.hpp"
#include "store/pg_errors.hpp"

namespace genq::app {

namespace asio = boost::asio;

namespace {

// SQLite needs room for a few pages of WAL and a checkpoint; a little more than that, so a
// probe does not declare space the next commit cannot use.
constexpr std::uint64_t kProbeFree = 1024 * 1024;
constexpr std::size_t kProbeBytes = 64 * 1024;

}  // namespace

bool room_for_writes(const std::string& dir) {
    struct statvfs vfs {};
    if (::statvfs(dir.c_str(), &vfs) != 0) return false;
    if (static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize < kProbeFree) return false;
    const std::string path = dir + "/.genq-space-probe";
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    std::string block(kProbeBytes, '\0');
    bool ok = ::write(fd, block.data(), block.size()) == static_cast<ssize_t>(block.size()) &&
              ::fsync(fd) == 0;
    ::close(fd);
    ::unlink(path.c_str());
    return ok;
}

struct StateDiskMonitor::Impl {
    Impl(asio::io_context& io_, std::string dir_, const Clock& clock_, double every)
        : dir(std::move(dir_)), clock(clock_), state(every), timer(io_) {}

    std::string dir;
    const Clock& clock;
    sched::DiskState state;
    asio::steady_timer timer;
    std::vector<std::function<void(bool)>> listeners;
    std::vector<std::function<bool()>> probes;  // other stores' room, besides the directory
    bool stopped = false;

    void tell(bool full) {
        for (auto& l : listeners) l(full);
    }

    void arm() {
        if (stopped || !state.full()) return;
        double wait = std::max(0.0, state.next_probe() - clock.now());
        timer.expires_after(std::chrono::microseconds(static_cast<std::int64_t>(wait * 1e6)));
        timer.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) probe();
        });
    }

    void probe() {
        TimePoint t = clock.now();
        if (!state.probe_due(t)) return arm();
        bool room = room_for_writes(dir);
        for (auto& p : probes) room = room && p();
        auto change = state.on_probe(room, t);
        if (change != sched::DiskChange::became_clear) return arm();
        spdlog::info("state directory {}: space returned; writing what waited and taking new "
                     "submissions again",
                     dir);
        tell(false);
    }
};

StateDiskMonitor::StateDiskMonitor(asio::io_context& io, std::string dir, const Clock& clock,
                                   double probe_every)
    : impl_(std::make_unique<Impl>(io, std::move(dir), clock, probe_every)) {}

StateDiskMonitor::~StateDiskMonitor() = default;

bool StateDiskMonitor::full() const { return impl_->state.full(); }

Error StateDiskMonitor::refusal() const {
    if (shared())
        return Error{"state_disk_full",
                     "the shared store's database server is out of disk space (PostgreSQL: "
                     "disk full); free space there"};
    return Error{"state_disk_full", "the state directory " + impl_->dir +
                                        " is full (No space left on device); free space there"};
}

void StateDiskMonitor::no_space(const std::string& what) {
    auto& i = *impl_;
    if (i.state.on_no_space(what, i.clock.now()) != sched::DiskChange::became_full) return;
    // Once per episode, however many writes fail meanwhile.
    spdlog::error("state directory {} is full: {}; new submissions are refused (503) and work "
                  "under way keeps going, its changes written when space returns",
                  i.dir, what);
    i.tell(true);
    i.arm();
}

void StateDiskMonitor::on_change(std::function<void(bool)> f) {
    impl_->listeners.push_back(std::move(f));
}

void StateDiskMonitor::add_probe(std::function<bool()> room) {
    impl_->probes.push_back(std::move(room));
}

bool StateDiskMonitor::shared() const {
    return impl_->state.full() &&
           impl_->state.what().find(store::kPgDiskFull) != std::string::npos;
}

const std::string& StateDiskMonitor::dir() const { return impl_->dir; }
TimePoint StateDiskMonitor::since() const { return impl_->state.since(); }
const std::string& StateDiskMonitor::what() const { return impl_->state.what(); }
std::uint64_t StateDiskMonitor::failures() const { return impl_->state.failures(); }

void StateDiskMonitor::stop() {
    impl_->stopped = true;
    impl_->timer.cancel();
}

}  // namespace genq::app
