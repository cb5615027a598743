-- genq schema v1. Applied in order at start-up; PRAGMA user_version records the last applied.
-- Times are milliseconds since the Unix epoch (UTC) unless named *_at_s (fractional seconds).

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,          -- genq's own id, sortable by creation time
    kind            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN
                      ('queued','submitting','running','succeeded','failed','canceled')),
    priority        INTEGER NOT NULL DEFAULT 0,
    params          TEXT NOT NULL,             -- JSON object, validated and normalised
    input_name      TEXT NOT NULL,
    input_sha256    TEXT NOT NULL,             -- spool/<sha256>
    input_width     INTEGER NOT NULL,
    input_height    INTEGER NOT NULL,
    input_bytes     INTEGER NOT NULL,
    mask_sha256     TEXT,
    requested_key   TEXT,                      -- the caller asked for this key
    key_name        TEXT,                      -- the key that submitted it (kept while running)
    remote_id       TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    polls           INTEGER NOT NULL DEFAULT 0,
    not_before_s    REAL NOT NULL DEFAULT 0,   -- backoff: not submitted before this time
    wait_reason     TEXT,                      -- why a queued job waits (backoff, budget, ...)
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    output          TEXT,                      -- absolute path; reserved before the rename
    finish_reason   TEXT,
    seed            TEXT,
    error_code      TEXT,
    error_message   TEXT,
    source          TEXT NOT NULL,             -- socket | watch | http
    uid             INTEGER,
    cost            INTEGER NOT NULL DEFAULT 0 -- credits charged by the provider
);
CREATE INDEX jobs_queue ON jobs (state, priority DESC, id) WHERE state = 'queued';
CREATE INDEX jobs_state ON jobs (state, id);
CREATE INDEX jobs_output ON jobs (output) WHERE output IS NOT NULL;

CREATE TABLE job_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id      TEXT NOT NULL REFERENCES jobs (id),
    at          INTEGER NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX job_events_job ON job_events (job_id, seq);

-- Keys that the provider answered 401/402: they stay out of rotation across restarts until a
-- reload or resume clears them.
CREATE TABLE key_status (
    name        TEXT PRIMARY KEY,
    status      TEXT NOT NULL,                 -- unauthorized | out_of_credits
    locked_until_s REAL NOT NULL DEFAULT 0,    -- 429 lockout end
    updated_at  INTEGER NOT NULL
);

-- Files of watched directories already turned into jobs (path + content hash).
CREATE TABLE watch_files (
    dir         TEXT NOT NULL,
    name        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    job_id      TEXT,
    at          INTEGER NOT NULL,
    PRIMARY KEY (dir, name, sha256)
);

-- Recent request times per key, so the rate limiter's memory survives a restart (SPEC §4):
-- a daemon that crash-loops never sends a fresh burst. Pruned to the last window.
CREATE TABLE key_sends (
    key_name    TEXT NOT NULL,
    at_s        REAL NOT NULL
);
CREATE INDEX key_sends_key ON key_sends (key_name, at_s);
