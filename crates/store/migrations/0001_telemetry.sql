-- Switchyard telemetry store. Times are Unix nanoseconds; ids are raw bytes;
-- attribute lists are JSON in the stored form of `attributes.rs`.

-- One row per distinct resource (attributes, dropped count, schema URL).
CREATE TABLE resources (
    id                       INTEGER PRIMARY KEY,
    key                      TEXT    NOT NULL UNIQUE,
    service_name             TEXT    NOT NULL,
    attributes               TEXT,
    dropped_attributes_count INTEGER NOT NULL,
    schema_url               TEXT,
    first_seen               INTEGER NOT NULL,
    last_seen                INTEGER NOT NULL
);
CREATE INDEX resources_service ON resources (service_name);

-- One row per distinct instrumentation scope (with the schema URL of its list).
CREATE TABLE scopes (
    id                       INTEGER PRIMARY KEY,
    key                      TEXT    NOT NULL UNIQUE,
    name                     TEXT    NOT NULL,
    version                  TEXT,
    attributes               TEXT,
    dropped_attributes_count INTEGER NOT NULL,
    schema_url               TEXT
);

-- Spans, one row each; events and links are JSON arrays on the row, so a span
-- costs one insert. `id` is assigned by the writer in ingest order and
-- `segment` = id >> 16: the trace-id index is keyed by (segment, trace_id), so
-- new entries only land in the newest segment's small subtree instead of at
-- random places across an index of every span ever stored. The writer never
-- reuses an id (here and below: it starts past the ingest_log's highest), so
-- the ingest_log's id ranges stay true after retention.
CREATE TABLE spans (
    id                       INTEGER PRIMARY KEY,
    segment                  INTEGER NOT NULL,
    trace_id                 BLOB    NOT NULL,
    span_id                  BLOB    NOT NULL,
    parent_span_id           BLOB,
    trace_state              TEXT,
    flags                    INTEGER NOT NULL,
    name                     TEXT    NOT NULL,
    kind                     INTEGER NOT NULL,
    start_time               INTEGER NOT NULL,
    end_time                 INTEGER NOT NULL,
    status_code              INTEGER NOT NULL,
    status_message           TEXT,
    resource_id              INTEGER NOT NULL,
    scope_id                 INTEGER NOT NULL,
    attributes               TEXT,
    events                   TEXT,
    links                    TEXT,
    dropped_attributes_count INTEGER NOT NULL,
    dropped_events_count     INTEGER NOT NULL,
    dropped_links_count      INTEGER NOT NULL
);
CREATE INDEX spans_trace  ON spans (segment, trace_id);
-- Newest-first search walks this; with the resource id in it, a search by
-- service filters without reading rows (cheaper to keep than an index of its own).
CREATE INDEX spans_start  ON spans (start_time, resource_id);
CREATE INDEX spans_errors ON spans (start_time) WHERE status_code = 2;

-- One row per distinct metric stream descriptor.
CREATE TABLE metrics (
    id          INTEGER PRIMARY KEY,
    key         TEXT    NOT NULL UNIQUE,
    resource_id INTEGER NOT NULL,
    scope_id    INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    description TEXT,
    unit        TEXT,
    -- 1 gauge, 2 sum, 3 histogram, 4 exponential histogram, 5 summary
    type        INTEGER NOT NULL,
    -- OTLP AggregationTemporality: 0 unspecified, 1 delta, 2 cumulative
    temporality INTEGER NOT NULL,
    monotonic   INTEGER NOT NULL,
    metadata    TEXT
);
CREATE INDEX metrics_name ON metrics (name);

-- Data points of every kind. Numbers keep their OTLP type (int_value or
-- double_value); histograms and summaries fill count/sum/min/max and keep
-- their buckets or quantiles as JSON.
CREATE TABLE metric_points (
    id           INTEGER PRIMARY KEY,
    metric_id    INTEGER NOT NULL,
    time         INTEGER NOT NULL,
    start_time   INTEGER NOT NULL,
    attributes   TEXT,
    flags        INTEGER NOT NULL,
    int_value    INTEGER,
    double_value REAL,
    count        INTEGER,
    sum          REAL,
    min          REAL,
    max          REAL,
    buckets      TEXT,
    exemplars    TEXT
);
CREATE INDEX metric_points_series ON metric_points (metric_id, time);

-- Log records. `time` is the record's time, or its observed time when unset.
CREATE TABLE logs (
    id                       INTEGER PRIMARY KEY,
    resource_id              INTEGER NOT NULL,
    scope_id                 INTEGER NOT NULL,
    time                     INTEGER NOT NULL,
    time_unix_nano           INTEGER NOT NULL,
    observed_time_unix_nano  INTEGER NOT NULL,
    severity_number          INTEGER NOT NULL,
    severity_text            TEXT,
    body                     TEXT,
    attributes               TEXT,
    dropped_attributes_count INTEGER NOT NULL,
    flags                    INTEGER NOT NULL,
    trace_id                 BLOB,
    span_id                  BLOB,
    event_name               TEXT
);
CREATE INDEX logs_time ON logs (time);

-- When data arrived: after each commit, the highest row id of each signal's
-- table (small commits less than a second apart share a row; `opened_total`
-- is the sum of the three ids when the row was added). Retention deletes by
-- arrival, oldest first, through these id ranges: arrival time cannot be
-- skewed by a sender's clock, and deleting a range of row ids is cheap.
CREATE TABLE ingest_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    spans_upto  INTEGER NOT NULL,
    points_upto INTEGER NOT NULL,
    logs_upto   INTEGER NOT NULL,
    opened_total INTEGER NOT NULL
);
