#include "core/files.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

namespace genq {
namespace {

std::string hex(const unsigned char* p, unsigned n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(n * 2, '0');
    for (unsigned i = 0; i < n; ++i) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    return out;
}

Error io_error(const std::string& what, const std::string& path, int err) {
    return Error{err == ENOSPC ? "no_space" : "io_error", what + " " + path + ": " + errno_text(err)};
}

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }

private:
    int fd_;
};

}  // namespace

std::string errno_text(int err) { return std::strerror(err); }

std::string sha256_hex(std::string_view bytes) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
    return hex(md, len);
}

Result<std::string> sha256_file(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return io_error("cannot open", path, errno);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    char buf[1 << 16];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) EVP_DigestUpdate(ctx, buf, n);
    int err = errno;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    if (n < 0) return io_error("cannot read", path, err);
    return hex(md, len);
}

Result<std::string> read_file(const std::string& path, std::size_t max_bytes) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return io_error("cannot open", path, errno);
    std::string out;
    char buf[1 << 16];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) {
        if (out.size() + static_cast<std::size_t>(n) > max_bytes)
            return Error{"too_large", path + " is larger than " + std::to_string(max_bytes) +
                                          " bytes"};
        out.append(buf, static_cast<std::size_t>(n));
    }
    if (n < 0) return io_error("cannot read", path, errno);
    return out;
}

Status fsync_path(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return io_error("cannot open", path, errno);
    if (::fsync(fd.get()) != 0) return io_error("cannot fsync", path, errno);
    return ok_status();
}

Status write_file_synced(const std::string& path, std::string_view bytes) {
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) return io_error("cannot create", path, errno);
    std::size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = ::write(fd.get(), bytes.data() + off, bytes.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::unlink(path.c_str());
            return io_error("cannot write", path, err);
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
        int err = errno;
        ::unlink(path.c_str());
        return io_error("cannot fsync", path, err);
    }
    return ok_status();
}

Status write_file_durably(const std::string& path, std::string_view bytes) {
    std::filesystem::path target(path);
    std::string tmp = (target.parent_path() / ("." + target.filename().string() + ".tmp" +
                                               std::to_string(std::random_device{}())))
                          .string();
    if (auto st = write_file_synced(tmp, bytes); !st) return st;
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return io_error("cannot rename to", path, err);
    }
    // A bare file name ("cat.mp4", genqctl output -o) lives in the working directory.
    auto dir = target.parent_path();
    return fsync_path(dir.empty() ? "." : dir.string());
}

Status make_dirs(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return Error{"io_error", "cannot create directory " + path + ": " + ec.message()};
    return ok_status();
}

Status rename_no_replace(const std::string& from, const std::string& to) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0)
        return ok_status();
    int err = errno;
    if (err == EEXIST) return Error{"exists", to + " exists"};
    return io_error("cannot rename to", to, err);
}

std::string sanitize_stem(std::string_view name) {
    auto slash = name.find_last_of('/');
    if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
    std::string out;
    for (unsigned char c : name) {
        bool ok = std::isalnum(c) || c == '.' || c == '_' || c == '-';
        out += ok ? static_cast<char>(c) : '_';
        if (out.size() >= 100) break;
    }
    while (!out.empty() && out.front() == '.') out.erase(out.begin());
    if (out.empty()) out = "output";
    return out;
}

}  // namespace genq
