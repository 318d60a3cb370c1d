-- The console's own records, beside the telemetry: what the agents reported through
-- their state streams, and the commands the console sent them. Small tables, written
-- by the console (not by the ingest writer) and kept outside telemetry retention.

-- One state change reported by an agent: a breaker transition, a saga status, a route
-- weight, a fault, an experiment's result, or the agent's own connection state.
CREATE TABLE control_events (
    id          INTEGER PRIMARY KEY,
    at_unix_ms  INTEGER NOT NULL,
    cluster     TEXT NOT NULL,
    agent       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT,
    reason      TEXT,
    by_whom     TEXT,
    note        TEXT,
    detail      TEXT
);
CREATE INDEX control_events_by_name ON control_events (kind, name, at_unix_ms);
CREATE INDEX control_events_by_time ON control_events (at_unix_ms);

-- One command sent (or refused before sending), with its outcome and, once the
-- telemetry that followed has been checked, the closed loop's verdict.
CREATE TABLE commands (
    id                  INTEGER PRIMARY KEY,
    at_unix_ms          INTEGER NOT NULL,
    cluster             TEXT NOT NULL,
    agent               TEXT,
    who                 TEXT NOT NULL,
    action              TEXT NOT NULL,
    target              TEXT NOT NULL,
    reason              TEXT NOT NULL,
    args                TEXT,
    outcome             TEXT NOT NULL,
    error               TEXT,
    result              TEXT,
    verdict             TEXT,
    verdict_at_unix_ms  INTEGER,
    verdict_detail      TEXT
);
CREATE INDEX commands_by_time ON commands (at_unix_ms);
CREATE INDEX commands_by_target ON commands (target, at_unix_ms);
