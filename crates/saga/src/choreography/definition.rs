//! What a choreographed saga looks like from the outside: which events (bus topics) start
//! an instance, finish, fail or compensate each step, and complete it; how long an
//! instance may go without progress; where its `saga.id` is. Built in Rust or read from
//! TOML:
//!
//! ```toml
//! name = "order"
//! started_by = "OrderPlaced"
//! completed_by = "OrderConfirmed"
//! progress_deadline = "30s"          # or a number of seconds
//! saga_id_pointer = "/saga_id"       # the default; used when there is no `saga.id` header
//!
//! [[steps]]
//! name = "payment"
//! done = "PaymentCaptured"
//! failed = "PaymentFailed"
//! compensated = "PaymentRefunded"
//!
//! [[steps]]
//! name = "stock"
//! done = "StockReserved"
//! failed = ["StockFailed", "StockUnavailable"]   # one event type or several
//! ```

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchyard_eventing::bus::validate_topic;

/// The JSON pointer of the saga id in a payload, unless the definition says otherwise.
pub const DEFAULT_SAGA_ID_POINTER: &str = "/saga_id";

/// A choreographed saga, as the tracker recognises it on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoreographyDefinition {
    /// The saga's name (`saga.name`).
    pub name: String,
    /// Event types that start an instance.
    #[serde(deserialize_with = "one_or_many")]
    pub started_by: Vec<String>,
    /// In the order the saga runs them.
    #[serde(default)]
    pub steps: Vec<ChoreographyStep>,
    /// Event types that end an instance as completed.
    #[serde(deserialize_with = "one_or_many")]
    pub completed_by: Vec<String>,
    /// An unfinished instance without a new event for this long is stuck.
    #[serde(with = "duration_text")]
    pub progress_deadline: Duration,
    /// Where the saga id is in a JSON payload without a `saga.id` header (RFC 6901).
    #[serde(default = "default_saga_id_pointer")]
    pub saga_id_pointer: String,
}

/// One step: the events that say it was done, failed, was compensated (undone), or could
/// not be compensated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoreographyStep {
    pub name: String,
    #[serde(deserialize_with = "one_or_many")]
    pub done: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub failed: Vec<String>,
    /// Empty: the step has nothing to undo, a failure later on does not wait for it.
    #[serde(default, deserialize_with = "one_or_many")]
    pub compensated: Vec<String>,
    /// The compensation gave up: the instance is `failed` and needs an operator.
    #[serde(default, deserialize_with = "one_or_many")]
    pub compensation_failed: Vec<String>,
}

/// A definition that cannot be used, or TOML that does not parse into one.
#[derive(Debug, thiserror::Error)]
pub enum ChoreographyDefinitionError {
    #[error("choreography definition is not valid TOML for its schema: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("choreography definition {saga:?}: {reason}")]
    Invalid { saga: String, reason: String },
}

/// What one event type means for an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventRole {
    Started,
    StepDone,
    StepFailed,
    StepCompensated,
    CompensationFailed,
    Completed,
}

impl EventRole {
    pub fn as_str(self) -> &'static str {
        match self {
            EventRole::Started => "started",
            EventRole::StepDone => "done",
            EventRole::StepFailed => "failed",
            EventRole::StepCompensated => "compensated",
            EventRole::CompensationFailed => "compensation_failed",
            EventRole::Completed => "completed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            EventRole::Started,
            EventRole::StepDone,
            EventRole::StepFailed,
            EventRole::StepCompensated,
            EventRole::CompensationFailed,
            EventRole::Completed,
        ]
        .into_iter()
        .find(|role| role.as_str() == text)
    }
}

/// An event type's role, and its step (index in the definition, name) for step events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Role {
    pub(crate) role: EventRole,
    pub(crate) step: Option<(usize, String)>,
}

impl ChoreographyDefinition {
    /// A definition without steps yet; add them with [`ChoreographyDefinition::step`].
    pub fn new(
        name: impl Into<String>,
        started_by: impl Into<String>,
        completed_by: impl Into<String>,
        progress_deadline: Duration,
    ) -> Self {
        ChoreographyDefinition {
            name: name.into(),
            started_by: vec![started_by.into()],
            steps: Vec::new(),
            completed_by: vec![completed_by.into()],
            progress_deadline,
            saga_id_pointer: DEFAULT_SAGA_ID_POINTER.into(),
        }
    }

