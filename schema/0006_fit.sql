-- --fit (issue 15): the fit applied to a job's image ('' = none, 'crop', 'pad') and the
-- dimensions it had before; input_width/input_height are those of the fitted PNG.
ALTER TABLE jobs ADD COLUMN fit TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN original_width INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN original_height INTEGER NOT NULL DEFAULT 0;

-- Watched *.txt files for prompt-only kinds: one job per non-empty line. A line is known by its
-- text and its occurrence in the file (line_key), so an edited or re-saved file queues only its
-- new lines, also across restarts. job_id NULL with error '' is a claim made just before the job
-- was queued (crash recovery, as for watch_files); error <> '' is a line the intake refused.
CREATE TABLE watch_lines (
    dir TEXT NOT NULL,
    name TEXT NOT NULL,
    line_key TEXT NOT NULL,
    job_name TEXT NOT NULL,
    job_id TEXT,
    error TEXT NOT NULL DEFAULT '',
    at INTEGER NOT NULL,
    PRIMARY KEY (dir, name, line_key)
);
