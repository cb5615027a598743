-- Answers to submissions that carried an Idempotency-Key (SPEC §6): a repeat within 24 h is
-- answered from here, also after a restart. Rows older than a day are pruned on insert.
CREATE TABLE idempotency (
    key          TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    body         TEXT NOT NULL,
    at_ms        INTEGER NOT NULL
);
CREATE INDEX idempotency_at ON idempotency (at_ms);
