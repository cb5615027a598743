#include "store/spool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>

#include "core/files.hpp"

namespace genq::store {

namespace {

Status sync_file_system(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Error{"io_error", "cannot open " + dir + ": " + errno_text(errno)};
    int rc = ::syncfs(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return Error{"io_error", "cannot sync " + dir + ": " + errno_text(err)};
    return ok_status();
}

// fsync of one file or directory by name; a file deleted meanwhile (retention) needs none.
Status fsync_path(const std::string& path, int flags) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return ok_status();
    if (fd < 0) return Error{"io_error", "cannot open " + path + ": " + errno_text(errno)};
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0)
        return Error{err == ENOSPC ? "no_space" : "io_error",
                     "cannot sync " + path + ": " + errno_text(err)};
    return ok_status();
}

}  // namespace

Status Spool::init() {
    if (auto st = make_dirs(dir_); !st) return st;
    return sync_file_system(dir_);
}

namespace {

// Temporary file, write, rename: complete or absent, not yet durable (see Spool::sync).
Status write_file_fast(const std::string& path, std::string_view bytes) {
    std::string tmp = path + ".tmp" + std::to_string(std::random_device{}());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return Error{"io_error", "cannot create " + tmp + ": " + errno_text(errno)};
    std::size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            return Error{err == ENOSPC ? "no_space" : "io_error",
                         "cannot write " + tmp + ": " + errno_text(err)};
        }
        off += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return Error{"io_error", "cannot rename to " + path + ": " + errno_text(err)};
    }
    return ok_status();
}

}  // namespace

Status Spool::sync() {
    auto paths = take_unsynced();
    if (paths.empty()) return ok_status();
    Status st = fsync_files(paths);
    finish_sync(paths, st.ok());
    return st;
}

std::vector<std::string> Spool::take_unsynced() {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    out.swap(unsynced_);
    for (const auto& p : out) ++syncing_[p];
    return out;
}

Status Spool::fsync_files(const std::vector<std::string>& paths) const {
    for (const auto& p : paths)
        if (auto st = fsync_path(p, O_RDONLY); !st) return st;
    return fsync_path(dir_, O_RDONLY | O_DIRECTORY);
}

void Spool::finish_sync(const std::vector<std::string>& paths, bool synced) {
    std::lock_guard lock(mu_);
    for (const auto& p : paths) {
        auto it = syncing_.find(p);
        if (it != syncing_.end() && --it->second == 0) syncing_.erase(it);
        if (!synced) unsynced_.push_back(p);  // the next sync tries again
    }
}

std::size_t Spool::unsynced() const {
    std::lock_guard lock(mu_);
    return unsynced_.size();
}

Result<std::string> Spool::put(std::string_view bytes, bool durable) {
    std::string sha = sha256_hex(bytes);
    struct stat st {};
    // Content-addressed: an existing file of the right size is the same bytes, durable, listed
    // in unsynced_, or being synced (then listed again: this put's sync must cover it too).
    // init() synced what an earlier process left.
    if (::stat(path(sha).c_str(), &st) == 0 &&
        static_cast<std::size_t>(st.st_size) == bytes.size()) {
        ::utimensat(AT_FDCWD, path(sha).c_str(), nullptr, 0);  // best effort (see spool.hpp)
        {
            std::lock_guard lock(mu_);
            if (!syncing_.count(path(sha))) return sha;
            if (!durable) {
                unsynced_.push_back(path(sha));
                return sha;
            }
        }
        // Durable, and its first sync is still under way: sync it here too.
        if (auto synced = fsync_files({path(sha)}); !synced) return synced.error();
        return sha;
    }
    if (durable) {
        if (auto written = write_file_durably(path(sha), bytes); !written) return written.error();
        return sha;
    }
    if (auto written = write_file_fast(path(sha), bytes); !written) return written.error();
    std::lock_guard lock(mu_);
    unsynced_.push_back(path(sha));
    return sha;
}

bool Spool::remove(const std::string& sha256) const {
    return ::unlink(path(sha256).c_str()) == 0;
}

Result<std::string> Spool::read(const std::string& sha256) const {
    return read_file(path(sha256), 64 * 1024 * 1024);
}

}  // namespace genq::store
