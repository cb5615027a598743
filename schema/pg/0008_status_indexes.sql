-- Indexes for /v1/status and the dispatcher with a long queue (issue 12). The credits sums
-- read only jobs that cost something, from the index; the next delayed job is an index seek
-- instead of reading every queued job. (Counting jobs by state still reads the state index:
-- the SQLite store keeps counters by trigger, which would serialise the nodes here.)
CREATE INDEX jobs_finished_cost ON jobs (finished_at) INCLUDE (key_name, cost) WHERE cost > 0;
CREATE INDEX jobs_queued_wake ON jobs (not_before_s) WHERE state = 'queued';
