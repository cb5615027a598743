-- Retention (issue 14): finished jobs are pruned after [retention] finished_jobs.
-- The sweeper finds them by finish time, and an input is deleted only when no remaining job
-- uses it (image or mask), so both lookups get an index.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_input ON jobs (input_sha256);
CREATE INDEX jobs_mask ON jobs (mask_sha256) WHERE mask_sha256 IS NOT NULL;
-- The credits of pruned jobs, per key and UTC day (day_ms: the day's start), so the daily budget
-- and the totals of /v1/status still count them.
CREATE TABLE pruned_credits (
    key_name TEXT NOT NULL,
    day_ms   INTEGER NOT NULL,
    credits  INTEGER NOT NULL,
    PRIMARY KEY (key_name, day_ms)
);
