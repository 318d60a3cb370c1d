//! The orders service: `POST /orders` records `OrderPlaced` and starts a checkout saga
//! under the order's id (so a repeated request starts nothing new), then follows the
//! saga to its end and records the outcome; `GET /orders/{id}` answers from the order
//! history read model (the query side).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use switchyard_saga::{Orchestrator, OrchestratorError, SagaStatus};

use super::history::{
    ORDER_COMPENSATED, ORDER_COMPLETED, ORDER_FAILED, ORDER_PLACED, OrderHistory,
};
use super::idempotency::Reply;
use super::saga::CHECKOUT;

/// How long one wait for a saga lasts before looking again.
const FOLLOW_WAIT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
struct Orders {
    orchestrator: Orchestrator,
    history: OrderHistory,
}

pub(crate) fn router(orchestrator: Orchestrator, history: OrderHistory) -> Router {
    Router::new()
        .route("/orders", post(place))
        .route("/orders/{id}", get(show))
        .with_state(Arc::new(Orders {
            orchestrator,
            history,
        }))
}

async fn place(State(orders): State<Arc<Orders>>, Json(order): Json<Value>) -> Reply {
    let Some(order_id) = order
        .get("order_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return Reply::new(
            StatusCode::BAD_REQUEST,
            json!({ "error": "order_id is required" }),
        );
    };
    let mut placed = order.clone();
    placed["saga_id"] = json!(order_id);
    // Recorded before the saga starts, so the history never shows an outcome without
    // its order; both are idempotent by the order id.
    if let Err(error) = orders.history.record(&order_id, ORDER_PLACED, placed).await {
        tracing::warn!(%order_id, %error, "cannot record the order");
        return Reply::new(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "error": error.to_string() }),
        );
    }
    if let Err(error) = orders
        .orchestrator
        .start_with_id(CHECKOUT, &order_id, order)
        .await
    {
        tracing::warn!(%order_id, %error, "cannot start the checkout saga");
        return Reply::new(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "error": error.to_string() }),
        );
    }
    tokio::spawn(follow(orders.clone(), order_id.clone()));
    Reply::new(
        StatusCode::ACCEPTED,
        json!({ "order_id": order_id, "saga_id": order_id, "status": "placed" }),
    )
}

/// Waits for the saga's end and records it in the order's history.
async fn follow(orders: Arc<Orders>, order_id: String) {
    let instance = loop {
        match orders.orchestrator.wait(&order_id, FOLLOW_WAIT).await {
            Ok(instance) => break instance,
            // Still going (a long outage, an operator holding it): keep following.
            Err(OrchestratorError::StillRunning { .. }) => {}
            Err(error) => {
                tracing::warn!(%order_id, %error, "stopped following the checkout saga");
                return;
            }
        }
    };
    let event = match instance.status {
        SagaStatus::Completed => ORDER_COMPLETED,
        SagaStatus::Compensated => ORDER_COMPENSATED,
        _ => ORDER_FAILED,
    };
    let payload = json!({
        "order_id": order_id,
        "failed_step": instance.failed_step,
        "error": instance.error,
    });
    if let Err(error) = orders.history.record(&order_id, event, payload).await {
        tracing::warn!(%order_id, %error, "cannot record the order's outcome");
    }
}

async fn show(State(orders): State<Arc<Orders>>, Path(id): Path<String>) -> Reply {
    match orders.history.read_model().get(&id).await {
        Ok(Some(doc)) => Reply::new(StatusCode::OK, doc),
        Ok(None) => Reply::new(
            StatusCode::NOT_FOUND,
            json!({ "error": "no such order (yet)" }),
        ),
        Err(error) => Reply::new(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "error": error.to_string() }),
        ),
    }
}
