//! What a breaker tells the outside world: its metrics (read by the observable
//! instruments of [`Telemetry`](crate::Telemetry)) and its transition events.

use opentelemetry::KeyValue;
use opentelemetry::trace::TraceContextExt;
use switchyard_conventions::breaker as names;

use super::Shared;
use super::state::Transition;
use crate::telemetry::{BreakerSample, Source};

impl Source<BreakerSample> for Shared {
    fn sample(&self) -> BreakerSample {
        let snapshot = self.snapshot();
        BreakerSample {
            name: snapshot.name,
            state: snapshot.state,
            failure_rate: snapshot.failure_rate,
            success: snapshot.totals.success,
            failure: snapshot.totals.failure,
            slow: snapshot.totals.slow,
            rejected: snapshot.totals.rejected,
            would_reject: snapshot.totals.would_reject,
        }
    }
}

impl Shared {
    /// Reports a transition three ways: a `tracing` event, a `breaker.transition` event
    /// on the current OpenTelemetry span (the caller's, when a call caused it), and the
    /// breaker's broadcast channel. Called under the controller's lock, so every
    /// listener sees one breaker's transitions in order.
    pub(crate) fn emit(&self, t: Transition) {
        tracing::event!(
            target: "switchyard_resilience::breaker",
            tracing::Level::INFO,
            breaker.name = %t.breaker,
            breaker.from = t.from.as_str(),
            breaker.to = t.to.as_str(),
            breaker.reason = t.reason.as_str(),
            breaker.dry_run = t.dry_run,
            by = t.by.as_deref(),
            note = t.note.as_deref(),
            "{}",
            names::TRANSITION_EVENT,
        );
        opentelemetry::Context::map_current(|cx| {
            let span = cx.span();
            if span.is_recording() {
                let mut attributes = vec![
                    KeyValue::new(names::NAME, t.breaker.clone()),
                    KeyValue::new(names::FROM, t.from.as_str()),
                    KeyValue::new(names::TO, t.to.as_str()),
                    KeyValue::new(names::REASON, t.reason.as_str()),
                ];
                if t.dry_run {
                    attributes.push(KeyValue::new(names::DRY_RUN, true));
                }
                span.add_event(names::TRANSITION_EVENT, attributes);
            }
        });
        // No receivers is fine: nobody is watching.
        let _ = self.events.send(t);
    }
}
