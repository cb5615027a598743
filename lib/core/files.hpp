// File-system helpers for durability: write-then-fsync-then-rename, directory fsync, sha256,
// safe names. Everything that must survive a power cut goes through here.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace genq {

std::string sha256_hex(std::string_view bytes);
Result<std::string> sha256_file(const std::string& path);

Result<std::string> read_file(const std::string& path, std::size_t max_bytes);
// Writes `bytes` to `path` atomically: temporary file in the same directory, fsync, rename,
// directory fsync.
Status write_file_durably(const std::string& path, std::string_view bytes);
Status fsync_path(const std::string& path);  // a file or a directory
// Creates or truncates `path` with `bytes` and fsyncs the file (not its directory).
Status write_file_synced(const std::string& path, std::string_view bytes);
// The same for a file that must not exist yet: error "exists" if it does (nothing written).
Status write_new_file_synced(const std::string& path, std::string_view bytes);
Status make_dirs(const std::string& path);

// Renames without ever replacing an existing file (RENAME_NOREPLACE). Error "exists" if taken.
Status rename_no_replace(const std::string& from, const std::string& to);

// A file name stem safe to use in output_dir: no directory parts, no leading dots, only
// [A-Za-z0-9._-] (others become '_'), at most 100 bytes, never empty ("output").
std::string sanitize_stem(std::string_view name);

std::string errno_text(int err);

}  // namespace genq
