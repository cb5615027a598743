#include "app/engine_actions.hpp"

#include <unistd.h>

#include <cstdlib>
#include <spdlog/spdlog.h>
#include <type_traits>

#include "app/engine_core.hpp"
#include "app/metrics.hpp"
#include "core/files.hpp"
#include "provider/operation.hpp"

namespace genq::app {

using namespace sched;

void ActionPerformer::perform(const Actions& actions) {
    Lost lost;
    for (const auto& a : actions) {
        try {
            std::visit([&](const auto& x) { act(x, lost); }, a);
        } catch (const store::DbUnavailable& err) {
            // The shared store is unreachable: whether this step of the job happened is
            // unknown, so the machine forgets the job, and once the store answers again the
            // reconcile takes it back as the store has it (Recovery::reconcile_if_reconnected).
            std::string id = job_of(a);
            spdlog::warn("job {}: the shared store is unreachable: {}", id.empty() ? "-" : id,
                         err.what());
            if (!id.empty() && lost.insert(id).second) e_.machine.on_conflict(id);
        }
    }
}

std::string ActionPerformer::job_of(const Action& a) {
    return std::visit(
        [](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, Commit> || std::is_same_v<T, SaveProgress> ||
                          std::is_same_v<T, PlaceResult>)
                return x.job.id;
            else if constexpr (std::is_same_v<T, SendSubmit> || std::is_same_v<T, SendPoll> ||
                               std::is_same_v<T, DiscardTemp>)
                return x.job_id;
            else
                return {};
        },
        a);
}

void ActionPerformer::act(const Commit& c, Lost& lost) {
    if (lost.count(c.job.id)) return;
    Job job = c.job;
    JobState from = job.state;
    // On the embedded store a durable commit is written without its fsync and the WAL is
    // synced on the syncer's thread (one fdatasync for every commit made meanwhile): two of
    // them per job blocked the loop a millisecond each. Nothing waits for that sync: a killed
    // process keeps the WAL (page cache), and a power cut within the millisecond is the same
    // case as one a moment before the commit, which recovery already handles. A shared
    // store's commits are durable in the statement.
    bool sync_later = c.durable && !e_.shared;
    auto d = c.durable && !sync_later ? store::Durability::full : store::Durability::relaxed;
    bool written = false;
    // A job with changes still unwritten keeps its order: this one waits behind them.
    bool behind = e_.machine.has_unsaved(job.id);
    auto write = [&] { written = e_.store.transition(job, c.to, c.detail, d, job.updated_at); };
    if (behind || !e_.guarded("a job's commit", write)) {
        if (e_.machine.on_commit_failed(c)) lost.insert(job.id);
        return;
    }
    if (!written) {
        lost.insert(job.id);
        e_.machine.on_conflict(job.id);
        return;
    }
    if (sync_later) e_.store.when_durable(&on_wal_synced);
    ++e_.metrics.transitions;
    log_transition(job, from, c.detail);
    for (auto& l : e_.listeners) e_.guarded("after a commit", [&] { l(job, from, c.detail); });
    if (c.to == JobState::queued) e_.dispatcher.queue_changed();
}

// On the syncer's thread. A failed fsync is not tried again: after one, what the kernel still
// holds of the file is unknown (PostgreSQL stops on it since 2018, for the same reason); the
// next start recovers every job from what the database has.
void ActionPerformer::on_wal_synced(Status st) {
    if (st) return;
    spdlog::critical("database failure: the WAL could not be synced: {}; stopping",
                     st.error().message);
    std::_Exit(1);
}

void ActionPerformer::act(const SaveProgress& s, Lost& lost) {
    if (lost.count(s.job.id) || e_.machine.has_unsaved(s.job.id)) return;  // the commit carries it
    e_.guarded("a job's progress", [&] {
        e_.store.save_progress(s.job,
                               s.durable ? store::Durability::full : store::Durability::relaxed);
    });
}

void ActionPerformer::act(const SendSubmit& s, Lost& lost) {
    if (lost.count(s.job_id)) return;
    e_.requests.start_submit(s.request, s.job_id);
}

void ActionPerformer::act(const SendPoll& s, Lost& lost) {
    if (lost.count(s.job_id)) return;
    e_.requests.start_poll(s.request, s.job_id);
    e_.dispatcher.notify();  // the dispatcher may sleep past the next due poll
}

void ActionPerformer::act(const PlaceResult& p, Lost& lost) {
    if (lost.count(p.job.id)) return;
    Job job = p.job;
    Status placed = ok_status();
    if (p.already_in_place) {
        placed = e_.outputs.write_metadata(job);
        if (!placed) {
            spdlog::warn("job {}: metadata not written: {}", job.id, placed.error().message);
            placed = ok_status();  // the result itself is in place
        }
    } else {
        std::string ext = p.ext;
        if (ext.empty()) ext = extension_on_disk(job);
        auto d = p.durable_reservation ? store::Durability::full : store::Durability::relaxed;
        // A new result: its files are moved off the loop, and the machine hears from there.
        if (job.output.empty()) return e_.placer.place(p, ext, d);
        // A name reserved before a restart: placed here (rare, and its metadata replaced).
        // The name's reservation is a store write: without space the result waits in its
        // temporary file and is placed once space returns.
        if (!e_.guarded("a result's name", [&] { placed = e_.outputs.place(job, ext, d); }))
            return e_.machine.on_place_deferred(p);
        if (!placed) spdlog::error("job {}: result not saved: {}", job.id, placed.error().message);
    }
    perform(e_.machine.on_placed(job.id, placed, job.output, e_.now()));
}

void ActionPerformer::act(const DiscardTemp& d, Lost&) {
    ::unlink(e_.outputs.part_path(d.job_id).c_str());
}

void ActionPerformer::act(const AbortRequest& a, Lost&) { e_.requests.abort(a.request); }

void ActionPerformer::act(const SendBalance& b, Lost&) {
    e_.requests.start_balance(b.request, b.key);
}

void ActionPerformer::act(const KeyChanged& k, Lost&) {
    if (k.status == 429) {
        e_.guarded("a key's lock-out", [&] { e_.store.save_lockout(k.key, k.locked_until); });
        ++e_.metrics.lockouts[k.key];
        spdlog::warn("key {}: provider answered 429 ({}); resting {:.0f} s", k.key, k.code,
                     e_.settings.limits.lockout);
        return;
    }
    spdlog::error("key {}: provider answered {} ({}); no new work for this key until reload{}",
                  k.key, k.status, k.code, k.status == 402 ? " or resume" : "");
}

void ActionPerformer::log_transition(const Job& job, JobState from, const std::string& detail) {
    // Only a job's end is worth a line at info; the steps between are at debug (a line
    // formatted and written per step was a measurable share of the CPU per job).
    auto level = job.state == JobState::failed ? spdlog::level::err
                 : job.state == JobState::queued && from == JobState::submitting
                     ? spdlog::level::warn
                 : is_terminal(job.state) ? spdlog::level::info
                                          : spdlog::level::debug;
    if (!spdlog::should_log(level)) return;
    spdlog::log(level, "job {} {} -> {} key={} {}", job.id, to_string(from),
                to_string(job.state), job.key_name.empty() ? "-" : job.key_name, detail);
}

std::string ActionPerformer::extension_on_disk(const Job& job) {
    const auto* op = provider::find_operation(job.kind);
    std::string head;
    if (auto bytes = read_file(e_.outputs.part_path(job.id), 16)) head = *bytes;
    return op ? provider::result_file_ext(*op, job.params, "", head) : "bin";
}

}  // namespace genq::app
