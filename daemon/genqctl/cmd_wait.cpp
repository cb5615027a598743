// genqctl wait ID...: follows jobs through /v1/events until each is final or the timeout passes.
// On a terminal a live view is redrawn every second (each job's state, elapsed time, polls and why
// a queued job waits, then a bar for the batch); otherwise each change is printed as a plain line.
// Both end with a summary line.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "core/job_state.hpp"
#include "ctl.hpp"

namespace genqctl {
namespace {

using Clock = std::chrono::steady_clock;
namespace wire = genq::api::wire;

bool is_final(genq::JobState s) { return genq::is_terminal(s); }

std::string seconds(double s) { return std::to_string(static_cast<long long>(s)) + "s"; }

// The jobs being followed, shared by the event reader and the ticker (under `mu`).
class Progress {
  public:
    enum class Mode { terminal, lines, quiet };
    Progress(std::vector<std::string> ids, Mode mode) : ids_(std::move(ids)), mode_(mode) {}

    std::mutex mu;

    // A job's JSON (from a read or an event); ids that are not followed are ignored.
    void update(const nlohmann::json& j) {
        auto job = wire::parse_job(j);
        if (!job) return;  // not a job (a newer daemon's event, say): nothing to show
        if (std::find(ids_.begin(), ids_.end(), job->id) == ids_.end()) return;
        auto it = jobs_.find(job->id);
        bool changed = it == jobs_.end() || it->second.state != job->state;
        jobs_[job->id] = *job;
        json_[job->id] = j;
        if (mode_ == Mode::terminal)
            redraw();
        else if (changed && mode_ == Mode::lines)
            std::printf("%s %s %s\n", job->id.c_str(), std::string(genq::to_string(job->state)).c_str(),
                        note_of(*job).c_str());
        std::fflush(stdout);
    }

    void set_status(std::optional<genq::ports::StatusView> s) { status_ = std::move(s); }
    bool any_queued() const {
        for (const auto& [id, j] : jobs_)
            if (j.state == genq::JobState::queued) return true;
        return false;
    }

    bool all_final() const { return count_final() == ids_.size(); }
    std::size_t count_final() const {
        std::size_t n = 0;
        for (const auto& id : ids_)
            if (auto it = jobs_.find(id); it != jobs_.end() && is_final(it->second.state)) ++n;
        return n;
    }
    bool all_succeeded() const {
        for (const auto& id : ids_)
            if (auto it = jobs_.find(id);
                it == jobs_.end() || it->second.state != genq::JobState::succeeded)
                return false;
        return true;
    }
    const std::map<std::string, nlohmann::json>& json() const { return json_; }

    // The live view: one line per job, then the batch's bar, drawn over the previous frame.
    void redraw() {
        if (mode_ != Mode::terminal) return;
        if (drawn_) std::printf("\033[%zuA", ids_.size() + 1);
        auto width = static_cast<std::size_t>(terminal_width() - 1);
        for (const auto& id : ids_) {
            std::string line = id + "  ";
            std::string state = "?";
            if (auto it = jobs_.find(id); it != jobs_.end()) {
                const auto& j = it->second;
                state = std::string(genq::to_string(j.state));
                line += pad(state) + "  " + seconds(elapsed_of(j)) + "  polls " +
                        std::to_string(j.polls) + "  " + note_of(j);
            }
            line = fit(line, width);
            // Colour after cutting, so escape codes never count towards the width.
            auto at = line.find(state, id.size());
            if (at != std::string::npos) line = line.substr(0, at) + state_colour(state) +
                                                line.substr(at + state.size());
            std::printf("\r\033[K%s\n", line.c_str());
        }
        std::printf("\r\033[K%s\n", fit(bar(), width).c_str());
        std::fflush(stdout);
        drawn_ = true;
    }

    std::string summary() const {
        std::map<int, std::pair<std::string, int>> by_state;  // in lifecycle order
        for (const auto& id : ids_) {
            auto it = jobs_.find(id);
            std::string s = it == jobs_.end() ? "unknown" : std::string(genq::to_string(it->second.state));
            auto& slot = by_state[lifecycle_rank(s)];
            slot.first = s;
            ++slot.second;
        }
        std::string out;
        for (const auto& [rank, sn] : by_state)
            out += (out.empty() ? "" : ", ") + std::to_string(sn.second) + " " + sn.first;
        return out + " (" + std::to_string(ids_.size()) + " jobs, " + seconds(since_start()) + ")";
    }

