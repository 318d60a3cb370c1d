-- The event store: one append-only table in global order. Positions and stream versions
-- are assigned by the writer under a transaction-scoped advisory lock, so commits happen
-- in position order and a reader at position N has seen everything below N.
CREATE TABLE events (
    position       BIGINT PRIMARY KEY,
    event_id       TEXT   NOT NULL UNIQUE,
    stream_id      TEXT   NOT NULL,
    version        BIGINT NOT NULL,
    event_type     TEXT   NOT NULL,
    schema_version BIGINT NOT NULL,
    payload        TEXT   NOT NULL,
    metadata       TEXT   NOT NULL,
    recorded_at    BIGINT NOT NULL,  -- Unix microseconds
    UNIQUE (stream_id, version)
);

CREATE INDEX events_stream_time ON events (stream_id, recorded_at);

CREATE TABLE snapshots (
    stream_id     TEXT   NOT NULL,
    version       BIGINT NOT NULL,
    state_version BIGINT NOT NULL,
    state         TEXT   NOT NULL,
    taken_at      BIGINT NOT NULL,
    PRIMARY KEY (stream_id, version)
);

CREATE TABLE checkpoints (
    name       TEXT   PRIMARY KEY,
    position   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
