//! Event bus consumers and CQRS projections: the gauges that tell an operator how far
//! behind a consumer or a read model is.

/// Gauge: messages on a topic that a consumer group has not yet acknowledged
/// (pending delivery plus delivered and awaiting an ack).
pub const CONSUMER_LAG_METRIC: &str = "eventing.consumer.lag";
/// Counter: deliveries after the first one (timeouts, naks), per consumer group.
pub const CONSUMER_REDELIVERIES_METRIC: &str = "eventing.consumer.redeliveries";
/// Counter: messages moved to the dead-letter subject, per consumer group.
pub const CONSUMER_DEAD_LETTERS_METRIC: &str = "eventing.consumer.dead_letters";
/// Gauge: 1 while an operator has paused the consumer group, else 0.
pub const CONSUMER_PAUSED_METRIC: &str = "eventing.consumer.paused";

/// Gauge: events in the store that a projection has not applied yet.
pub const PROJECTION_LAG_EVENTS_METRIC: &str = "eventing.projection.lag.events";
/// Gauge: age in seconds of the oldest event a projection has not applied yet (0 when
/// it has caught up).
pub const PROJECTION_LAG_SECONDS_METRIC: &str = "eventing.projection.lag.seconds";

/// Attribute: the topic (event type) a consumer reads.
pub const TOPIC: &str = "eventing.topic";
/// Attribute: the consumer group (a durable consumer; each message goes to one member).
pub const GROUP: &str = "eventing.group";
/// Attribute: the projection's name.
pub const PROJECTION: &str = "eventing.projection";

/// Span name prefix of a publish: `publish {topic}` (OpenTelemetry messaging style).
pub const PUBLISH_SPAN_PREFIX: &str = "publish";
/// Span name prefix of handling one delivery: `process {topic}`.
pub const PROCESS_SPAN_PREFIX: &str = "process";