  private:
    static std::string pad(const std::string& s) {
        return s.size() >= 10 ? s : s + std::string(10 - s.size(), ' ');
    }
    double since_start() const {
        return std::chrono::duration<double>(Clock::now() - start_).count();
    }
    static double elapsed_of(const genq::Job& j) {
        std::int64_t end = j.finished_at ? *j.finished_at
                                         : std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count();
        return static_cast<double>(std::max<std::int64_t>(0, end - j.created_at)) / 1000.0;
    }
    std::string note_of(const genq::Job& j) const {
        if (!j.error_code.empty()) return j.error_code + ": " + j.error_message;
        if (j.state == genq::JobState::queued)
            return "waiting: " + wait_words(j, status_ ? &*status_ : nullptr);
        return j.output;
    }
    std::string bar() const {
        constexpr std::size_t kWidth = 30;
        std::size_t done = count_final();
        std::size_t fill = ids_.empty() ? kWidth : done * kWidth / ids_.size();
        return "[" + std::string(fill, '#') + std::string(kWidth - fill, '.') + "] " +
               std::to_string(done) + "/" + std::to_string(ids_.size()) + " done  " +
               seconds(since_start());
    }

    std::vector<std::string> ids_;
    Mode mode_;
    bool drawn_ = false;
    std::map<std::string, genq::Job> jobs_;
    std::map<std::string, nlohmann::json> json_;
    std::optional<genq::ports::StatusView> status_;
    Clock::time_point start_ = Clock::now();
};

// Ends the wait when the deadline passes: the event stream blocks in a read while nothing
// happens, so this runs on its own thread, which also redraws the live view every second and
// keeps the queued jobs' reasons current. On timeout it prints what the main thread would
// have printed (under the same lock) and exits 4.
class Ticker {
  public:
    Ticker(Progress& p, const Ctl& ctl, double timeout, bool terminal)
        : p_(p), ctl_(ctl), timeout_(timeout), terminal_(terminal) {
        if (timeout_ > 0 || terminal_) thread_ = std::thread([this] { run(); });
    }
    ~Ticker() {
        {
            std::lock_guard lk(stop_mu_);
            stop_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

  private:
    void run() {
        auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(timeout_));
        genq::net::UnixHttpClient status_conn(ctl_.socket, 5);
        std::unique_lock lk(stop_mu_);
        while (!stop_) {
            cv_.wait_for(lk, std::chrono::seconds(1));
            if (stop_) return;
            std::optional<genq::ports::StatusView> status;
            if (terminal_) status = read_status(status_conn);
            std::lock_guard plk(p_.mu);
            if (terminal_) {
                if (status) p_.set_status(std::move(status));
                p_.redraw();
            }
            if (timeout_ > 0 && Clock::now() >= deadline) time_out();
        }
    }

    std::optional<genq::ports::StatusView> read_status(genq::net::UnixHttpClient& c) {
        {
            std::lock_guard plk(p_.mu);
            if (!p_.any_queued()) return std::nullopt;
        }
        genq::net::HttpRequest req;
        req.method = "GET";
        req.target = "/v1/status";
        auto r = c.request(req);
        if (!r || r->status != 200) return std::nullopt;
        auto j = nlohmann::json::parse(r->body, nullptr, false);
        auto s = wire::parse_status(j);
        if (!s) return std::nullopt;
        return *s;
    }

    [[noreturn]] void time_out() {
        std::size_t left = 0;
        if (ctl_.json) {
            nlohmann::json out = nlohmann::json::array();
            for (const auto& [id, j] : p_.json()) out.push_back(j);
            std::printf("%s\n", out.dump(2).c_str());
        } else {
            std::printf("%s\n", p_.summary().c_str());
        }
        left = p_.json().size() - p_.count_final();
        std::fflush(stdout);
        std::fprintf(stderr, "genqctl: timed out after %gs waiting for jobs (%zu unfinished)\n",
                     timeout_, left);
        std::fflush(stderr);
        ::_exit(kTimedOut);
    }

    Progress& p_;
    const Ctl& ctl_;
    double timeout_;
    bool terminal_;
    std::mutex stop_mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread thread_;
};

// Follows /v1/events until every job is final. genqd opens each stream with a "hello" event;
// the jobs are read again then, so no transition falls between a read and the subscription.
// A stream that ends (genqd restarted) is opened again as long as each one said hello.
bool follow_events(Ctl& ctl, const std::vector<std::string>& ids, Progress& progress) {
    auto final_now = [&] {
        std::lock_guard lk(progress.mu);
        return progress.all_final();
    };
    auto refresh = [&] {
        for (const auto& id : ids) {
            auto j = ctl.call_json("GET", "/v1/jobs/" + url_segment(id));
            std::lock_guard lk(progress.mu);
            progress.update(j);
        }
    };
    bool greeted = true;
    while (!final_now() && greeted) {
        greeted = false;
        genq::net::UnixHttpClient events(ctl.socket, 3600);
        auto on_event = [&](const std::string& name, const std::string& data) {
            if (name == "hello") {
                greeted = true;
                refresh();
            } else if (auto j = nlohmann::json::parse(data, nullptr, false); j.is_object()) {
                std::lock_guard lk(progress.mu);
                progress.update(j);
            }
            return !final_now();
        };
        (void)events.stream_events("/v1/events", on_event);
        if (!final_now()) refresh();  // exits 3 when genqd is gone for good
    }
    return final_now();
}

// The ids as genqd knows them: a prefix given on the command line becomes the full id, so the
// events (which carry full ids) are matched.
std::vector<nlohmann::json> resolve(Ctl& ctl, const std::vector<std::string>& given) {
    std::vector<nlohmann::json> out;
    for (const auto& id : given) out.push_back(ctl.call_json("GET", "/v1/jobs/" + url_segment(id)));
    return out;
}

}  // namespace

WaitResult wait_for_jobs(Ctl& ctl, const std::vector<std::string>& given, double timeout,
                         bool show) {
    auto first = resolve(ctl, given);
    std::vector<std::string> ids;
    for (const auto& j : first) ids.push_back(j.value("id", ""));
    bool terminal = show && stdout_is_tty();
    Progress progress(ids, !show      ? Progress::Mode::quiet
                           : terminal ? Progress::Mode::terminal
                                      : Progress::Mode::lines);
    bool done = false;
    {
        Ticker ticker(progress, ctl, timeout, terminal);
        {
            // The reasons of queued jobs need the daemon's state (read once; the live view
            // reads it again every second).
            auto status = wire::parse_status(ctl.call_json("GET", "/v1/status"));
            std::lock_guard lk(progress.mu);
            if (status) progress.set_status(std::move(*status));
            for (const auto& j : first) progress.update(j);
        }
        done = follow_events(ctl, ids, progress);
    }
    WaitResult w;
    w.ids = ids;
    if (!done) {
        std::fprintf(stderr, "genqctl: lost the event stream of genqd at %s\n", ctl.socket.c_str());
        w.code = kFailed;
        return w;
    }
    if (show) std::printf("%s\n", progress.summary().c_str());
    for (const auto& id : ids) w.jobs[id] = ctl.call_json("GET", "/v1/jobs/" + url_segment(id));
    w.code = progress.all_succeeded() ? kOk : kFailed;
    return w;
}

void add_wait(CLI::App& app, Ctl& ctl, Runner& run) {
    auto ids = std::make_shared<std::vector<std::string>>();
    auto timeout = std::make_shared<double>(0);
    auto* cmd = app.add_subcommand(
        "wait", "wait until jobs are final; exit 0 only if all succeeded, 4 on timeout");
    cmd->add_option("ids", *ids, "job ids (any unique prefix)")->required();
    cmd->add_option("--timeout", *timeout, "give up after S seconds (exit 4)");
    cmd->callback([&ctl, &run, ids, timeout] {
        run = [&ctl, ids, timeout] {
            WaitResult w = wait_for_jobs(ctl, *ids, *timeout, !ctl.json);
            if (ctl.json) {
                nlohmann::json out = nlohmann::json::array();
                for (const auto& id : w.ids) out.push_back(w.jobs[id]);
                print_json(out);
            }
            return w.code;
        };
    });
}

}  // namespace genqctl
