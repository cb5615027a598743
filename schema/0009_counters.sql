-- Counters kept by triggers, so /v1/status costs the same with a million jobs as with ten
-- (issue 12): counting jobs by state scanned an index of every job, and summing credits
-- scanned the whole table. Both are read from small tables now; every writer of `jobs`
-- (insert, transition, retention's delete) keeps them right without knowing about them.

CREATE TABLE job_counts (
    state TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO job_counts (state, n) SELECT state, count(*) FROM jobs GROUP BY state;

CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_counts (state, n) VALUES (new.state, 1)
        ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER job_counts_update AFTER UPDATE OF state ON jobs WHEN old.state <> new.state BEGIN
    UPDATE job_counts SET n = n - 1 WHERE state = old.state;
    INSERT INTO job_counts (state, n) VALUES (new.state, 1)
        ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN
    UPDATE job_counts SET n = n - 1 WHERE state = old.state;
END;

-- Credits charged per key and UTC day of finished_at (a key of NULL is kept as ''). A sum
-- "since" a day boundary is a sum of whole days.
CREATE TABLE credits_daily (
    key_name TEXT NOT NULL,
    day_ms   INTEGER NOT NULL,
    credits  INTEGER NOT NULL,
    PRIMARY KEY (key_name, day_ms)
) WITHOUT ROWID;
INSERT INTO credits_daily (key_name, day_ms, credits)
    SELECT coalesce(key_name, ''), (finished_at / 86400000) * 86400000, sum(cost) FROM jobs
    WHERE cost > 0 AND finished_at IS NOT NULL GROUP BY 1, 2;

CREATE TRIGGER credits_daily_insert AFTER INSERT ON jobs
    WHEN new.cost > 0 AND new.finished_at IS NOT NULL BEGIN
    INSERT INTO credits_daily (key_name, day_ms, credits)
        VALUES (coalesce(new.key_name, ''), (new.finished_at / 86400000) * 86400000, new.cost)
        ON CONFLICT (key_name, day_ms) DO UPDATE SET credits = credits + excluded.credits;
END;
CREATE TRIGGER credits_daily_update AFTER UPDATE OF cost, finished_at, key_name ON jobs
    WHEN old.cost IS NOT new.cost OR old.finished_at IS NOT new.finished_at
         OR old.key_name IS NOT new.key_name BEGIN
    UPDATE credits_daily SET credits = credits - old.cost
        WHERE old.cost > 0 AND old.finished_at IS NOT NULL
          AND key_name = coalesce(old.key_name, '')
          AND day_ms = (old.finished_at / 86400000) * 86400000;
    INSERT INTO credits_daily (key_name, day_ms, credits)
        SELECT coalesce(new.key_name, ''), (new.finished_at / 86400000) * 86400000, new.cost
        WHERE new.cost > 0 AND new.finished_at IS NOT NULL
        ON CONFLICT (key_name, day_ms) DO UPDATE SET credits = credits + excluded.credits;
END;
CREATE TRIGGER credits_daily_delete AFTER DELETE ON jobs
    WHEN old.cost > 0 AND old.finished_at IS NOT NULL BEGIN
    UPDATE credits_daily SET credits = credits - old.cost
        WHERE key_name = coalesce(old.key_name, '')
          AND day_ms = (old.finished_at / 86400000) * 86400000;
END;

-- The dispatcher asks when the next delayed job becomes ready; without this it read the
-- not_before_s of every queued job.
CREATE INDEX jobs_queued_wake ON jobs (not_before_s) WHERE state = 'queued';
