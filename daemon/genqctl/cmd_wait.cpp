// genqctl wait ID...: follows jobs through /v1/events until each is final. On a terminal one
// line per job is redrawn in place; otherwise each change is printed as a plain line.
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>

#include "core/job_state.hpp"
#include "ctl.hpp"

namespace genqctl {
namespace {

using Clock = std::chrono::steady_clock;

// The daemon's notion of a final state, not a list of our own.
bool is_final(const std::string& s) {
    auto st = genq::parse_job_state(s);
    return st && genq::is_terminal(*st);
}

struct Tracked {
    std::string state;
    int polls = 0;
    std::string note;
};

class Progress {
  public:
    enum class Mode { terminal, lines, quiet };  // quiet: --json prints the jobs at the end
    Progress(std::vector<std::string> ids, Mode mode) : ids_(std::move(ids)), mode_(mode) {}

    void update(const nlohmann::json& j) {
        auto job = genq::api::wire::parse_job(j);
        if (!job) return;  // not a job (a newer daemon's event, say): nothing to show
        const std::string& id = job->id;
        if (!jobs_.count(id) && std::find(ids_.begin(), ids_.end(), id) == ids_.end()) return;
        Tracked t{std::string(genq::to_string(job->state)), job->polls, note_of(*job)};
        bool changed = jobs_[id].state != t.state;
        jobs_[id] = t;
        if (mode_ == Mode::terminal)
            redraw();
        else if (changed && mode_ == Mode::lines)
            std::printf("%s %s %s\n", id.c_str(), t.state.c_str(), t.note.c_str());
        std::fflush(stdout);
    }

    bool all_final() const {
        for (const auto& id : ids_) {
            auto it = jobs_.find(id);
            if (it == jobs_.end() || !is_final(it->second.state)) return false;
        }
        return true;
    }

    bool all_succeeded() const {
        for (const auto& id : ids_) {
            auto it = jobs_.find(id);
            if (it == jobs_.end() || it->second.state != "succeeded") return false;
        }
        return true;
    }

    void redraw() {
        if (drawn_) std::printf("\033[%zuA", ids_.size());
        double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
        for (const auto& id : ids_) {
            const auto& t = jobs_[id];
            std::string line = id + "  " + t.state + "  " +
                               std::to_string(static_cast<int>(elapsed)) + "s  polls " +
                               std::to_string(t.polls) + "  " + t.note;
            std::printf("\r\033[K%s\n",
                        fit(line, static_cast<std::size_t>(terminal_width() - 1)).c_str());
        }
        drawn_ = true;
    }

  private:
    static std::string note_of(const genq::Job& j) {
        if (!j.error_code.empty()) return j.error_code + ": " + j.error_message;
        return j.output;
    }

    std::vector<std::string> ids_;
    Mode mode_;
    bool drawn_ = false;
    std::map<std::string, Tracked> jobs_;
    Clock::time_point start_ = Clock::now();
};

// The event stream blocks in a read for as long as nothing happens (pings are comments, not
// events), so the deadline is enforced by a timer signal; the handler only calls async-signal-
// safe functions.
void on_deadline(int) {
    static constexpr char kMsg[] = "\ngenqctl: timed out waiting for jobs\n";
    (void)!::write(2, kMsg, sizeof kMsg - 1);
    ::_exit(kFailed);
}

void arm_deadline(double timeout) {
    if (timeout <= 0) return;
    std::signal(SIGALRM, on_deadline);
    itimerval t{};
    t.it_value.tv_sec = static_cast<time_t>(timeout);
    t.it_value.tv_usec =
        static_cast<suseconds_t>((timeout - static_cast<double>(t.it_value.tv_sec)) * 1e6);
    ::setitimer(ITIMER_REAL, &t, nullptr);
}

// Follows /v1/events until every job is final. genqd opens each stream with a "hello" event;
// the jobs are read again then, so no transition falls between a read and the subscription.
// A stream that ends (genqd restarted) is opened again as long as each one said hello.
bool follow_events(Ctl& ctl, const std::vector<std::string>& ids, Progress& progress) {
    auto refresh = [&] {
        for (const auto& id : ids)
            progress.update(ctl.call_json("GET", "/v1/jobs/" + url_segment(id)));
    };
    bool greeted = true;
    while (!progress.all_final() && greeted) {
        greeted = false;
        genq::net::UnixHttpClient events(ctl.socket, 3600);
        auto on_event = [&](const std::string& name, const std::string& data) {
            if (name == "hello") {
                greeted = true;
                refresh();
            } else if (auto j = nlohmann::json::parse(data, nullptr, false); j.is_object()) {
                progress.update(j);
            }
            return !progress.all_final();
        };
        (void)events.stream_events("/v1/events", on_event);
        if (!progress.all_final()) refresh();  // exits 3 when genqd is gone for good
    }
    return progress.all_final();
}

}  // namespace

int wait_for_jobs(Ctl& ctl, const std::vector<std::string>& ids, double timeout) {
    arm_deadline(timeout);
    Progress progress(ids, ctl.json          ? Progress::Mode::quiet
                           : stdout_is_tty() ? Progress::Mode::terminal
                                             : Progress::Mode::lines);
    for (const auto& id : ids) progress.update(ctl.call_json("GET", "/v1/jobs/" + url_segment(id)));
    if (!follow_events(ctl, ids, progress)) {
        std::fprintf(stderr, "genqctl: lost the event stream of genqd at %s\n", ctl.socket.c_str());
        return kFailed;
    }
    if (ctl.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& id : ids)
            out.push_back(ctl.call_json("GET", "/v1/jobs/" + url_segment(id)));
        std::printf("%s\n", out.dump(2).c_str());
    }
    return progress.all_succeeded() ? kOk : kFailed;
}

void add_wait(CLI::App& app, Ctl& ctl, Runner& run) {
    auto ids = std::make_shared<std::vector<std::string>>();
    auto timeout = std::make_shared<double>(0);
    auto* cmd =
        app.add_subcommand("wait", "wait until jobs are final; exit 0 only if all succeeded");
    cmd->add_option("ids", *ids, "job ids")->required();
    cmd->add_option("--timeout", *timeout, "give up after S seconds (exit 1)");
    cmd->callback([&ctl, &run, ids, timeout] {
        run = [&ctl, ids, timeout] { return wait_for_jobs(ctl, *ids, *timeout); };
    });
}

}  // namespace genqctl
