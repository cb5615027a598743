// The control server's Unix socket file: its directory, a stale socket left by a dead genqd,
// its mode and group.
#include "net/unix_socket_file.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>

namespace genq::net::detail {

namespace {

// True when something accepts connections at `path` (another genqd).
bool socket_is_live(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    bool live = rc == 0 || errno == EAGAIN || errno == EINPROGRESS;  // EAGAIN: backlog full
    ::close(fd);
    return live;
}

}  // namespace

Status make_parent_dirs(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) return ok_status();
    std::string dir = path.substr(0, slash);
    for (std::size_t pos = 1; pos <= dir.size(); ++pos) {
        if (pos != dir.size() && dir[pos] != '/') continue;
        std::string prefix = dir.substr(0, pos);
        if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
            return Error{"io_error", "cannot create " + prefix + ": " + std::strerror(errno)};
        }
    }
    return ok_status();
}

Status clear_stale_socket(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        return ok_status();
    }
    if (!S_ISSOCK(st.st_mode)) {
        return Error{"socket_path", path + " exists and is not a socket"};
    }
    if (socket_is_live(path)) {
        return Error{"socket_in_use", "another genqd is serving on " + path};
    }
    spdlog::debug("control: removing stale socket {}", path);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return Error{"io_error", "cannot remove stale socket " + path + ": " +
                                     std::strerror(errno)};
    }
    return ok_status();
}

Status apply_owner(const std::string& path, unsigned mode, const std::string& group) {
    if (::chmod(path.c_str(), mode) != 0) {
        return Error{"io_error", "chmod " + path + ": " + std::strerror(errno)};
    }
    if (group.empty()) return ok_status();
    struct group* gr = ::getgrnam(group.c_str());
    if (gr == nullptr) {
        return Error{"socket_group", "unknown group '" + group + "' for " + path};
    }
    if (::chown(path.c_str(), static_cast<uid_t>(-1), gr->gr_gid) != 0) {
        return Error{"socket_group", "chown " + path + " to group " + group + ": " +
                                         std::strerror(errno)};
    }
    return ok_status();
}

}  // namespace genq::net::detail
