-- schema/0007_retention.sql for PostgreSQL: indexes for the sweeper, the credits of pruned jobs
-- per key and UTC day, and when each input was last stored (put_at_s, the database's clock): an
-- input no job uses is deleted only once it is older than a grace, since another node may have
-- stored it a moment ago and not yet committed the job that uses it.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_input ON jobs (input_sha256);
CREATE INDEX jobs_mask ON jobs (mask_sha256) WHERE mask_sha256 IS NOT NULL;
CREATE TABLE pruned_credits (
    key_name TEXT NOT NULL,
    day_ms   BIGINT NOT NULL,
    credits  BIGINT NOT NULL,
    PRIMARY KEY (key_name, day_ms)
);
ALTER TABLE inputs ADD COLUMN put_at_s DOUBLE PRECISION NOT NULL DEFAULT 0;
