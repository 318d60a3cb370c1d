-- Derived tables, written by the batch writer in the same transaction as the
-- spans, metric points and log records they come from, so the saga and
-- breaker views read small tables instead of scanning telemetry.

-- Every span that carries `saga.id`: a root `saga {name}`, a step attempt
-- `saga.step {step}`, or a choreography participant's span. Keyed by
-- (saga, span) so a re-sent span replaces itself; an instance's summary is
-- recomputed from all of its rows, so arrival order does not matter.
CREATE TABLE saga_spans (
    saga_id        TEXT    NOT NULL,
    span_id        BLOB    NOT NULL,
    trace_id       BLOB    NOT NULL,
    -- 0 root, 1 step attempt, 2 participant
    kind           INTEGER NOT NULL,
    saga_name      TEXT    NOT NULL,
    -- the step's name; a participant's span name; the saga's name for a root
    name           TEXT    NOT NULL,
    service_name   TEXT    NOT NULL,
    step_index     INTEGER,
    -- 0 forward, 1 compensate
    phase          INTEGER,
    attempt        INTEGER,
    -- the root's `saga.outcome`
    outcome        TEXT,
    start_time     INTEGER NOT NULL,
    end_time       INTEGER NOT NULL,
    status_code    INTEGER NOT NULL,
    status_message TEXT,
    -- the span's row id in `spans`: retention deletes by it, like the spans
    span_row       INTEGER NOT NULL,
    PRIMARY KEY (saga_id, span_id)
) WITHOUT ROWID;
CREATE INDEX saga_spans_arrival ON saga_spans (span_row);

-- One row per saga instance, recomputed whenever one of its spans arrives.
CREATE TABLE saga_instances (
    saga_id           TEXT    PRIMARY KEY,
    saga_name         TEXT    NOT NULL,
    -- completed | compensated | failed | running | unknown (no root seen)
    outcome           TEXT    NOT NULL,
    -- 1 when a forward step failed for good or the outcome says so
    failed            INTEGER NOT NULL,
    failed_step       TEXT,
    failed_step_index INTEGER,
    error             TEXT,
    trace_id          BLOB    NOT NULL,
    start_time        INTEGER NOT NULL,
    end_time          INTEGER NOT NULL,
    steps             INTEGER NOT NULL,
    compensations     INTEGER NOT NULL,
    attempts          INTEGER NOT NULL,
    spans             INTEGER NOT NULL,
    has_root          INTEGER NOT NULL,
    -- its newest span's row id: retention drops the instance with its last span
    last_span_row     INTEGER NOT NULL
);
CREATE INDEX saga_instances_arrival ON saga_instances (last_span_row);
CREATE INDEX saga_instances_start  ON saga_instances (start_time);
CREATE INDEX saga_instances_name   ON saga_instances (saga_name, start_time);
CREATE INDEX saga_instances_failed ON saga_instances (start_time) WHERE failed = 1;

-- One row per instance and step: how the step ended for that instance. The
-- aggregate flow of a saga name groups these; the index covers that query,
-- durations pre-bucketed (log scale) so percentiles come from bucket counts.
CREATE TABLE saga_step_results (
    saga_id         TEXT    NOT NULL,
    step_name       TEXT    NOT NULL,
    saga_name       TEXT    NOT NULL,
    saga_start      INTEGER NOT NULL,
    step_index      INTEGER,
    -- 0 passed, 1 failed, 2 not finished
    result          INTEGER NOT NULL,
    -- 0 not compensated, 1 compensated, 2 compensation failed
    compensation    INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    duration        INTEGER NOT NULL,
    duration_bucket INTEGER NOT NULL,
    PRIMARY KEY (saga_id, step_name)
) WITHOUT ROWID;
CREATE INDEX saga_step_results_flow ON saga_step_results
    (saga_name, saga_start, step_index, step_name, result, compensation, duration_bucket);

-- Breaker state changes, from `breaker.transition` span events and log records.
-- Unique so a re-sent event is stored once; the index serves history by breaker.
CREATE TABLE breaker_transitions (
    id           INTEGER PRIMARY KEY,
    breaker_name TEXT    NOT NULL,
    service_name TEXT    NOT NULL,
    time         INTEGER NOT NULL,
    from_state   TEXT,
    to_state     TEXT    NOT NULL,
    reason       TEXT,
    dry_run      INTEGER NOT NULL,
    trace_id     BLOB,
    span_id      BLOB,
    -- when it was stored, for retention by arrival
    arrived      INTEGER NOT NULL
);
CREATE INDEX breaker_transitions_arrival ON breaker_transitions (arrived);
CREATE UNIQUE INDEX breaker_transitions_by_breaker
    ON breaker_transitions (breaker_name, time, service_name, to_state);

-- Hourly rollups of the two tables above, by start hour of the instance:
-- kept up to date with +1/-1 as instances are recomputed, so an aggregate
-- over a day reads a few thousand rows instead of every step of every
-- instance (the range's partial first and last hours come from the rows).
-- Counts can drop to 0; readers skip those.
CREATE TABLE saga_step_stats (
    saga_name       TEXT    NOT NULL,
    hour            INTEGER NOT NULL,
    step_name       TEXT    NOT NULL,
    result          INTEGER NOT NULL,
    compensation    INTEGER NOT NULL,
    duration_bucket INTEGER NOT NULL,
    step_index      INTEGER,
    count           INTEGER NOT NULL,
    PRIMARY KEY (saga_name, hour, step_name, result, compensation, duration_bucket)
) WITHOUT ROWID;

CREATE TABLE saga_outcome_stats (
    saga_name TEXT    NOT NULL,
    hour      INTEGER NOT NULL,
    outcome   TEXT    NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (saga_name, hour, outcome)
) WITHOUT ROWID;
