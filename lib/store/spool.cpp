#include "store/spool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>

#include "core/files.hpp"

namespace genq::store {

Status Spool::init() { return make_dirs(dir_); }

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
    int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Error{"io_error", "cannot open " + dir_ + ": " + errno_text(errno)};
    int rc = ::syncfs(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return Error{"io_error", "cannot sync " + dir_ + ": " + errno_text(err)};
    return ok_status();
}

Result<std::string> Spool::put(std::string_view bytes, bool durable) {
    std::string sha = sha256_hex(bytes);
    struct stat st {};
    // Content-addressed: an existing file of the right size is the same bytes, already durable.
    if (::stat(path(sha).c_str(), &st) == 0 &&
        static_cast<std::size_t>(st.st_size) == bytes.size()) {
        ::utimensat(AT_FDCWD, path(sha).c_str(), nullptr, 0);  // best effort (see spool.hpp)
        return sha;
    }
    auto written =
        durable ? write_file_durably(path(sha), bytes) : write_file_fast(path(sha), bytes);
    if (!written) return written.error();
    return sha;
}

bool Spool::remove(const std::string& sha256) const {
    return ::unlink(path(sha256).c_str()) == 0;
}

Result<std::string> Spool::read(const std::string& sha256) const {
    return read_file(path(sha256), 64 * 1024 * 1024);
}

}  // namespace genq::store
