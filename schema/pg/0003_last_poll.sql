-- schema/0003_last_poll.sql for PostgreSQL.
ALTER TABLE jobs ADD COLUMN last_poll_at DOUBLE PRECISION NOT NULL DEFAULT 0;
