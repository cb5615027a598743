#include "store/spool_cursor.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "core/files.hpp"

namespace genq::store {

SpoolCursor::~SpoolCursor() {
    if (stream_) ::closedir(static_cast<DIR*>(stream_));
}

std::vector<SpoolCursor::File> SpoolCursor::next(bool from_start, int limit, bool& end) {
    std::vector<File> out;
    end = true;
    if (!stream_) {
        stream_ = ::opendir(dir_.c_str());
        if (!stream_) {
            spdlog::warn("spool: cannot list {}: {}", dir_, errno_text(errno));
            return out;
        }
    } else if (from_start) {
        ::rewinddir(static_cast<DIR*>(stream_));
    }
    DIR* d = static_cast<DIR*>(stream_);
    while (static_cast<int>(out.size()) < limit) {
        errno = 0;
        dirent* e = ::readdir(d);
        if (!e) return out;  // the end (or a read error: the next scan starts over)
        struct stat st {};
        if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue;  // gone meanwhile, ".", "..", or not a plain file
        out.push_back({e->d_name, static_cast<double>(st.st_mtim.tv_sec) +
                                      static_cast<double>(st.st_mtim.tv_nsec) / 1e9});
    }
    end = false;
    return out;
}

bool SpoolCursor::remove(const std::string& name) const {
    if (name.empty() || name.find('/') != std::string::npos) return false;
    return ::unlink((dir_ + "/" + name).c_str()) == 0;
}

}  // namespace genq::store
