-- The eventlib transactional outbox on PostgreSQL: one row per event logged
-- inside a transaction, deleted by the relay once the transport confirmed it.
--
-- Run as one transaction (as `migrate` does), the lock makes services that
-- start at the same time apply it one after another: at once, the DDL below
-- fails (deadlock, duplicate type or trigger).
SELECT pg_advisory_xact_lock(1702259810, 1);
CREATE TABLE IF NOT EXISTS eventlib_outbox (
    seq        BIGSERIAL PRIMARY KEY,
    event_id   TEXT NOT NULL,
    name       TEXT NOT NULL,
    envelope   TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set, with the reason, when the relay cannot send the row (an event its program does not
    -- link, bad data): the relay skips the row.
    error      TEXT
);
-- The marked rows by event name: a relay clears the marks of rows whose event
-- an older program did not link, once it links it.
CREATE INDEX IF NOT EXISTS eventlib_outbox_marked ON eventlib_outbox (name) WHERE error IS NOT NULL;
-- Wakes the relays (LISTEN eventlib_outbox) when a transaction that wrote rows commits.
CREATE OR REPLACE FUNCTION eventlib_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('eventlib_outbox', '');
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS eventlib_outbox_notify ON eventlib_outbox;
CREATE TRIGGER eventlib_outbox_notify AFTER INSERT ON eventlib_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION eventlib_outbox_notify();
