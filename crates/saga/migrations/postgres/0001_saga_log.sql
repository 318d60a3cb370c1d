-- The durable saga log: every transition of every instance, in order, and one summary
-- row per instance that the same transaction keeps up to date (for listing and recovery).
CREATE TABLE saga_instances (
    id            TEXT   PRIMARY KEY,
    name          TEXT   NOT NULL,
    -- running | compensating | completed | compensated | failed | resolved
    status        TEXT   NOT NULL,
    input         TEXT   NOT NULL,  -- JSON
    failed_step   TEXT,             -- the step whose failure started compensation or holds the saga
    error         TEXT,
    trace_context TEXT   NOT NULL,  -- JSON: the root span's traceparent, so recovery continues its trace
    deadline_at   BIGINT,           -- Unix microseconds
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE INDEX saga_instances_status ON saga_instances (status, updated_at);
CREATE INDEX saga_instances_name ON saga_instances (name, created_at);

CREATE TABLE saga_log (
    saga_id TEXT   NOT NULL,
    seq     BIGINT NOT NULL,
    at      BIGINT NOT NULL,  -- Unix microseconds
    kind    TEXT   NOT NULL,
    step    TEXT,
    attempt BIGINT,
    data    TEXT   NOT NULL,  -- JSON: output, error, edited input, comment
    actor   TEXT,             -- operator commands: who
    reason  TEXT,             -- operator commands: why
    PRIMARY KEY (saga_id, seq)
);
