-- When a generation's last poll was answered (seconds since the epoch, 0 = never): the next poll
-- keeps poll_interval from it across a restart, and across nodes on a shared store.
ALTER TABLE jobs ADD COLUMN last_poll_at REAL NOT NULL DEFAULT 0;