    pub fn step(mut self, step: ChoreographyStep) -> Self {
        self.steps.push(step);
        self
    }

    pub fn also_started_by(mut self, event_type: impl Into<String>) -> Self {
        self.started_by.push(event_type.into());
        self
    }

    pub fn also_completed_by(mut self, event_type: impl Into<String>) -> Self {
        self.completed_by.push(event_type.into());
        self
    }

    pub fn saga_id_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.saga_id_pointer = pointer.into();
        self
    }

    /// Parses and validates a TOML definition.
    pub fn from_toml(text: &str) -> Result<Self, ChoreographyDefinitionError> {
        let definition: ChoreographyDefinition = toml::from_str(text)?;
        definition.validate()?;
        Ok(definition)
    }

    /// Checks names, topics, that every event type has exactly one meaning, and the
    /// deadline.
    pub fn validate(&self) -> Result<(), ChoreographyDefinitionError> {
        self.roles().map(|_| ())
    }

    /// Every event type of the definition, each once: the topics the tracker subscribes to.
    pub fn event_types(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.started_by
            .iter()
            .chain(self.steps.iter().flat_map(|s| {
                s.done
                    .iter()
                    .chain(&s.failed)
                    .chain(&s.compensated)
                    .chain(&s.compensation_failed)
            }))
            .chain(&self.completed_by)
            .filter(|t| seen.insert(t.as_str()))
            .cloned()
            .collect()
    }

    /// The role of each event type; validates the definition on the way.
    pub(crate) fn roles(&self) -> Result<HashMap<String, Role>, ChoreographyDefinitionError> {
        let invalid = |reason: String| ChoreographyDefinitionError::Invalid {
            saga: self.name.clone(),
            reason,
        };
        if self.name.trim().is_empty() || self.name.chars().any(char::is_control) {
            return Err(invalid(
                "the saga name must be non-empty without control characters".into(),
            ));
        }
        if self.progress_deadline.is_zero() {
            return Err(invalid("progress_deadline must be positive".into()));
        }
        // Microseconds in an i64 column.
        if self.progress_deadline > Duration::from_secs(100 * 365 * 24 * 3600) {
            return Err(invalid(
                "progress_deadline must be at most 100 years".into(),
            ));
        }
        if !self.saga_id_pointer.is_empty() && !self.saga_id_pointer.starts_with('/') {
            return Err(invalid(format!(
                "saga_id_pointer {:?} is not a JSON pointer (it must be empty or start with `/`)",
                self.saga_id_pointer
            )));
        }
        if self.started_by.is_empty() {
            return Err(invalid("started_by names no event type".into()));
        }
        if self.completed_by.is_empty() {
            return Err(invalid("completed_by names no event type".into()));
        }
        let mut roles: HashMap<String, Role> = HashMap::new();
        let mut add = |topic: &str, role: Role| -> Result<(), ChoreographyDefinitionError> {
            validate_topic(topic).map_err(|err| invalid(format!("event type: {err}")))?;
            if let Some(previous) = roles.insert(topic.to_owned(), role) {
                // One meaning per event type, or the state could not be derived from it.
                return Err(invalid(format!(
                    "event type {topic:?} is used twice (first as {})",
                    describe(&previous)
                )));
            }
            Ok(())
        };
        for topic in &self.started_by {
            add(topic, Role::plain(EventRole::Started))?;
        }
        let mut names = HashSet::new();
        for (index, step) in self.steps.iter().enumerate() {
            if step.name.trim().is_empty() {
                return Err(invalid(format!("step {index} has an empty name")));
            }
            if !names.insert(step.name.as_str()) {
                return Err(invalid(format!("step name {:?} is used twice", step.name)));
            }
            if step.done.is_empty() {
                return Err(invalid(format!(
                    "step {:?} names no `done` event type",
                    step.name
                )));
            }
            let kinds = [
                (EventRole::StepDone, &step.done),
                (EventRole::StepFailed, &step.failed),
                (EventRole::StepCompensated, &step.compensated),
                (EventRole::CompensationFailed, &step.compensation_failed),
            ];
            for (role, topics) in kinds {
                for topic in topics {
                    add(
                        topic,
                        Role {
                            role,
                            step: Some((index, step.name.clone())),
                        },
                    )?;
                }
            }
        }
        for topic in &self.completed_by {
            add(topic, Role::plain(EventRole::Completed))?;
        }
        Ok(roles)
    }
}

