#include "watch/watcher.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <set>
#include <spdlog/spdlog.h>

#include "ports/intake.hpp"
#include "ports/state_disk.hpp"
#include "core/clock.hpp"
#include "core/files.hpp"
#include "store/database.hpp"
#include "provider/operation.hpp"
#include "store/queue_store.hpp"
#include "watch/line_store.hpp"
#include "watch/prompt_lines.hpp"
#include "watch/watch_store.hpp"

namespace genq::watch {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kBatch = 64;  // files per turn of the loop: one disk sync, one commit
constexpr std::size_t kMaxInputBytes = 64u << 20;  // above every kind's limit: refused by size
constexpr std::size_t kMaxSidecarBytes = 64u << 10;
constexpr std::size_t kMaxPromptListBytes = 4u << 20;  // a *.txt of prompts
// Only finished files: a writer's close or a rename into the folder. The directory events tell
// that the folder itself went away.
constexpr std::uint32_t kMask =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR | IN_DELETE_SELF | IN_MOVE_SELF;
constexpr int kMoveAttempts = 5;  // a name taken between the check and the rename: pick again

std::string normal_dir(const std::string& dir) {
    std::string s = std::filesystem::path(dir).lexically_normal().string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
}

std::string join(const std::string& dir, std::string_view name) {
    return dir + "/" + std::string(name);
}

std::string sub(const std::string& dir, Place place) {
    return dir + "/" + std::string(to_string(place));
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;  // a dangling symlink still takes the name
}

// Reads a regular file without following a symlink; O_NONBLOCK so a FIFO never blocks the loop.
// Error codes: not_found, not_regular, too_large, io_error (permissions included).
Result<std::string> read_regular(const std::string& path, std::size_t max_bytes) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT) return Error{"not_found", path + " vanished"};
        if (err == ELOOP) return Error{"not_regular", path + " is a symbolic link"};
        return Error{"io_error", "cannot open " + path + ": " + errno_text(err)};
    }
    struct stat st {};
    std::string out;
    Error error{"", ""};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        error = Error{"not_regular", path + " is not a regular file"};
    } else if (static_cast<std::size_t>(st.st_size) > max_bytes) {
        error = Error{"too_large", "the file is " + std::to_string(st.st_size) +
                                       " bytes, more than any kind accepts"};
    } else {
        out.resize(static_cast<std::size_t>(st.st_size));
        ssize_t n = ::pread(fd, out.data(), out.size(), 0);
        if (n < 0) error = Error{"io_error", "cannot read " + path + ": " + errno_text(errno)};
        out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (!error.code.empty()) return error;
    return out;
}

struct Watch {
    WatchConfig config;  // dir normalised
    int wd = -1;         // -1: not watched (could not start, or the folder went away)
};

// A file read from the inbox in this turn, on its way to becoming a job.
struct Item {
    std::string dir;
    std::string name;
    std::string kind;
    std::string bytes;
    bool has_sidecar = false;
    nlohmann::json params;
    WatchRecord record;
};

}  // namespace

struct Watcher::Impl {
    Impl(asio::io_context& io_, store::Database& db_, store::QueueStore& jobs_,
         ports::Intake& intake_)
        : io(io_), db(db_), jobs(jobs_), intake(intake_), files(db_), lines(db_), inotify(io_) {}

    asio::io_context& io;
    store::Database& db;
    store::QueueStore& jobs;
    ports::Intake& intake;
    WatchStore files;
    LineStore lines;
    asio::posix::stream_descriptor inotify;
    alignas(inotify_event) std::array<char, 64 * 1024> buf{};
    std::map<std::string, Watch> watches;  // by normalised dir
    std::map<int, std::string> by_wd;
    std::deque<std::pair<std::string, std::string>> queue;  // (dir, name) waiting to be read
    std::set<std::pair<std::string, std::string>> queued;
    bool drain_posted = false;
    bool stopped = false;
    ports::StateDisk* disk = nullptr;

    bool held() const { return disk && disk->full(); }

