#include "machine_world.hpp"

#include <algorithm>
#include <limits>

namespace genq::test {

using namespace sched;

sched::Reply answered(int status, std::string_view body, bool submit, bool sync) {
    Reply r;
    r.answered = true;
    r.status = status;
    r.answer = submit ? provider::classify_submit(status, body, sync)
                      : provider::classify_poll(status, body);
    if (r.answer.outcome == provider::Outcome::result) r.result.ext = sync ? "png" : "mp4";
    return r;
}

sched::Reply transport(errc e) {
    Reply r;
    r.transport = Error{e, std::string(errc_name(e)) + " (simulated)"};
    return r;
}

World::World(std::string kind_, ProviderScript script_)
    : kind(std::move(kind_)), script(std::move(script_)) {}

Job& World::add_job() {
    Job j;
    j.id = "job" + std::to_string(store.size() + 1);
    j.kind = kind;
    j.input_name = "cat.png";
    j.input_sha256 = "feed";
    j.created_at = j.updated_at = clock.now_ms();
    events[j.id].push_back("->queued");
    return store[j.id] = j;
}

int World::terminal_events(const std::string& id) const {
    int n = 0;
    for (const auto& e : events.at(id))
        if (e.ends_with("succeeded") || e.ends_with("failed") || e.ends_with("canceled")) ++n;
    return n;
}

void World::step() {
    ++steps;
    if (crash_at > 0 && steps == crash_at) throw Crash{};
}

bool World::write_ok() {
    ++store_writes;
    if (full_at_write > 0 && store_writes == full_at_write) {
        disk_full = true;
        full_until_ = clock.now() + full_for;
        machine_->set_store_full(true);  // the driver hears of it from its disk monitor
    }
    if (disk_full) ++failed_writes;
    return !disk_full;
}

std::vector<std::pair<Job, OnDisk>> World::found_at_start() {
    std::vector<std::pair<Job, OnDisk>> out;
    for (const auto& [id, job] : store) {
        if (job.state != JobState::submitting && job.state != JobState::running) continue;
        OnDisk d;
        d.final_exists = !job.output.empty() && files.count(job.output);
        d.temp_exists = files.count(part(id)) > 0;
        d.temp_complete = d.temp_exists;  // the world writes a result file in one step
        out.emplace_back(job, d);
    }
    return out;
}

void World::boot() {
    machine_ = std::make_unique<JobMachine>(42);
    MachineSettings s;
    s.keys = {{"main", 1}};
    s.retry.max_attempts = 4;
    machine_->configure(s);
    machine_->set_spent_today(0, clock.now());
    pending_.clear();
    perform(machine_->recover(found_at_start(), clock.now()));
}

sched::Reply World::answer(const std::string& job_id, bool poll, bool& write_part) {
    const bool sync = is_sync(store[job_id]);
    if (!poll) {
        ++submits_sent;
        int n = ++submit_count_;
        std::optional<Reply> r = script.submit_override ? script.submit_override(n) : std::nullopt;
        if (!r) {
            if (sync) {
                r = answered(200, "", true, true);
            } else {
                std::string gen = "gen" + std::to_string(next_generation_++);
                generation_[job_id] = gen;
                r = answered(200, R"({"id":")" + gen + R"("})", true, false);
            }
        }
        if (r->answered && r->status == 200) {
            ++charges[job_id];
            ++charged_sent;
        }
        write_part = r->answered && r->answer.outcome == provider::Outcome::result;
        return *r;
    }
    ++polls_sent;
    int n = ++poll_count_;
    std::optional<Reply> r = script.poll_override ? script.poll_override(n) : std::nullopt;
    if (!r) {
        int seen = ++polls_seen_[generation_[job_id]];
        r = seen > script.polls_until_ready ? answered(200, "", false, false)
                                            : answered(202, R"({"status":"in-progress"})", false, false);
    }
    write_part = r->answered && r->answer.outcome == provider::Outcome::result;
    return *r;
}

void World::perform(const Actions& actions) {
    std::set<std::string> lost;
    for (const auto& a : actions) act(a, lost);
}

void World::act(const Action& a, std::set<std::string>& lost) {
    if (const auto* c = std::get_if<Commit>(&a)) {
        if (lost.count(c->job.id)) return;
        // Behind a kept write of the same job, or on a full disk: the machine keeps it.
        if (machine_->has_unsaved(c->job.id) || !write_ok()) {
            if (machine_->on_commit_failed(*c)) lost.insert(c->job.id);
            return;
        }
        Job& stored = store[c->job.id];
        if (stored.state != c->job.state) {
            lost.insert(c->job.id);
            machine_->on_conflict(c->job.id);
            return;
        }
        stored = c->job;
        stored.state = c->to;
        if (c->to == JobState::running) ++charged_known;
        events[stored.id].push_back(std::string(to_string(c->job.state)) + "->" +
                                    std::string(to_string(c->to)));
        step();
    } else if (const auto* s = std::get_if<SaveProgress>(&a)) {
        if (lost.count(s->job.id) || machine_->has_unsaved(s->job.id)) return;
        if (!write_ok()) return;  // progress only: dropped, as the driver does
        JobState keep = store[s->job.id].state;
        store[s->job.id] = s->job;
        store[s->job.id].state = keep;
        step();
    } else if (const auto* sub = std::get_if<SendSubmit>(&a)) {
        if (lost.count(sub->job_id)) return;
        Pending p{sub->request, sub->job_id, false, {}, false};
        if (machine_->may_send(sub->request, clock.now())) {
            p.reply = answer(sub->job_id, false, p.write_part);
            step();  // the request reached the provider (and was charged)
        } else {
            p.reply = transport(errc::rate_limited_local);
        }
        pending_.push_back(std::move(p));
    } else if (const auto* pl = std::get_if<SendPoll>(&a)) {
        Pending p{pl->request, pl->job_id, true, {}, false};
        if (machine_->may_send(pl->request, clock.now())) {
            p.reply = answer(pl->job_id, true, p.write_part);
            step();
        } else {
            p.reply = transport(errc::rate_limited_local);
        }
        pending_.push_back(std::move(p));
    } else if (const auto* place_it = std::get_if<PlaceResult>(&a)) {
        place(*place_it);
    } else if (const auto* d = std::get_if<DiscardTemp>(&a)) {
        files.erase(part(d->job_id));
    } else if (const auto* ab = std::get_if<AbortRequest>(&a)) {
        for (auto& p : pending_)
            if (p.request == ab->request) {
                p.reply = transport(errc::canceled);
                p.write_part = false;
            }
    }
}

void World::place(const PlaceResult& p) {
    Job job = p.job;
    if (!p.already_in_place) {
        if (!files.count(part(job.id))) {
            perform(machine_->on_placed(job.id, Error{"io_error", "no temporary file"}, "",
                                        clock.now()));
            return;
        }
        if (job.output.empty()) {
            if (!write_ok()) {  // the name's reservation found no space: placed later
                machine_->on_place_deferred(p);
                return;
            }
            std::string base = "/out/cat";
            std::string ext = p.ext.empty() ? "png" : p.ext;
            job.output = base + "." + ext;
            for (int n = 1; files.count(job.output) || files.count(job.output + ".json"); ++n)
                job.output = base + "-" + std::to_string(n) + "." + ext;
            JobState keep = store[job.id].state;
            store[job.id] = job;  // the reservation (and the result's facts) saved
            store[job.id].state = keep;
            step();
        }
        files.erase(part(job.id));
        files.insert(job.output);
        step();  // renamed into place
    }
    files.insert(job.output + ".json");
    step();  // metadata written
    perform(machine_->on_placed(job.id, ok_status(), job.output, clock.now()));
}

void World::deliver() {
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& p : pending) {
        if (p.write_part) {
            files.insert(part(p.job_id));
            if (!p.poll) ++charged_known;
            step();  // the result is whole in its temporary file
        }
        perform(machine_->on_reply(p.request, p.reply, clock.now()));
    }
}