impl ChoreographyStep {
    /// A step that is done on `done`; add failure and compensation events as needed.
    pub fn new(name: impl Into<String>, done: impl Into<String>) -> Self {
        ChoreographyStep {
            name: name.into(),
            done: vec![done.into()],
            failed: Vec::new(),
            compensated: Vec::new(),
            compensation_failed: Vec::new(),
        }
    }

    pub fn also_done(mut self, event_type: impl Into<String>) -> Self {
        self.done.push(event_type.into());
        self
    }

    pub fn failed(mut self, event_type: impl Into<String>) -> Self {
        self.failed.push(event_type.into());
        self
    }

    pub fn compensated(mut self, event_type: impl Into<String>) -> Self {
        self.compensated.push(event_type.into());
        self
    }

    pub fn compensation_failed(mut self, event_type: impl Into<String>) -> Self {
        self.compensation_failed.push(event_type.into());
        self
    }
}

impl Role {
    fn plain(role: EventRole) -> Self {
        Role { role, step: None }
    }
}

fn describe(role: &Role) -> String {
    match &role.step {
        Some((_, step)) => format!("`{}` of step {step:?}", role.role.as_str()),
        None => format!("`{}`", role.role.as_str()),
    }
}

fn default_saga_id_pointer() -> String {
    DEFAULT_SAGA_ID_POINTER.into()
}

/// `"X"` or `["X", "Y"]`.
fn one_or_many<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged, expecting = "an event type or a list of event types")]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

/// `"30s"`, `"1m 30s"`, `"500ms"` (humantime), or a number of seconds.
mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        duration: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*duration).to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(
            untagged,
            expecting = "a duration such as \"30s\" or a number of seconds"
        )]
        enum Text {
            Text(String),
            Seconds(u64),
        }
        match Text::deserialize(deserializer)? {
            Text::Seconds(seconds) => Ok(Duration::from_secs(seconds)),
            Text::Text(text) => humantime::parse_duration(&text).map_err(|err| {
                serde::de::Error::custom(format!("invalid duration {text:?}: {err}"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = r#"
        name = "order"
        started_by = "OrderPlaced"
        completed_by = ["OrderConfirmed"]
        progress_deadline = "1m 30s"

        [[steps]]
        name = "payment"
        done = "PaymentCaptured"
        failed = "PaymentFailed"
        compensated = "PaymentRefunded"

        [[steps]]
        name = "stock"
        done = "StockReserved"
        failed = ["StockFailed", "StockUnavailable"]
    "#;

    #[test]
    fn toml_round_trips() {
        let definition = ChoreographyDefinition::from_toml(ORDER).expect("valid");
        let built = ChoreographyDefinition::new(
            "order",
            "OrderPlaced",
            "OrderConfirmed",
            Duration::from_secs(90),
        )
        .step(
            ChoreographyStep::new("payment", "PaymentCaptured")
                .failed("PaymentFailed")
                .compensated("PaymentRefunded"),
        )
        .step(
            ChoreographyStep::new("stock", "StockReserved")
                .failed("StockFailed")
                .failed("StockUnavailable"),
        );
        assert_eq!(definition, built);
        let text = toml::to_string(&definition).expect("serializes");
        assert_eq!(
            ChoreographyDefinition::from_toml(&text).expect("reparses"),
            definition
        );
        assert_eq!(definition.event_types().len(), 8);
    }

    #[test]
    fn bad_definitions_say_why() {
        let twice = ORDER.replace("\"StockReserved\"", "\"PaymentCaptured\"");
        let err = ChoreographyDefinition::from_toml(&twice).expect_err("used twice");
        assert!(
            err.to_string()
                .contains("\"PaymentCaptured\" is used twice"),
            "{err}"
        );

        let seconds = ORDER.replace("\"1m 30s\"", "0");
        let err = ChoreographyDefinition::from_toml(&seconds).expect_err("zero deadline");
        assert!(err.to_string().contains("progress_deadline"), "{err}");

        let typo = ORDER.replace("compensated =", "compensate =");
        let err = ChoreographyDefinition::from_toml(&typo).expect_err("unknown field");
        assert!(err.to_string().contains("compensate"), "{err}");

        let wildcard = ORDER.replace("OrderConfirmed", "orders.>");
        let err = ChoreographyDefinition::from_toml(&wildcard).expect_err("bad topic");
        assert!(err.to_string().contains("orders.>"), "{err}");
    }
}