    // ---- inotify -------------------------------------------------------------------------
    bool open_inotify() {
        if (inotify.is_open()) return true;
        int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0) {
            spdlog::error("watch: inotify unavailable ({}); watched folders are off",
                          errno_text(errno));
            return false;
        }
        inotify.assign(fd);
        read_events();
        return true;
    }

    void read_events() {
        inotify.async_read_some(asio::buffer(buf),
                                [this](const boost::system::error_code& ec, std::size_t n) {
                                    if (ec || stopped) {
                                        if (ec && ec != asio::error::operation_aborted)
                                            spdlog::error("watch: inotify read: {}", ec.message());
                                        return;
                                    }
                                    handle_events(n);
                                    read_events();
                                });
    }

    void handle_events(std::size_t n) {
        std::size_t off = 0;
        while (off + sizeof(inotify_event) <= n) {
            inotify_event ev;
            std::memcpy(&ev, buf.data() + off, sizeof ev);
            const char* name = buf.data() + off + sizeof ev;
            off += sizeof ev + ev.len;
            handle_event(ev, std::string(name, ::strnlen(name, ev.len)));
        }
        schedule_drain();
    }

    void handle_event(const inotify_event& ev, const std::string& name) {
        if (ev.mask & IN_Q_OVERFLOW) {
            // Events were dropped: only a fresh look at every folder tells what arrived.
            spdlog::warn("watch: inotify queue overflow; rescanning every watched folder");
            for (auto& [dir, w] : watches)
                if (w.wd >= 0) scan(dir);
            return;
        }
        auto it = by_wd.find(ev.wd);
        if (it == by_wd.end()) return;
        if (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
            lost(it->second);
            return;
        }
        if ((ev.mask & IN_ISDIR) || !(is_candidate(name) || is_prompt_list(name))) return;
        enqueue(it->second, name);
    }

    void lost(const std::string& dir) {
        auto& w = watches.at(dir);
        spdlog::error("watch: {} was removed or renamed; not watched until the next reload", dir);
        ::inotify_rm_watch(inotify.native_handle(), w.wd);
        by_wd.erase(w.wd);
        w.wd = -1;
    }

    // ---- the queue -----------------------------------------------------------------------
    void enqueue(const std::string& dir, const std::string& name) {
        if (queued.emplace(dir, name).second) queue.emplace_back(dir, name);
    }

    // Batches run as separate handlers so the control socket and the engine get their turns
    // during a burst of thousands of files.
    void schedule_drain() {
        if (held() && !queue.empty() && !stopped)
            spdlog::debug("watch: {} file(s) wait in their folders until the state directory has "
                          "room",
                          queue.size());
        if (drain_posted || queue.empty() || stopped || held()) return;
        drain_posted = true;
        asio::post(io, [this] {
            drain_posted = false;
            if (stopped) return;
            drain();
            schedule_drain();
        });
    }

    void drain() {
        if (held()) return;  // the files wait where they are
        std::vector<std::pair<std::string, std::string>> taken;
        for (std::size_t i = 0; i < kBatch && !queue.empty(); ++i) {
            taken.push_back(std::move(queue.front()));
            queue.pop_front();
            queued.erase(taken.back());
        }
        try {
            drain(taken);
        } catch (const store::DiskFullError& e) {
            // A claim or a record found no space: it rolled back, and the files are still in
            // the folder. They are read again once space returns.
            if (disk) disk->no_space(std::string("watched folders: ") + e.what());
            for (const auto& [dir, name] : taken) enqueue(dir, name);
        }
    }

    void drain(const std::vector<std::pair<std::string, std::string>>& taken) {
        std::vector<Item> fresh;
        for (const auto& [dir, name] : taken) {
            auto w = watches.find(dir);
            if (w == watches.end()) continue;  // watch removed by a reload: the file stays put
            if (is_prompt_list(name)) {
                prompt_list(w->second, name);
                continue;
            }
            if (auto item = examine(w->second, name)) fresh.push_back(std::move(*item));
        }
        submit(fresh);
    }

    // ---- one file --------------------------------------------------------------------------
    // Reads the file and decides: a new item to queue, or handled here (ignored, refused,
    // duplicate, resumed).
    std::optional<Item> examine(const Watch& w, const std::string& name) {
        const std::string& dir = w.config.dir;
        auto bytes = read_regular(join(dir, name), kMaxInputBytes);
        if (!bytes) {
            skip_or_refuse(dir, name, bytes.error());
            return std::nullopt;
        }
        std::string sha = sha256_hex(*bytes);
        if (auto rec = files.find(dir, name, sha)) {
            known(*rec);
            return std::nullopt;
        }
        Item item{dir, name, w.config.kind, std::move(*bytes), false, w.config.params, {}};
        item.record = WatchRecord{dir, name, sha, "", Place::processing, "", 0};
        auto sidecar = read_regular(join(dir, sidecar_name(name)), kMaxSidecarBytes);
        if (!sidecar && sidecar.error().code == "not_found") return item;
        item.has_sidecar = true;
        if (!sidecar) {
            refuse(dir, name, sidecar_error(name, sidecar.error()));
            return std::nullopt;
        }
        auto over = parse_sidecar(*sidecar, sidecar_name(name));
        if (!over) {
            refuse(dir, name, over.error());
            return std::nullopt;
        }
        item.params = merge_params(item.params, *over);
        return item;
    }

    static Error sidecar_error(const std::string& name, const Error& e) {
        return Error{"invalid_sidecar", "sidecar " + sidecar_name(name) + ": " + e.message};
    }

    void skip_or_refuse(const std::string& dir, const std::string& name, const Error& e) {
        if (e.code == "not_found" || e.code == "not_regular") {
            spdlog::debug("watch: {}/{} ignored: {}", dir, name, e.message);
        } else if (is_input_refusal(e.code)) {
            refuse(dir, name, e);
        } else {
            spdlog::warn("watch: {}/{} skipped: {}", dir, name, e.message);
        }
    }

    // The same name and content were recorded before.
    void known(WatchRecord rec) {
        const std::string from = join(rec.dir, rec.name);
        auto job = rec.job_id.empty() ? std::nullopt : jobs.get(rec.job_id);
        if (!job && !rec.job_id.empty() && rec.place != Place::processing) {
            spdlog::info("watch: {} is a duplicate of job {}, since pruned; moved to failed/",
                         from, rec.job_id);
            (void)move_into(rec.dir, from, rec.name, Place::failed,
                            pruned_duplicate_text(rec.name, rec.job_id));
            return;
        }
        if (!job) {
            spdlog::warn("watch: {} matches a record without a job; left in place", from);
            return;
        }
        bool present = rec.place != Place::gone && exists(join(sub(rec.dir, rec.place),
                                                               rec.stored));
        if (classify_known(rec.place, present) == Known::resume) {
            spdlog::info("watch: {} -> job {}: finishing an interrupted move", from, job->id);
            place_file(rec, from, *job);
            return;
        }
        spdlog::info("watch: {} is a duplicate of job {}; moved to failed/", from, job->id);
        (void)move_into(rec.dir, from, rec.name, Place::failed,
                        duplicate_text(rec.name, job->id, job->state));
    }

    void refuse(const std::string& dir, const std::string& name, const Error& why) {
        spdlog::warn("watch: {}/{} refused: {}", dir, name, why.message);
        (void)move_into(dir, join(dir, name), name, Place::failed, refusal_text(name, why));
    }

    // ---- prompt lists (*.txt) ----------------------------------------------------------------
    // One job per new non-empty line; the file stays in the folder, so lines added later become
    // jobs when it is saved again. At most kBatch lines per turn: a long list goes on in the
    // next turns, so the loop never blocks for a whole file.
    void prompt_list(const Watch& w, const std::string& name) {
        const std::string& dir = w.config.dir;
        const provider::Operation* op = provider::find_operation(w.config.kind);
        if (!op || op->image_use == provider::ImageUse::required) {
            spdlog::info("watch: {}/{} ignored: kind {} needs an image, not a prompt list", dir,
                         name, w.config.kind);
            return;
        }
        auto text = read_regular(join(dir, name), kMaxPromptListBytes);
        if (!text) {
            if (text.error().code == "not_found" || text.error().code == "not_regular")
                spdlog::debug("watch: {}/{} ignored: {}", dir, name, text.error().message);
            else
                spdlog::warn("watch: {}/{} skipped: {}", dir, name, text.error().message);
            return;
        }
        std::vector<LineRecord> claimed;
        std::vector<ports::SubmitRequest> reqs;
        for (auto& line : split_prompt_lines(name, *text)) {
            if (lines.known(dir, name, line.key)) continue;
            if (claimed.size() == kBatch) {
                enqueue(dir, name);  // the rest in a later turn
                break;
            }
            claimed.push_back({dir, name, line.key, line.job_name, "", "", now_ms()});
            ports::SubmitRequest r;
            r.kind = w.config.kind;
            r.params = w.config.params;
            if (r.params.is_object()) r.params.erase("fit");  // nothing to fit
            r.params["prompt"] = std::move(line.text);
            r.image_name = line.job_name;
            r.source = "watch";
            reqs.push_back(std::move(r));
        }
        if (claimed.empty()) return;
        put_lines(claimed);  // claims first: a crash before the commit leaves a claim
        auto results = intake.submit_many(reqs);
        std::size_t queued = 0;
        bool again = false;
        store::Transaction tx(db, store::Durability::relaxed);
        for (std::size_t i = 0; i < claimed.size(); ++i) {
            LineRecord& rec = claimed[i];
            if (results[i]) {
                rec.job_id = results[i]->id;
                ++queued;
                spdlog::info("watch: {}/{} line {} -> job {}", dir, name, rec.job_name,
                             rec.job_id);
            } else if (results[i].error().code == "state_disk_full") {
                again = true;  // logged once by the daemon; the line waits for space
                lines.erase(rec);
                continue;
            } else if (is_input_refusal(results[i].error().code)) {
                rec.error = results[i].error().message;  // not tried again for this text
                spdlog::warn("watch: {}/{} {} refused: {}", dir, name, rec.job_name, rec.error);
            } else {
                spdlog::error("watch: {}/{} {} not queued, will retry later: {}", dir, name,
                              rec.job_name, results[i].error().message);
                lines.erase(rec);
                continue;
            }
            lines.put(rec);
        }
        tx.commit();
        if (again) enqueue(dir, name);
        spdlog::info("watch: {}/{}: {} new line(s), {} queued", dir, name, claimed.size(), queued);
    }

    void put_lines(const std::vector<LineRecord>& recs) {
        store::Transaction tx(db, store::Durability::relaxed);  // synced by the jobs' commit
        for (const auto& r : recs) lines.put(r);
        tx.commit();
    }

    // Claims of lines left by a crash: bound to the job they produced, or dropped so that the
    // rescan queues the line again.
    void reconcile_lines(const std::string& dir) {
        store::Transaction tx(db, store::Durability::relaxed);
        for (auto& claim : lines.claims(dir)) {
            if (auto job_id = lines.orphan_job(claim)) {
                claim.job_id = *job_id;
                lines.put(claim);
            } else {
                lines.erase(claim);
            }
        }
        tx.commit();
    }

    // ---- batches ---------------------------------------------------------------------------
    void submit(std::vector<Item>& items) {
        if (items.empty()) return;
        claim(items);
        std::vector<ports::SubmitRequest> reqs;
        reqs.reserve(items.size());
        for (auto& it : items) {
            ports::SubmitRequest r;
            r.kind = it.kind;
            r.params = std::move(it.params);
            // `fit` in the watch's params (or a sidecar) is genq's own, not the provider's.
            if (r.params.is_object() && r.params.contains("fit")) {
                const auto& f = r.params["fit"];
                r.fit = f.is_string() ? f.get<std::string>() : f.dump();
                r.params.erase("fit");
            }
            r.image = std::move(it.bytes);
            r.image_name = it.name;
            r.source = "watch";
            reqs.push_back(std::move(r));
        }
        auto results = intake.submit_many(reqs);
        reqs.clear();  // the bytes are spooled; free them before the moves
        bind_jobs(items, results);
        for (std::size_t i = 0; i < items.size(); ++i) finish_item(items[i], results[i]);
    }

    // Each file is recorded, with its planned name in processing/, before its job commits: a
    // crash in between leaves a claim that the next start-up binds to its job or drops.
    void claim(std::vector<Item>& items) {
        std::set<std::string> reserved;
        store::Transaction tx(db, store::Durability::relaxed);  // synced by the jobs' commit
        for (auto& it : items) {
            it.record.stored = pick_name(sub(it.dir, Place::processing), it.name, reserved);
            it.record.at = now_ms();
            files.put(it.record);
        }
        tx.commit();
    }

    void bind_jobs(std::vector<Item>& items, const std::vector<Result<Job>>& results) {
        store::Transaction tx(db, store::Durability::relaxed);
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (results[i]) {
                items[i].record.job_id = results[i]->id;
                files.put(items[i].record);
            } else {
                files.erase(items[i].record);
            }
        }
        tx.commit();
    }

    void finish_item(Item& it, const Result<Job>& job) {
        const std::string from = join(it.dir, it.name);
        if (!job) {
            Error why = job.error();
            if (it.has_sidecar && why.code == "invalid_param")
                why.message += " (the watch's params with " + sidecar_name(it.name) + " on top)";
            if (why.code == "state_disk_full")
                enqueue(it.dir, it.name);  // left in place; read again once space returns
            else if (is_input_refusal(why.code))
                refuse(it.dir, it.name, why);
            else
                spdlog::error("watch: {} not queued, will retry later: {}", from, why.message);
            return;
        }
        spdlog::info("watch: {} -> job {}", from, job->id);
        place_file(it.record, from, *job);
    }

    // ---- moving files ----------------------------------------------------------------------
    // A free name in `target` for `want`: the file, its sidecar and its error.txt all unused.
    static std::string pick_name(const std::string& target, std::string_view want,
                                 std::set<std::string>& reserved) {
        std::string name = free_name(want, [&](const std::string& n) {
            return reserved.count(n) || exists(join(target, n)) ||
                   exists(join(target, sidecar_name(n))) || exists(join(target, error_name(n)));
        });
        reserved.insert(name);
        return name;
    }

    // Moves `from` (and its sidecar) into dir/<place>/ under a free name based on `want`; in
    // failed/ also writes <name>.error.txt. Returns the stored name.
    std::optional<std::string> move_into(const std::string& dir, const std::string& from,
                                         std::string_view want, Place place,
                                         const std::string& error_text,
                                         std::string first_choice = {}) {
        const std::string target = sub(dir, place);
        std::set<std::string> none;
        for (int attempt = 0; attempt < kMoveAttempts; ++attempt) {
            std::string name = attempt == 0 && !first_choice.empty()
                                   ? first_choice
                                   : pick_name(target, want, none);
            auto st = rename_no_replace(from, join(target, name));
            if (st) {
                after_move(from, target, name, place, error_text);
                return name;
            }
            if (st.error().code == "exists") continue;
            if (exists(from))
                spdlog::warn("watch: cannot move {}: {}", from, st.error().message);
            else
                spdlog::info("watch: {} vanished before it could be moved", from);
            return std::nullopt;
        }
        spdlog::warn("watch: cannot move {}: no free name in {}", from, target);
        return std::nullopt;
    }

    void after_move(const std::string& from, const std::string& target, const std::string& name,
                    Place place, const std::string& error_text) {
        const std::string sidecar = from + ".json";
        if (exists(sidecar))
            if (auto st = rename_no_replace(sidecar, join(target, sidecar_name(name))); !st)
                spdlog::warn("watch: cannot move {}: {}", sidecar, st.error().message);
        if (place == Place::failed) {
            if (auto st = write_file_durably(join(target, error_name(name)), error_text); !st)
                spdlog::warn("watch: cannot write the error note: {}", st.error().message);
        } else if (place == Place::done) {
            (void)fsync_path(target);  // the result is final: make the move survive a power cut
        }
    }

    // Moves a recorded file from `from` to where its job's state says, and records it.
    void place_file(WatchRecord rec, const std::string& from, const Job& job) {
        Place target = place_for(job.state);
        std::string text = target == Place::failed ? job_failure_text(rec.name, job) : "";
        std::string first = target == Place::processing ? rec.stored : std::string();
        auto stored = move_into(rec.dir, from, rec.name, target, text, first);
        if (stored) {
            rec.place = target;
            rec.stored = *stored;
        } else if (!exists(from)) {
            rec.place = Place::gone;  // the job stands: its input is in the spool
        } else {
            return;  // still in place: a later rescan or transition tries again
        }
        store::Transaction tx(db, store::Durability::relaxed);
        files.put(rec);
        tx.commit();
    }

    void relocate(WatchRecord rec, const Job& job) {
        const std::string src = sub(rec.dir, rec.place);
        const std::string from = join(src, rec.stored);
        if (!exists(from)) {
            // Not moved yet (genqd stopped between the record and the rename): the rescan of
            // the folder finishes the move.
            spdlog::debug("watch: {} not found for job {}", from, job.id);
            return;
        }
        // A retried job: its old reason no longer applies.
        if (rec.place == Place::failed) ::unlink(join(src, error_name(rec.stored)).c_str());
        place_file(std::move(rec), from, job);
    }

    // ---- watches -----------------------------------------------------------------------------
    void start(Watch& w) {
        const std::string& dir = w.config.dir;
        for (const auto& d : {dir, sub(dir, Place::processing), sub(dir, Place::done),
                              sub(dir, Place::failed)}) {
            if (auto st = make_dirs(d); !st) {
                spdlog::error("watch: {}: {}; not watched", dir, st.error().message);
                return;
            }
        }
        int wd = ::inotify_add_watch(inotify.native_handle(), dir.c_str(), kMask);
        if (wd < 0) {
            spdlog::error("watch: cannot watch {}: {}", dir, errno_text(errno));
            return;
        }
        if (by_wd.count(wd)) {
            spdlog::error("watch: {} is the same folder as {}; not watched twice", dir,
                          by_wd.at(wd));
            return;
        }
        w.wd = wd;
        by_wd[wd] = dir;
        reconcile(dir);
        reconcile_lines(dir);
        scan(dir);
        spdlog::info("watching {} (kind {})", dir, w.config.kind);
    }

    // Jobs that ended while genqd was down: their files move on now. Claims left by a crash
    // are bound to the job they produced, or dropped if it never committed.
    void reconcile(const std::string& dir) {
        std::vector<WatchRecord> active;
        {
            store::Transaction tx(db, store::Durability::relaxed);
            for (auto& rec : files.in_place(dir, Place::processing)) {
                if (rec.job_id.empty()) {
                    auto job_id = files.orphan_job(rec);
                    if (!job_id) {
                        files.erase(rec);
                        continue;
                    }
                    rec.job_id = *job_id;
                    files.put(rec);
                }
                active.push_back(std::move(rec));
            }
            tx.commit();
        }
        for (auto& rec : active) {
            auto job = jobs.get(rec.job_id);
            if (job && place_for(job->state) != Place::processing) relocate(rec, *job);
        }
    }

    void scan(const std::string& dir) {
        DIR* d = ::opendir(dir.c_str());
        if (!d) {
            spdlog::warn("watch: cannot list {}: {}", dir, errno_text(errno));
            return;
        }
        std::vector<std::string> names;
        while (const dirent* e = ::readdir(d))
            if (e->d_type != DT_DIR && (is_candidate(e->d_name) || is_prompt_list(e->d_name)))
                names.emplace_back(e->d_name);
        ::closedir(d);
        std::sort(names.begin(), names.end());
        for (const auto& n : names) enqueue(dir, n);
        if (!names.empty()) spdlog::info("watch: {} file(s) waiting in {}", names.size(), dir);
        schedule_drain();
    }

    void unwatch(Watch& w) {
        if (w.wd >= 0) {
            ::inotify_rm_watch(inotify.native_handle(), w.wd);
            by_wd.erase(w.wd);
        }
        spdlog::info("stopped watching {}", w.config.dir);
    }

    void configure(const std::vector<WatchConfig>& list) {
        if (!list.empty() && !open_inotify()) return;
        std::map<std::string, WatchConfig> want;
        for (auto c : list) {
            c.dir = normal_dir(c.dir);
            want.emplace(c.dir, std::move(c));
        }
        for (auto it = watches.begin(); it != watches.end();) {
            if (want.count(it->first)) {
                ++it;
                continue;
            }
            unwatch(it->second);
            it = watches.erase(it);
        }
        for (auto& [dir, c] : want) {
            auto it = watches.try_emplace(dir, Watch{c, -1}).first;
            it->second.config = std::move(c);  // kind and params apply to the next files
            if (it->second.wd < 0) start(it->second);
        }
    }
};

