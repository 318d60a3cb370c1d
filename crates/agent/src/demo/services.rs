//! The shop's participants: inventory, payments and shipping, each a small axum
//! service on its own loopback port, remembering answers by `Idempotency-Key` and
//! failing now and then for reasons of their own (stock runs out, cards are declined,
//! some addresses cannot be served), so sagas compensate with no fault injected.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, post};
use axum::{Json, Router, middleware};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::catalog::PRODUCTS;
use super::faults::{self, DemoFaults, Outage};
use super::idempotency::{Replies, Reply};

/// The card number payments always declines (Stripe's test "card declined" number).
pub(crate) const DECLINED_CARD: &str = "4000000000000002";
/// Where shipping does not deliver.
pub(crate) const UNSERVED_COUNTRY: &str = "Atlantis";
/// Units of each product in stock at start, and delivered when one runs out.
const RESTOCK: i64 = 400;

/// A listener on 127.0.0.1, on a port the system picks.
pub(crate) async fn bind() -> anyhow::Result<TcpListener> {
    Ok(TcpListener::bind("127.0.0.1:0").await?)
}

/// Serves `router` on `listener` behind `service`'s fault injection; the server runs
/// until the runtime stops.
pub(crate) fn serve(
    listener: TcpListener,
    service: &'static str,
    router: Router,
    faults: Arc<DemoFaults>,
) -> anyhow::Result<SocketAddr> {
    let router = router.layer(middleware::from_fn_with_state(
        (faults, service),
        faults::inject,
    ));
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(service, %error, "demo service stopped");
        }
    });
    Ok(addr)
}

fn locked<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

#[derive(Debug, Deserialize)]
struct Item {
    sku: String,
    qty: i64,
}

// ---- inventory ------------------------------------------------------------------------

#[derive(Debug)]
struct Inventory {
    stock: HashMap<String, i64>,
    reservations: HashMap<String, Vec<(String, i64)>>,
    replies: Replies,
}

#[derive(Debug, Deserialize)]
struct ReserveRequest {
    order_id: String,
    items: Vec<Item>,
}

/// `POST /inventory/reservations` takes stock for an order (409 `out_of_stock` when a
/// product has too little, after which the supplier delivers more);
/// `DELETE /inventory/reservations/{id}` puts it back.
pub(crate) fn inventory() -> Router {
    let state = Arc::new(Mutex::new(Inventory {
        stock: PRODUCTS
            .iter()
            .map(|product| (product.sku.to_owned(), RESTOCK))
            .collect(),
        reservations: HashMap::new(),
        replies: Replies::default(),
    }));
    Router::new()
        .route("/inventory/reservations", post(reserve))
        .route("/inventory/reservations/{id}", delete(release))
        .with_state(state)
}

async fn reserve(
    State(state): State<Arc<Mutex<Inventory>>>,
    headers: HeaderMap,
    Json(request): Json<ReserveRequest>,
) -> Reply {
    let mut guard = locked(&state);
    let Inventory {
        stock,
        reservations,
        replies,
    } = &mut *guard;
    replies.once(&headers, || {
        for item in &request.items {
            let Some(available) = stock.get_mut(&item.sku) else {
                return Reply::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({ "status": "unknown_product", "sku": item.sku }),
                );
            };
            if *available < item.qty {
                *available += RESTOCK;
                return Reply::new(
                    StatusCode::CONFLICT,
                    json!({ "status": "out_of_stock", "sku": item.sku }),
                );
            }
        }
        let mut taken = Vec::with_capacity(request.items.len());
        for item in &request.items {
            if let Some(available) = stock.get_mut(&item.sku) {
                *available -= item.qty;
                taken.push((item.sku.clone(), item.qty));
            }
        }
        let id = new_id("res");
        reservations.insert(id.clone(), taken);
        Reply::new(
            StatusCode::CREATED,
            json!({ "status": "reserved", "reservation_id": id, "order_id": request.order_id }),
        )
    })
}

