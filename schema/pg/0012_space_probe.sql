-- The shared store's disk full (SQLSTATE 53100): each node rewrites its row here to learn
-- whether the database's disk takes writes again (PgQueueStore::has_room). The pad is stored
-- out of line and uncompressed (STORAGE EXTERNAL), so a probe needs real pages, as the writes
-- it stands for do.
CREATE TABLE space_probe (
    node  TEXT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    pad   BYTEA NOT NULL
);
ALTER TABLE space_probe ALTER COLUMN pad SET STORAGE EXTERNAL;