Watcher::Watcher(asio::io_context& io, store::Database& db, store::QueueStore& jobs,
                 ports::Intake& intake)
    : impl_(std::make_unique<Impl>(io, db, jobs, intake)) {}

Watcher::~Watcher() = default;

void Watcher::configure(const std::vector<WatchConfig>& watches) { impl_->configure(watches); }

void Watcher::set_state_disk(ports::StateDisk& disk) {
    impl_->disk = &disk;
    disk.on_change([this](bool full) {
        if (!full) impl_->schedule_drain();
    });
}

void Watcher::on_transition(const Job& job, JobState from) {
    if (job.source != "watch") return;
    Place target = place_for(job.state);
    if (target == place_for(from)) return;  // queued -> submitting -> running: nothing to move
    auto rec = impl_->files.by_job(job.id);
    if (!rec || rec->place == Place::gone || rec->place == target) return;
    impl_->relocate(std::move(*rec), job);
}

void Watcher::stop() {
    impl_->stopped = true;
    boost::system::error_code ec;
    impl_->inotify.close(ec);
}

std::size_t Watcher::active_watches() const {
    return static_cast<std::size_t>(std::count_if(
        impl_->watches.begin(), impl_->watches.end(),
        [](const auto& kv) { return kv.second.wd >= 0; }));
}

}  // namespace genq::watch
