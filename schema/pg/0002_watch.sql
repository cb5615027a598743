-- schema/0002_watch.sql for PostgreSQL.
ALTER TABLE watch_files ADD COLUMN place TEXT NOT NULL DEFAULT 'processing';
ALTER TABLE watch_files ADD COLUMN stored TEXT NOT NULL DEFAULT '';
CREATE INDEX watch_files_job ON watch_files (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX watch_files_place ON watch_files (dir, place);
