-- genq schema v1 for PostgreSQL: schema/0001_initial.sql translated, plus what a shared store
-- needs (inputs in the database, the node owning a job, a heartbeat row per node). Applied in
-- order by the first node to start, under an advisory lock; schema_version records the last.
-- Times are milliseconds since the Unix epoch (UTC) unless named *_s (fractional seconds).
-- Ids compare in the "C" collation: cursors and prefixes order them byte-wise, as SQLite does.

CREATE TABLE jobs (
    id              TEXT COLLATE "C" PRIMARY KEY,
    kind            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN
                      ('queued','submitting','running','succeeded','failed','canceled')),
    priority        INTEGER NOT NULL DEFAULT 0,
    params          TEXT NOT NULL,
    input_name      TEXT NOT NULL,
    input_sha256    TEXT NOT NULL,             -- inputs.sha256
    input_width     INTEGER NOT NULL,
    input_height    INTEGER NOT NULL,
    input_bytes     BIGINT NOT NULL,
    mask_sha256     TEXT,
    requested_key   TEXT,
    key_name        TEXT,
    remote_id       TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    polls           INTEGER NOT NULL DEFAULT 0,
    not_before_s    DOUBLE PRECISION NOT NULL DEFAULT 0,
    wait_reason     TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    finished_at     BIGINT,
    output          TEXT,
    finish_reason   TEXT,
    seed            TEXT,
    error_code      TEXT,
    error_message   TEXT,
    source          TEXT NOT NULL,
    uid             BIGINT,
    cost            INTEGER NOT NULL DEFAULT 0,
    node            TEXT                       -- the node that claimed it last (owns its generation)
);
CREATE INDEX jobs_queue ON jobs (priority DESC, id) WHERE state = 'queued';
CREATE INDEX jobs_state ON jobs (state, id);
CREATE INDEX jobs_output ON jobs (output) WHERE output IS NOT NULL;

CREATE TABLE job_events (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      TEXT COLLATE "C" NOT NULL REFERENCES jobs (id),
    at          BIGINT NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX job_events_job ON job_events (job_id, seq);

CREATE TABLE key_status (
    name        TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    locked_until_s DOUBLE PRECISION NOT NULL DEFAULT 0,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE watch_files (
    dir         TEXT NOT NULL,
    name        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    job_id      TEXT,
    at          BIGINT NOT NULL,
    PRIMARY KEY (dir, name, sha256)
);

CREATE TABLE key_sends (
    key_name    TEXT NOT NULL,
    at_s        DOUBLE PRECISION NOT NULL
);
CREATE INDEX key_sends_key ON key_sends (key_name, at_s);

-- The spool of the embedded store, in the database: any node can submit any job.
CREATE TABLE inputs (
    sha256      TEXT PRIMARY KEY,
    bytes       BYTEA NOT NULL
);

-- One row per node, its heartbeat in the database's clock (node clocks differ).
CREATE TABLE nodes (
    name         TEXT PRIMARY KEY,
    started_at_s DOUBLE PRECISION NOT NULL,
    heartbeat_s  DOUBLE PRECISION NOT NULL
);

-- The per-key limiter, exact across nodes: one call before every request reserves a slot under
-- the key's row lock, in the database's clock (node clocks differ). Returns the reserved time
-- (> 0), or minus the earliest time worth asking again (a lock-out, or a full window).
CREATE FUNCTION genq_reserve_send(k TEXT, lim INTEGER, win DOUBLE PRECISION)
RETURNS DOUBLE PRECISION LANGUAGE plpgsql AS $$
DECLARE
    locked DOUBLE PRECISION;
    t DOUBLE PRECISION;
    n INTEGER;
    oldest DOUBLE PRECISION;
BEGIN
    INSERT INTO key_status (name, status, locked_until_s, updated_at)
        VALUES (k, 'active', 0, 0) ON CONFLICT (name) DO NOTHING;
    SELECT locked_until_s INTO locked FROM key_status WHERE name = k FOR UPDATE;
    -- Read after the lock: reservations of one key are ordered in time as they are in the lock.
    t := extract(epoch FROM clock_timestamp());
    IF locked > t THEN
        RETURN -locked;
    END IF;
    SELECT count(*), min(at_s) INTO n, oldest FROM key_sends WHERE key_name = k AND at_s > t - win;
    IF n >= lim THEN
        RETURN -(oldest + win);
    END IF;
    INSERT INTO key_sends (key_name, at_s) VALUES (k, t);
    RETURN t;
END $$;
