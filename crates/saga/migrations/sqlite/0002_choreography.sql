-- The choreography tracker: sagas that run by events on the bus, reconstructed from the
-- events seen. One row per distinct event of an instance (the facts), and one row per
-- instance with the status derived from them, written in the same transaction.
CREATE TABLE choreography_instances (
    saga_name        TEXT   NOT NULL,
    saga_id          TEXT   NOT NULL,
    -- running | compensating | completed | compensated | failed
    status           TEXT   NOT NULL,
    failed_step      TEXT,             -- the step whose failure event came first
    last_step        TEXT,             -- the step of the latest new step event
    last_event       TEXT,             -- the type of the latest new event
    deadline_us      BIGINT NOT NULL,  -- the progress deadline, microseconds
    started_at       BIGINT NOT NULL,  -- Unix microseconds, as all times here
    last_progress_at BIGINT NOT NULL,
    ended_at         BIGINT,
    events           BIGINT NOT NULL,  -- distinct events recorded
    duplicates       BIGINT NOT NULL,  -- deliveries of recorded events, ignored
    PRIMARY KEY (saga_name, saga_id)
);

-- The stuck report: unfinished instances by last progress.
CREATE INDEX choreography_instances_progress ON choreography_instances (status, last_progress_at);
CREATE INDEX choreography_instances_started ON choreography_instances (started_at);

-- An event's identity is (saga, instance, event type): a redelivery or a re-publication
-- under a new message id finds its row and only counts as a duplicate.
CREATE TABLE choreography_events (
    saga_name   TEXT   NOT NULL,
    saga_id     TEXT   NOT NULL,
    event_type  TEXT   NOT NULL,
    seq         BIGINT NOT NULL,  -- arrival order within the instance, from 1
    -- started | done | failed | compensated | compensation_failed | completed
    role        TEXT   NOT NULL,
    step        TEXT,
    step_index  BIGINT,
    message_id  TEXT   NOT NULL,
    trace_id    TEXT,             -- from the message's traceparent
    received_at BIGINT NOT NULL,
    duplicates  BIGINT NOT NULL,
    PRIMARY KEY (saga_name, saga_id, event_type)
);
