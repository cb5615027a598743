// The STATUS= line genqd gives systemd: the counts normally, and a full state disk or an
// unreachable shared store named first, so `systemctl status` says what needs a person.
#include <doctest/doctest.h>

#include "app/status_line.hpp"

namespace genq::test {
namespace {

using app::StatusFacts;
using app::status_line;

StatusFacts counted() {
    StatusFacts f;
    f.queued = 3;
    f.running = 1;
    f.succeeded = 5;
    f.failed = 2;
    return f;
}

TEST_SUITE("status line") {
    TEST_CASE("normally the queue's counts") {
        CHECK(status_line(counted()) == "3 queued, 1 running, 5 succeeded, 2 failed");
    }

    TEST_CASE("a full state disk comes first, with its directory and what is held") {
        auto f = counted();
        f.disk_full = true;
        f.disk_dir = "/var/lib/genq";
        f.held = 3;
        CHECK(status_line(f) == "state disk full: /var/lib/genq (no space); 3 changes held; "
                                "3 queued, 1 running, 5 succeeded, 2 failed");
        f.held = 1;
        CHECK(status_line(f).find("; 1 change held; ") != std::string::npos);
        f.held = 0;  // nothing waits yet: no count of held changes
        CHECK(status_line(f) == "state disk full: /var/lib/genq (no space); "
                                "3 queued, 1 running, 5 succeeded, 2 failed");
    }

    TEST_CASE("the shared store's disk full is named as PostgreSQL's, not the directory's") {
        auto f = counted();
        f.disk_full = true;
        f.shared_disk = true;
        f.disk_dir = "/var/lib/genq";
        f.held = 2;
        CHECK(status_line(f) == "shared store disk full: PostgreSQL (no space); 2 changes held; "
                                "3 queued, 1 running, 5 succeeded, 2 failed");
    }

    TEST_CASE("an unreachable shared store: no counts (they cannot be read)") {
        StatusFacts f;
        f.counts_known = false;
        f.store_unreachable = true;
        CHECK(status_line(f) == "shared store unreachable, retrying");
    }

    TEST_CASE("both conditions at once are both named") {
        StatusFacts f;
        f.counts_known = false;
        f.store_unreachable = true;
        f.disk_full = true;
        f.disk_dir = "/s";
        f.held = 2;
        CHECK(status_line(f) ==
              "state disk full: /s (no space); 2 changes held; shared store unreachable, retrying");
    }

    TEST_CASE("cleared conditions leave the normal line") {
        auto f = counted();
        f.disk_full = false;
        f.disk_dir = "/var/lib/genq";
        f.held = 4;  // stale: not shown once the disk is clear
        f.store_unreachable = false;
        CHECK(status_line(f) == "3 queued, 1 running, 5 succeeded, 2 failed");
    }
}

}  // namespace
}  // namespace genq::test
