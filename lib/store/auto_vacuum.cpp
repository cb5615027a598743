#include "store/auto_vacuum.hpp"

#include <sys/statvfs.h>

#include <chrono>
#include <filesystem>
#include <spdlog/spdlog.h>

#include "store/database.hpp"

namespace genq::store {
namespace {

constexpr std::int64_t kMargin = 64LL * 1024 * 1024;
constexpr int kIncremental = 2;  // PRAGMA auto_vacuum: 0 none, 1 full, 2 incremental

std::int64_t pragma_int(Database& db, const char* sql) {
    auto st = db.prepare(sql);
    return st->step() ? st->int64(0) : 0;
}

std::int64_t free_bytes_at(const std::string& path) {
    struct statvfs vfs {};
    auto dir = std::filesystem::path(path).parent_path();
    if (::statvfs(dir.empty() ? "." : dir.c_str(), &vfs) != 0) return 0;
    return static_cast<std::int64_t>(vfs.f_bavail) * static_cast<std::int64_t>(vfs.f_frsize);
}

double mib(std::int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

}  // namespace

bool startup_vacuum_is_cheap(std::int64_t db_bytes, std::int64_t free_bytes) {
    return db_bytes <= kStartupVacuumMaxBytes && free_bytes >= 2 * db_bytes + kMargin;
}

void convert_to_incremental_vacuum(Database& db, const std::string& path) {
    if (pragma_int(db, "PRAGMA auto_vacuum") == kIncremental) return;
    std::int64_t bytes =
        pragma_int(db, "PRAGMA page_count") * pragma_int(db, "PRAGMA page_size");
    if (!startup_vacuum_is_cheap(bytes, free_bytes_at(path))) {
        spdlog::info("database {} ({:.1f} MiB) was made without incremental auto-vacuum and is "
                     "too large to convert at start-up (or its disk too full for the copy): its "
                     "file keeps its size after retention (freed pages are reused). To convert "
                     "it, stop genqd and run: sqlite3 {} 'PRAGMA auto_vacuum=INCREMENTAL; "
                     "VACUUM;'",
                     path, mib(bytes), path);
        return;
    }
    auto t0 = std::chrono::steady_clock::now();
    try {
        db.exec("PRAGMA auto_vacuum=INCREMENTAL");  // takes effect with the VACUUM
        db.exec("VACUUM");
        db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch (const DbError& e) {
        spdlog::warn("database {}: not converted to incremental auto-vacuum ({}); it stays as "
                     "it was",
                     path, e.what());
        return;
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    spdlog::info("database {}: converted to incremental auto-vacuum (one VACUUM of {:.1f} MiB, "
                 "{:.2f} s); retention now gives its space back",
                 path, mib(bytes), s);
}

VacuumStep incremental_vacuum_step(Database& db, int pages) {
    VacuumStep out;
    std::int64_t before = pragma_int(db, "PRAGMA freelist_count");
    if (before > 0 && pages > 0) {
        Transaction tx(db, Durability::relaxed);
        db.exec("PRAGMA incremental_vacuum(" + std::to_string(pages) + ")");
        tx.commit();
    }
    out.free_left = pragma_int(db, "PRAGMA freelist_count");
    out.freed = before - out.free_left;
    if (out.freed < 0) out.freed = 0;
    return out;
}

}  // namespace genq::store
