-- The event store: one append-only table in global order. Positions and stream versions
-- are assigned by the writer inside an IMMEDIATE transaction, so they never have gaps
-- that fill in later (a reader at position N has seen everything below N).
CREATE TABLE events (
    position       INTEGER PRIMARY KEY,
    event_id       TEXT    NOT NULL UNIQUE,
    stream_id      TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    payload        TEXT    NOT NULL,
    metadata       TEXT    NOT NULL,
    recorded_at    INTEGER NOT NULL,  -- Unix microseconds
    UNIQUE (stream_id, version)
);

-- Point-in-time loads look up the last version recorded before a time.
CREATE INDEX events_stream_time ON events (stream_id, recorded_at);

CREATE TABLE snapshots (
    stream_id     TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    state_version INTEGER NOT NULL,  -- the aggregate's state format; others are ignored
    state         TEXT    NOT NULL,
    taken_at      INTEGER NOT NULL,
    PRIMARY KEY (stream_id, version)
);

-- Durable positions of everything that follows the log: projections, outbox relays.
CREATE TABLE checkpoints (
    name       TEXT    PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
