-- What the poll planner learned about each kind's generation times (sched/gen_time_estimate's
-- text form), so a restart does not start from nothing.
CREATE TABLE planner_state (
    kind TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
