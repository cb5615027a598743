-- The SQLite store's versions 4 and 5 for the shared store: what the poll planner learned per
-- kind, and the answers to submissions that carried an Idempotency-Key (SPEC §6).
CREATE TABLE planner_state (
    kind TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE idempotency (
    key          TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    body         TEXT NOT NULL,
    at_ms        BIGINT NOT NULL
);
CREATE INDEX idempotency_at ON idempotency (at_ms);
