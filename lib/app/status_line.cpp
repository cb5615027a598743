#include "app/status_line.hpp"

#include <fmt/format.h>

namespace genq::app {

namespace {

std::string counts(const StatusFacts& f) {
    return fmt::format("{} queued, {} running, {} succeeded, {} failed", f.queued, f.running,
                       f.succeeded, f.failed);
}

}  // namespace

std::string status_line(const StatusFacts& f) {
    std::string out;
    auto add = [&out](const std::string& part) {
        if (!out.empty()) out += "; ";
        out += part;
    };
    // The conditions first: systemctl may cut a long line, and they are what needs a person.
    if (f.disk_full) {
        add(f.shared_disk ? std::string("shared store disk full: PostgreSQL (no space)")
                          : fmt::format("state disk full: {} (no space)", f.disk_dir));
        if (f.held > 0) add(fmt::format("{} change{} held", f.held, f.held == 1 ? "" : "s"));
    }
    if (f.store_unreachable) add("shared store unreachable, retrying");
    if (f.counts_known) add(counts(f));
    return out;
}

}  // namespace genq::app
