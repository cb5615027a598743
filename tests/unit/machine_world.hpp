// A simulated world for the job machine: a store, a disk and a provider held in memory, and a
// driver that performs the machine's actions one I/O step at a time. A test can stop the world
// at any step (a crash: the machine and whatever was not committed vanish) and start it again
// from what the store and the disk kept — the way Beast's tests loop fail_count.
#pragma once
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/job.hpp"
#include "provider/response.hpp"
#include "sched/job_machine.hpp"

namespace genq::test {

struct Crash {};  // thrown by the world at the chosen step

// What the simulated provider does with one request.
struct ProviderScript {
    int polls_until_ready = 2;  // in-progress answers before the result
    std::function<std::optional<sched::Reply>(int n)> submit_override;  // n-th submit (1-based)
    std::function<std::optional<sched::Reply>(int n)> poll_override;    // n-th poll (1-based)
};

class World {
public:
    explicit World(std::string kind, ProviderScript script = {});

    // A fresh machine (a start, or a restart after a crash) with the world's store and disk.
    void boot();
    // Runs until every job is terminal or `max_steps` I/O steps were performed. Throws Crash at
    // step number `crash_at` (counted across the whole life of the world, 0 = never).
    void run(int max_steps = 500);

    Job& add_job();

    // What the world kept.
    std::map<std::string, Job> store;                    // committed rows
    std::map<std::string, std::vector<std::string>> events;  // "from->to" per job
    std::set<std::string> files;                         // paths on disk
    std::map<std::string, int> charges;                  // credits paid, per job
    int submits_sent = 0;
    // Charged answers the provider sent, and those whose outcome reached the store or the disk:
    // a crash with sent > known lost an answer (the outcome is unknown, a resubmission is fair).
    int charged_sent = 0;
    int charged_known = 0;
    int polls_sent = 0;
    int steps = 0;
    int crash_at = 0;
    // The state disk: the store write number `full_at_write` (commits, progress, reservations,
    // counted over the world's life; 0 = never) finds it full, and it stays full for `full_for`
    // seconds, when the driver's probe finds room and hands the machine's kept writes back.
    int full_at_write = 0;
    double full_for = 30;
    int store_writes = 0;
    int failed_writes = 0;
    bool disk_full = false;
    ManualClock clock{1'800'000'000};
    std::string kind;
    ProviderScript script;

    std::string part(const std::string& id) const { return "/out/.genq-" + id + ".part"; }
    int terminal_events(const std::string& id) const;

private:
    struct Pending {
        sched::RequestId request;
        std::string job_id;
        bool poll;
        sched::Reply reply;
        bool write_part = false;  // the result streams into the temporary file first
    };
    void step();  // one I/O step done; may throw Crash
    bool write_ok();  // a store write: false when the state disk is full
    TimePoint full_until_ = 0;
    void perform(const sched::Actions& actions);
    void act(const sched::Action& a, std::set<std::string>& lost);
    void place(const sched::PlaceResult& p);
    sched::Reply answer(const std::string& job_id, bool poll, bool& write_part);
    void deliver();
    std::vector<std::pair<Job, sched::OnDisk>> found_at_start();

    std::unique_ptr<sched::JobMachine> machine_;
    std::vector<Pending> pending_;
    std::map<std::string, int> polls_seen_;   // provider side: polls of each job's generation
    std::map<std::string, std::string> generation_;  // job id -> remote id
    int submit_count_ = 0;
    int poll_count_ = 0;
    int next_generation_ = 1;
};

sched::Reply answered(int status, std::string_view body, bool submit, bool sync);
sched::Reply transport(errc e);

}  // namespace genq::test
