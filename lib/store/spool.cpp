#include "store/spool.hpp"

#include <sys/stat.h>

#include "core/files.hpp"

namespace genq::store {

Status Spool::init() { return make_dirs(dir_); }

Result<std::string> Spool::put(std::string_view bytes) {
    std::string sha = sha256_hex(bytes);
    struct stat st {};
    // Content-addressed: an existing file of the right size is the same bytes, already durable.
    if (::stat(path(sha).c_str(), &st) == 0 && static_cast<std::size_t>(st.st_size) == bytes.size())
        return sha;
    auto written = write_file_durably(path(sha), bytes);
    if (!written) return written.error();
    return sha;
}

Result<std::string> Spool::read(const std::string& sha256) const {
    return read_file(path(sha256), 64 * 1024 * 1024);
}

}  // namespace genq::store
