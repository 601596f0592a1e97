//! The demo shop: what a real merchant integration needs and nothing more. Its server
//! holds the secret key and creates a session for the order's amount (the browser never
//! chooses the amount); its page loads the gateway's `embed.js` and mounts the frame. Its
//! orders become paid only through a verified webhook (`webhooks`), never on the browser's word.

mod orders;
mod webhooks;

pub use orders::{Order, OrderStatus};

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use orders::Orders;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const PAGE: &str = include_str!("../../public/demo/index.html");
const SCRIPT: &str = include_str!("../../public/demo/shop.js");
const STYLE: &str = include_str!("../../public/demo/shop.css");

/// The order the demo sells; a real shop would price its cart on the server the same way.
const ORDER_AMOUNT: i64 = 4990;
const ORDER_CURRENCY: &str = "brl";

#[derive(Clone)]
pub struct ShopConfig {
    /// The gateway's public origin, e.g. `http://127.0.0.1:8080`.
    pub gateway_url: String,
    pub secret_key: String,
}

struct Shop {
    config: ShopConfig,
    http: reqwest::Client,
    /// The merchant's `whsec_…`; without it no webhook can be verified, so all are refused.
    webhook_secret: Option<String>,
    orders: Orders,
    /// Order references are `order-<start>-<n>`: unique across restarts of the shop.
    started: u64,
    next_order: AtomicU64,
}

/// The shop without a webhook secret: it refuses every webhook, so no order becomes paid.
pub fn app(config: ShopConfig) -> Router {
    app_with_webhooks(config, None)
}

/// The shop verifying webhooks with the merchant's webhook secret (`whsec_…`).
pub fn app_with_webhooks(config: ShopConfig, webhook_secret: Option<String>) -> Router {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let shop = Arc::new(Shop {
        config,
        http: reqwest::Client::new(),
        webhook_secret,
        orders: Orders::default(),
        started,
        next_order: AtomicU64::new(1),
    });
    Router::new()
        .route("/", get(page))
        .route("/shop.js", get(script))
        .route("/shop.css", get(style))
        .route("/orders", get(orders_page))
        .route("/api/checkout", post(checkout))
        .route("/api/orders/{reference}", get(order))
        .route("/webhooks", post(webhooks::receive))
        .with_state(shop)
}

async fn page(State(shop): State<Arc<Shop>>) -> Response {
    let gateway = &shop.config.gateway_url;
    let csp = format!(
        "default-src 'self'; script-src 'self' {gateway}; frame-src {gateway}; \
         connect-src 'self'; style-src 'self'; base-uri 'none'; form-action 'none'"
    );
    let html = PAGE.replace("{{GATEWAY_URL}}", gateway);
    ([(header::CONTENT_SECURITY_POLICY, csp)], Html(html)).into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

/// Creates an order awaiting payment and a payment session for it with the merchant's
/// secret key.
async fn checkout(State(shop): State<Arc<Shop>>) -> Response {
    let n = shop.next_order.fetch_add(1, Ordering::Relaxed);
    let reference = format!("order-{}-{n}", shop.started);
    let result = shop
        .http
        .post(format!("{}/v1/sessions", shop.config.gateway_url))
        .bearer_auth(&shop.config.secret_key)
        .json(
            &json!({ "amount": ORDER_AMOUNT, "currency": ORDER_CURRENCY, "reference": reference }),
        )
        .send()
        .await;
    let response = match result {
        Ok(r) => r,
        Err(err) => {
            tracing::error!(error = %err, "gateway unreachable");
            return (
                StatusCode::BAD_GATEWAY,
                Json(json!({ "error": "gateway unreachable" })),
            )
                .into_response();
        }
    };
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        tracing::error!(%status, "gateway refused the session");
        return (
            StatusCode::BAD_GATEWAY,
            Json(json!({ "error": body["error"]["code"] })),
        )
            .into_response();
    }
    let Some(session) = body["id"].as_str() else {
        tracing::error!("gateway answered a session without an id");
        return (
            StatusCode::BAD_GATEWAY,
            Json(json!({ "error": "bad gateway answer" })),
        )
            .into_response();
    };
    // The order keeps the amount the shop asked for; a payment must match it to count.
    shop.orders.create(
        reference.clone(),
        session.to_owned(),
        ORDER_AMOUNT,
        ORDER_CURRENCY.to_owned(),
    );
    Json(json!({
        "clientSecret": body["client_secret"],
        "amount": body["amount"],
        "currency": body["currency"],
        "order": reference,
    }))
    .into_response()
}

/// The order's state as the shop knows it: `awaiting_payment` until a verified webhook.
async fn order(State(shop): State<Arc<Shop>>, Path(reference): Path<String>) -> Response {
    match shop.orders.get(&reference) {
        Some(order) => Json(order).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such order" })),
        )
            .into_response(),
    }
}

/// Every order and whether a verified webhook has paid it.
async fn orders_page(State(shop): State<Arc<Shop>>) -> Response {
    let rows: String = shop
        .orders
        .list()
        .iter()
        .map(|o| {
            let status = match o.status {
                OrderStatus::Paid => "paid",
                OrderStatus::AwaitingPayment => "awaiting payment",
            };
            format!(
                "<tr><td>{}</td><td>{} {}</td><td>{status}</td><td>{}</td></tr>",
                escape(&o.reference),
                o.amount,
                escape(&o.currency),
                escape(o.payment.as_deref().unwrap_or("")),
            )
        })
        .collect();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Demo shop — orders</title>\
         <link rel=\"stylesheet\" href=\"/shop.css\"></head><body><main><h1>Orders</h1>\
         <p>An order is paid only once the gateway's signed webhook says so.</p>\
         <table><thead><tr><th>order</th><th>amount (minor units)</th><th>status</th><th>payment</th></tr></thead>\
         <tbody>{rows}</tbody></table></main></body></html>"
    );
    let csp = "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'";
    ([(header::CONTENT_SECURITY_POLICY, csp)], Html(html)).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
