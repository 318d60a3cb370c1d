//! The traffic generator: at a steady rate, a shopper places a random order and browses
//! the catalogue, both through the gateway. Shoppers come from a fixed pool and send
//! their id in `x-user-id`, so the catalogue split keeps each on one side.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::catalog::PRODUCTS;
use super::services::{DECLINED_CARD, UNSERVED_COUNTRY};

/// Shoppers in the pool.
const SHOPPERS: u32 = 200;
/// Share of orders paid with the card payments declines.
const DECLINED_SHARE: f64 = 0.08;
/// Share of orders to an address shipping does not serve.
const UNSERVED_SHARE: f64 = 0.06;
/// Requests in flight at most; past it a tick is skipped rather than piling up.
const IN_FLIGHT: usize = 128;
/// A request that takes longer is abandoned (the saga goes on regardless).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the generator sent and how it was answered.
#[derive(Debug, Default)]
pub struct TrafficStats {
    /// Orders the orders service accepted (saga started).
    pub orders_accepted: AtomicU64,
    /// Orders refused or not answered.
    pub orders_failed: AtomicU64,
    /// Catalogue lookups answered with 200.
    pub catalog_ok: AtomicU64,
    /// Catalogue lookups that failed.
    pub catalog_failed: AtomicU64,
    /// Ticks skipped because too many requests were in flight.
    pub skipped: AtomicU64,
}

/// Runs until the runtime stops; `rate_per_second` of 0 (or less) sends nothing.
pub(crate) async fn run(
    gateway: SocketAddr,
    rate_per_second: f64,
    seed: u64,
    stats: Arc<TrafficStats>,
) {
    if !(rate_per_second > 0.0 && rate_per_second.is_finite()) {
        return;
    }
    let client = match reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "traffic generator: cannot build the HTTP client");
            return;
        }
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate_per_second));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Ok(permit) = permits.clone().try_acquire_many_owned(2) else {
            stats.skipped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let shopper = rng.random_range(0..SHOPPERS);
        let order = random_order(&mut rng, shopper);
        let sku = PRODUCTS[rng.random_range(0..PRODUCTS.len())].sku;
        let (client, stats) = (client.clone(), stats.clone());
        tokio::spawn(async move {
            let _permit = permit;
            tokio::join!(
                place(&client, gateway, order, &stats),
                browse(&client, gateway, shopper, sku, &stats),
            );
        });
    }
}

fn random_order(rng: &mut StdRng, shopper: u32) -> Value {
    let mut items = Vec::new();
    let mut amount_cents = 0;
    for _ in 0..rng.random_range(1..=3) {
        let product = &PRODUCTS[rng.random_range(0..PRODUCTS.len())];
        let qty = rng.random_range(1..=3);
        amount_cents += product.price_cents * qty;
        items.push(json!({ "sku": product.sku, "qty": qty }));
    }
    let card = if rng.random_bool(DECLINED_SHARE) {
        DECLINED_CARD
    } else {
        "4242424242424242"
    };
    let country = if rng.random_bool(UNSERVED_SHARE) {
        UNSERVED_COUNTRY
    } else {
        ["GB", "FR", "DE", "NL", "IE"][rng.random_range(0..5)]
    };
    let order_id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
    json!({
        "order_id": format!("o-{order_id}"),
        "customer": format!("user-{shopper}"),
        "items": items,
        "amount_cents": amount_cents,
        "currency": "EUR",
        "card": card,
        "address": { "name": format!("Shopper {shopper}"), "street": "1 Rail Way", "country": country },
    })
}

async fn place(client: &reqwest::Client, gateway: SocketAddr, order: Value, stats: &TrafficStats) {
    let sent = client
        .post(format!("http://{gateway}/orders"))
        .header("content-type", "application/json")
        .body(order.to_string())
        .send()
        .await;
    let counter = match sent {
        Ok(response) if response.status().is_success() => &stats.orders_accepted,
        Ok(response) => {
            tracing::debug!(status = %response.status(), "order refused");
            &stats.orders_failed
        }
        Err(error) => {
            tracing::debug!(%error, "order not answered");
            &stats.orders_failed
        }
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

async fn browse(
    client: &reqwest::Client,
    gateway: SocketAddr,
    shopper: u32,
    sku: &str,
    stats: &TrafficStats,
) {
    let answer = client
        .get(format!("http://{gateway}/catalog/items/{sku}"))
        .header("x-user-id", format!("user-{shopper}"))
        .send()
        .await;
    let ok = matches!(&answer, Ok(response) if response.status().is_success());
    let counter = if ok {
        &stats.catalog_ok
    } else {
        &stats.catalog_failed
    };
    counter.fetch_add(1, Ordering::Relaxed);
}
