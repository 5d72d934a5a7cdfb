-- The eventlib transactional outbox on SQLite: one row per event logged
-- inside a transaction, deleted by the relay once the transport confirmed it.
CREATE TABLE IF NOT EXISTS eventlib_outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT NOT NULL,
    name       TEXT NOT NULL,
    envelope   TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    -- Set, with the reason, when the relay cannot send the row (an event its program does not
    -- link, bad data): the relay skips the row.
    error      TEXT
);
-- The marked rows by event name: a relay clears the marks of rows whose event
-- an older program did not link, once it links it.
CREATE INDEX IF NOT EXISTS eventlib_outbox_marked ON eventlib_outbox (name) WHERE error IS NOT NULL;
-- One relay at a time sends a database file's rows: the one named here, until `until_ms`
-- (milliseconds since 1970), which it renews while it runs; the others stand by.
CREATE TABLE IF NOT EXISTS eventlib_outbox_relay (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    holder   TEXT NOT NULL,
    until_ms INTEGER NOT NULL
);
