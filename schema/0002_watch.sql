-- Where each watched file sits now, so completions move it and restarts reconcile it.
-- place: processing | done | failed | gone (vanished before genq could move it);
-- stored: the file's name inside dir/<place>/ (it differs from `name` after a collision).
-- A row with job_id NULL is a claim made just before the job was queued (crash recovery).
ALTER TABLE watch_files ADD COLUMN place TEXT NOT NULL DEFAULT 'processing';
ALTER TABLE watch_files ADD COLUMN stored TEXT NOT NULL DEFAULT '';
CREATE INDEX watch_files_job ON watch_files (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX watch_files_place ON watch_files (dir, place);
