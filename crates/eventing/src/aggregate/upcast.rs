//! Upcasting: turning a stored event of an old format into the current one as it is read,
//! so the code only knows the latest shape and old streams never need rewriting.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// Turns a payload of one format version into the next.
pub type Upcaster = Arc<dyn Fn(Value) -> Result<Value, String> + Send + Sync>;

/// The upcasters of every event type, by (event type, from version).
#[derive(Clone, Default)]
pub struct Upcasters {
    steps: HashMap<(String, u32), Upcaster>,
}

impl fmt::Debug for Upcasters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut steps: Vec<_> = self.steps.keys().collect();
        steps.sort();
        f.debug_struct("Upcasters").field("steps", &steps).finish()
    }
}

impl Upcasters {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the step from `from_version` to `from_version + 1` of `event_type`.
    pub fn add(
        mut self,
        event_type: impl Into<String>,
        from_version: u32,
        step: impl Fn(Value) -> Result<Value, String> + Send + Sync + 'static,
    ) -> Self {
        self.steps
            .insert((event_type.into(), from_version), Arc::new(step));
        self
    }

    /// Applies the steps from `version` on until none is registered; returns the payload
    /// and the version it reached.
    pub fn upcast(
        &self,
        event_type: &str,
        mut version: u32,
        mut payload: Value,
    ) -> Result<(Value, u32), String> {
        while let Some(step) = self.steps.get(&(event_type.to_owned(), version)) {
            payload = step(payload).map_err(|reason| {
                format!("upcasting {event_type} from version {version}: {reason}")
            })?;
            version += 1;
        }
        Ok((payload, version))
    }
}