void World::run(int max_steps) {
    int start = steps;
    while (steps - start < max_steps) {
        bool all_done = std::all_of(store.begin(), store.end(),
                                    [](const auto& kv) { return is_terminal(kv.second.state); });
        if (all_done && pending_.empty()) return;
        TimePoint t = clock.now();
        if (disk_full && t >= full_until_) {  // the probe found room
            disk_full = false;
            perform(machine_->store_writable());
            continue;
        }
        perform(machine_->dispatch_polls(t));
        std::vector<Job> ready;
        TimePoint queued_wake = std::numeric_limits<TimePoint>::infinity();
        for (const auto& [id, job] : store) {
            if (job.state != JobState::queued) continue;
            if (job.not_before_s <= t)
                ready.push_back(job);
            else
                queued_wake = std::min(queued_wake, job.not_before_s);
        }
        if (!ready.empty() && machine_->wants_submissions(t))
            perform(machine_->offer(ready, t).actions);
        if (!pending_.empty()) {
            deliver();
            continue;
        }
        TimePoint next = std::min(machine_->next_wake(t, !ready.empty()), queued_wake);
        if (disk_full) next = std::min(next, full_until_);
        if (next == std::numeric_limits<TimePoint>::infinity()) return;  // nothing can move
        clock.set(std::max(next, t + 0.001));
    }
}

}  // namespace genq::test
