//! Remembered answers by `Idempotency-Key`: a repeated request (a saga step retried
//! after a timeout or a crash) gets the first answer again instead of a second effect.

use std::collections::{HashMap, VecDeque};

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// How many answers a service remembers; the oldest are forgotten first. Far more than
/// the sagas in flight at any rate the demo runs, and it bounds memory over days.
const REMEMBERED: usize = 50_000;

/// A service's answer: status and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
}

impl Reply {
    pub(crate) fn new(status: StatusCode, body: Value) -> Self {
        Reply { status, body }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// The answers of one service by key.
#[derive(Debug, Default)]
pub(crate) struct Replies {
    by_key: HashMap<String, Reply>,
    order: VecDeque<String>,
}

impl Replies {
    /// The answer to a request with `headers`: the remembered one when its key was seen,
    /// else `effect`'s, remembered under the key. Call with the service's state locked,
    /// so two copies of one request cannot both take effect.
    pub(crate) fn once(&mut self, headers: &HeaderMap, effect: impl FnOnce() -> Reply) -> Reply {
        let key = headers
            .get("idempotency-key")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let Some(key) = key else {
            return effect();
        };
        if let Some(reply) = self.by_key.get(&key) {
            return reply.clone();
        }
        let reply = effect();
        if self.order.len() >= REMEMBERED
            && let Some(oldest) = self.order.pop_front()
        {
            self.by_key.remove(&oldest);
        }
        self.order.push_back(key.clone());
        self.by_key.insert(key, reply.clone());
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_gets_the_first_answer() {
        let mut replies = Replies::default();
        let mut headers = HeaderMap::new();
        headers.insert("idempotency-key", "k1".parse().unwrap());
        let mut effects = 0;
        for _ in 0..3 {
            let reply = replies.once(&headers, || {
                effects += 1;
                Reply::new(StatusCode::CREATED, Value::from(effects))
            });
            assert_eq!(reply.body, Value::from(1));
        }
        assert_eq!(effects, 1);
        // Without a key every request takes effect.
        replies.once(&HeaderMap::new(), || {
            effects += 1;
            Reply::new(StatusCode::OK, Value::Null)
        });
        assert_eq!(effects, 2);
    }
}
