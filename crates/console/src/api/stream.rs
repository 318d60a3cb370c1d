//! `/api/live`: the live view's changes as Server-Sent Events.
//!
//! Each [`LiveEvent`] is one SSE event named by its `type` (`breaker`, `agent`,
//! `command`…) with the event as JSON in `data:`. Two events of the stream's own:
//!
//! - `ready` first, once the subscription is in place: read the current state
//!   (`/api/breakers`…) after it and nothing falls between the read and the stream;
//! - `resync` when this client fell so far behind that changes were dropped: read the
//!   current state again.
//!
//! Comment lines keep idle connections (and proxies) alive. The stream ends when the
//! server shuts down, so a graceful shutdown does not wait for browsers to leave.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures::{Stream, StreamExt as _, stream};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use crate::clusters::views::LiveEvent;

/// How often an idle stream sends a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/live", get(live))
}

async fn live(State(state): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let ready = stream::once(async { ("ready".to_owned(), json!({"type": "ready"})) });
    let events = ready
        .chain(live_frames(&state))
        .map(|(name, value)| Ok(event(&name, &value)));
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// Every change of the live view from now on as `(name, data)`, the SSE stream's
/// events (without `ready`); it ends when the console stops. The desktop app forwards
/// the same frames over IPC.
pub fn live_frames(state: &AppState) -> impl Stream<Item = (String, Value)> + Send + use<> {
    let changes = state.clusters.live().subscribe();
    let rest = stream::unfold(changes, |mut changes| async move {
        let frame = frame(changes.recv().await)?;
        Some((frame, changes))
    });
    let mut stopping = state.stopping();
    let stop = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    rest.take_until(stop)
}

/// The SSE event's name and data for what the subscription gave; `None` ends the stream.
fn frame(received: Result<LiveEvent, RecvError>) -> Option<(String, Value)> {
    match received {
        Ok(change) => {
            let value = serde_json::to_value(&change)
                .unwrap_or_else(|e| json!({"type": "error", "error": e.to_string()}));
            let name = value["type"].as_str().unwrap_or("change").to_owned();
            Some((name, value))
        }
        Err(RecvError::Lagged(skipped)) => Some((
            "resync".to_owned(),
            json!({"type": "resync", "skipped": skipped}),
        )),
        Err(RecvError::Closed) => None,
    }
}

fn event(name: &str, value: &Value) -> Event {
    Event::default().event(name).data(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clusters::views::AgentHealth;

    #[test]
    fn changes_are_named_by_type_and_a_lag_asks_for_a_resync() {
        let health = AgentHealth {
            cluster: "shop".into(),
            endpoint: "http://a".into(),
            agent_id: None,
            version: None,
            connected: true,
            last_seen_unix_ms: None,
            last_error: None,
            reconnects: 0,
        };
        let (name, value) = frame(Ok(LiveEvent::Agent(health))).unwrap();
        assert_eq!(
            (name.as_str(), &value["cluster"]),
            ("agent", &json!("shop"))
        );
        let (name, value) = frame(Err(RecvError::Lagged(7))).unwrap();
        assert_eq!((name.as_str(), &value["skipped"]), ("resync", &json!(7)));
        assert!(frame(Err(RecvError::Closed)).is_none());
    }
}
