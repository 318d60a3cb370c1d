//! The catalogue being strangled: a legacy monolith that answers XML, and the new
//! catalogue service that answers JSON. The gateway splits `/catalog` between them and
//! adapts the monolith's XML to the same JSON, so clients cannot tell the two apart.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

/// A product of the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Product {
    pub(crate) sku: &'static str,
    pub(crate) title: &'static str,
    pub(crate) price_cents: i64,
}

/// What the shop sells (both catalogues serve the same data).
pub(crate) const PRODUCTS: [Product; 6] = [
    Product {
        sku: "TEA-01",
        title: "Assam tea",
        price_cents: 1200,
    },
    Product {
        sku: "TEA-02",
        title: "Darjeeling tea",
        price_cents: 1650,
    },
    Product {
        sku: "MUG-01",
        title: "Enamel mug",
        price_cents: 900,
    },
    Product {
        sku: "POT-01",
        title: "Cast iron teapot",
        price_cents: 4500,
    },
    Product {
        sku: "STR-01",
        title: "Tea strainer & spoon",
        price_cents: 550,
    },
    Product {
        sku: "BIS-01",
        title: "Ginger biscuits",
        price_cents: 399,
    },
];

fn product(sku: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|product| product.sku == sku)
}

/// The monolith: `GET /catalog/items/{sku}` as `<Product>` XML.
pub(crate) fn monolith() -> Router {
    Router::new().route("/catalog/items/{sku}", get(legacy_item))
}

async fn legacy_item(Path(sku): Path<String>) -> Response {
    let Some(product) = product(&sku) else {
        return (StatusCode::NOT_FOUND, "<Error>no such product</Error>").into_response();
    };
    let xml = format!(
        "<?xml version=\"1.0\"?><Product><ProductId>{}</ProductId><Title>{}</Title><PriceCents>{}</PriceCents></Product>",
        escape(product.sku),
        escape(product.title),
        product.price_cents
    );
    ([(header::CONTENT_TYPE, "application/xml")], xml).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The new catalogue: `GET /catalog/items/{sku}` as JSON.
pub(crate) fn new_catalogue() -> Router {
    Router::new().route("/catalog/items/{sku}", get(item))
}

async fn item(Path(sku): Path<String>) -> Response {
    match product(&sku) {
        Some(product) => axum::Json(json!({
            "id": product.sku,
            "name": product.title,
            "price_cents": product.price_cents,
        }))
        .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "error": "no such product" })),
        )
            .into_response(),
    }
}

/// The adapter's mapping, JSON field → monolith element (for the gateway config).
pub(crate) const ADAPTER_FIELDS: [(&str, &str); 3] = [
    ("id", "ProductId"),
    ("name", "Title"),
    ("price_cents", "PriceCents"),
];