async fn release(
    State(state): State<Arc<Mutex<Inventory>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Reply {
    let mut guard = locked(&state);
    let Inventory {
        stock,
        reservations,
        replies,
    } = &mut *guard;
    replies.once(&headers, || match reservations.remove(&id) {
        Some(taken) => {
            for (sku, qty) in taken {
                *stock.entry(sku).or_default() += qty;
            }
            Reply::new(StatusCode::OK, json!({ "status": "released" }))
        }
        None => Reply::new(
            StatusCode::NOT_FOUND,
            json!({ "error": "no such reservation" }),
        ),
    })
}

// ---- payments -------------------------------------------------------------------------

#[derive(Debug)]
struct Payments {
    charges: HashMap<String, Value>,
    replies: Replies,
    started: Instant,
    outage: Option<Outage>,
}

#[derive(Debug, Deserialize)]
struct ChargeRequest {
    order_id: String,
    card: String,
    amount_cents: i64,
    currency: String,
}

/// `POST /payments/charges` (402 for the declined card; 503 while the card processor
/// is in its scheduled `outage`); `POST /payments/charges/{id}/refund`, which works
/// during an outage (refunds are booked, not authorised).
pub(crate) fn payments(started: Instant, outage: Option<Outage>) -> Router {
    let state = Arc::new(Mutex::new(Payments {
        charges: HashMap::new(),
        replies: Replies::default(),
        started,
        outage,
    }));
    Router::new()
        .route("/payments/charges", post(charge))
        .route("/payments/charges/{id}/refund", post(refund))
        .with_state(state)
}

async fn charge(
    State(state): State<Arc<Mutex<Payments>>>,
    headers: HeaderMap,
    Json(request): Json<ChargeRequest>,
) -> Reply {
    let mut guard = locked(&state);
    let Payments {
        charges,
        replies,
        started,
        outage,
    } = &mut *guard;
    // Not remembered: an outage answer is not a decision, the retry may succeed.
    if outage.is_some_and(|outage| outage.active(*started, Instant::now())) {
        return Reply::new(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "error": "card processor unavailable" }),
        );
    }
    replies.once(&headers, || {
        if request.card == DECLINED_CARD {
            return Reply::new(
                StatusCode::PAYMENT_REQUIRED,
                json!({ "state": "declined", "order_id": request.order_id }),
            );
        }
        let id = new_id("ch");
        let charge = json!({
            "charge_id": id,
            "state": "captured",
            "order_id": request.order_id,
            "amount_cents": request.amount_cents,
            "currency": request.currency,
        });
        charges.insert(id, charge.clone());
        Reply::new(StatusCode::CREATED, charge)
    })
}

async fn refund(
    State(state): State<Arc<Mutex<Payments>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Reply {
    let mut guard = locked(&state);
    let Payments {
        charges, replies, ..
    } = &mut *guard;
    replies.once(&headers, || match charges.get_mut(&id) {
        Some(charge) => {
            charge["state"] = json!("refunded");
            Reply::new(StatusCode::OK, charge.clone())
        }
        None => Reply::new(StatusCode::NOT_FOUND, json!({ "error": "no such charge" })),
    })
}

// ---- shipping -------------------------------------------------------------------------

#[derive(Debug)]
struct Shipping {
    shipments: HashMap<String, String>,
    replies: Replies,
}

#[derive(Debug, Deserialize)]
struct ShipRequest {
    order_id: String,
    address: Address,
}

#[derive(Debug, Deserialize)]
struct Address {
    country: String,
}

/// `POST /shipping/shipments` (422 for an address it does not serve);
/// `POST /shipping/shipments/{id}/cancel`.
pub(crate) fn shipping() -> Router {
    let state = Arc::new(Mutex::new(Shipping {
        shipments: HashMap::new(),
        replies: Replies::default(),
    }));
    Router::new()
        .route("/shipping/shipments", post(ship))
        .route("/shipping/shipments/{id}/cancel", post(cancel))
        .with_state(state)
}

async fn ship(
    State(state): State<Arc<Mutex<Shipping>>>,
    headers: HeaderMap,
    Json(request): Json<ShipRequest>,
) -> Reply {
    let mut guard = locked(&state);
    let Shipping { shipments, replies } = &mut *guard;
    replies.once(&headers, || {
        if request.address.country == UNSERVED_COUNTRY {
            return Reply::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ "error": format!("no delivery to {UNSERVED_COUNTRY}") }),
            );
        }
        let id = new_id("shp");
        shipments.insert(id.clone(), "scheduled".to_owned());
        Reply::new(
            StatusCode::CREATED,
            json!({ "shipment_id": id, "status": "scheduled", "order_id": request.order_id }),
        )
    })
}

async fn cancel(
    State(state): State<Arc<Mutex<Shipping>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Reply {
    let mut guard = locked(&state);
    let Shipping { shipments, replies } = &mut *guard;
    replies.once(&headers, || match shipments.get_mut(&id) {
        Some(status) => {
            "cancelled".clone_into(status);
            Reply::new(StatusCode::OK, json!({ "status": "cancelled" }))
        }
        None => Reply::new(
            StatusCode::NOT_FOUND,
            json!({ "error": "no such shipment" }),
        ),
    })
}
