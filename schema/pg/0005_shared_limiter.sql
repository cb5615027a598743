-- The shared store's version 5: what several nodes need beyond version 4, and the columns of
-- the embedded store's 0006_fit.sql (the fit applied to a job's image).
ALTER TABLE jobs ADD COLUMN fit TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN original_width INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN original_height INTEGER NOT NULL DEFAULT 0;
-- A lock-out in the database's clock, which genq_reserve compares (locked_until_s keeps the
-- value as the saving node gave it, in its own clock, for its restart).
ALTER TABLE key_status ADD COLUMN locked_until_db DOUBLE PRECISION NOT NULL DEFAULT 0;
CREATE INDEX jobs_node ON jobs (node) WHERE state IN ('submitting', 'running');

-- genq_reserve_send with the reason of a refusal and the wait in the database's own clock, so
-- a node converts it to its clock without knowing the offset: one round trip before every
-- request, under the key's row lock. granted: the slot is taken; else
-- locked (a lock-out some node saved) or the window is full, and wait_s until asking again
-- (slot_s: the reserved time, or when to ask again).
CREATE FUNCTION genq_reserve(k TEXT, lim INTEGER, win DOUBLE PRECISION,
                             OUT granted BOOLEAN, OUT locked BOOLEAN,
                             OUT wait_s DOUBLE PRECISION, OUT slot_s DOUBLE PRECISION)
LANGUAGE plpgsql AS $$
DECLARE
    until DOUBLE PRECISION;
    t DOUBLE PRECISION;
    n INTEGER;
    oldest DOUBLE PRECISION;
BEGIN
    INSERT INTO key_status (name, status, locked_until_s, updated_at)
        VALUES (k, 'active', 0, 0) ON CONFLICT (name) DO NOTHING;
    SELECT locked_until_db INTO until FROM key_status WHERE name = k FOR UPDATE;
    -- Read after the lock: reservations of one key are ordered in time as they are in the lock.
    t := extract(epoch FROM clock_timestamp());
    IF until > t THEN
        granted := false; locked := true; wait_s := until - t; slot_s := until;
        RETURN;
    END IF;
    SELECT count(*), min(ks.at_s) INTO n, oldest FROM key_sends ks
        WHERE ks.key_name = k AND ks.at_s > t - win;
    IF n >= lim THEN
        -- A slot frees when the oldest send leaves the window (n > lim only after the limit
        -- was lowered: then that answer is early, and the next ask is refused again).
        granted := false; locked := false; wait_s := oldest + win - t; slot_s := oldest + win;
        RETURN;
    END IF;
    INSERT INTO key_sends (key_name, at_s) VALUES (k, t);
    granted := true; locked := false; wait_s := 0; slot_s := t;
END $$;

-- Pauses that act on every node (genqctl pause/resume on any of them): one row per paused key,
-- '' = every submission. A change notifies "pauses" on genq_jobs.
CREATE TABLE paused (key TEXT PRIMARY KEY);

-- Wake-ups: every node LISTENs on genq_jobs; a new job, a cancel, a retry or any other state
-- change of a job notifies "<state> <id> <node>" at commit (LISTEN/NOTIFY delivers only
-- committed notifications). The periodic re-check stays as the fallback.
CREATE FUNCTION genq_notify_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.state IS DISTINCT FROM OLD.state THEN
        PERFORM pg_notify('genq_jobs', NEW.state || ' ' || NEW.id || ' ' || coalesce(NEW.node, ''));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE OF state ON jobs
    FOR EACH ROW EXECUTE FUNCTION genq_notify_job();
