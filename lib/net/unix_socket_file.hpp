// Net-private: the control server's Unix socket file (http_server.cpp).
#pragma once
#include <string>

#include "core/result.hpp"

namespace genq::net::detail {

// Creates the directories above `path` (0755) that do not exist yet.
Status make_parent_dirs(const std::string& path);
// Removes a socket file nothing serves on; refuses a live one or a file that is no socket.
Status clear_stale_socket(const std::string& path);
// Sets the socket's mode and, when given, its group.
Status apply_owner(const std::string& path, unsigned mode, const std::string& group);

}  // namespace genq::net::detail
