-- Issue 11's remaining gaps for the shared store.
--
-- Who holds a generation, exactly. `claim` is a token the adopting node writes at every
-- adoption (a claim from the queue, its own recovery at start, a takeover): a node that lost a
-- job (taken over while it was stalled, restarted elsewhere under the same name) no longer
-- matches (node, claim, attempts), so its writes and its reservations for that job are refused.
-- `sent_claim` is the claim under which the last reservation for the job was granted: a
-- submitting job whose sent_claim is not its claim never had a byte sent under that claim (a
-- reservation precedes every request), so a takeover gives its attempt back.
ALTER TABLE jobs ADD COLUMN claim BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN sent_claim BIGINT NOT NULL DEFAULT 0;

-- genq_reserve for a job's request: refused as `lost` unless the job is still held by (nd, tok)
-- and active; the job's row is locked first (a takeover of it waits for this commit), then the
-- key's. Granted: the job records that bytes may have gone out under this claim.
CREATE FUNCTION genq_reserve_job(k TEXT, lim INTEGER, win DOUBLE PRECISION, job TEXT, nd TEXT,
                                 tok BIGINT, OUT granted BOOLEAN, OUT locked BOOLEAN,
                                 OUT lost BOOLEAN, OUT wait_s DOUBLE PRECISION,
                                 OUT slot_s DOUBLE PRECISION)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM jobs WHERE id = job AND node = nd AND claim = tok
        AND state IN ('submitting', 'running') FOR UPDATE;
    IF NOT FOUND THEN
        granted := false; locked := false; lost := true; wait_s := 0; slot_s := 0;
        RETURN;
    END IF;
    lost := false;
    SELECT r.granted, r.locked, r.wait_s, r.slot_s INTO granted, locked, wait_s, slot_s
        FROM genq_reserve(k, lim, win) r;
    IF granted THEN
        UPDATE jobs SET sent_claim = tok WHERE id = job;
    END IF;
END $$;

-- Events in commit order (SSE's Last-Event-ID across nodes): job_events.seq comes from one
-- sequence, and two nodes' transactions could commit out of seq order, so a reader resuming
-- after seq N could miss an N-1 committed a moment later. Every statement that inserts events
-- first takes one transaction-level lock (before its rows, and so their seq, are formed), held
-- to its commit: seq order is commit order. Each such transaction is one short statement.
CREATE FUNCTION genq_events_in_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7450482590164713474);  -- "genq", 2 (1: migrations)
    RETURN NULL;
END $$;
CREATE TRIGGER job_events_order BEFORE INSERT ON job_events
    FOR EACH STATEMENT EXECUTE FUNCTION genq_events_in_order();

-- `genqctl resume --budget` on any node lifts the day's budget on every node: one row per UTC
-- day lifted (start of the day, ms); a change notifies "pauses" like a pause does.
CREATE TABLE budget_lifts (day_ms BIGINT PRIMARY KEY);
