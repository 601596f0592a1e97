//! The demo shop: what a real merchant integration needs and nothing more. Its server
//! holds the secret key and creates a session for the order's amount (the browser never
//! chooses the amount); its page loads the gateway's `embed.js` and mounts the frame.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::Arc;

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
}

pub fn app(config: ShopConfig) -> Router {
    let shop = Arc::new(Shop {
        config,
        http: reqwest::Client::new(),
    });
    Router::new()
        .route("/", get(page))
        .route("/shop.js", get(script))
        .route("/shop.css", get(style))
        .route("/api/checkout", post(checkout))
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

/// Creates a payment session for the order with the merchant's secret key.
async fn checkout(State(shop): State<Arc<Shop>>) -> Response {
    let result = shop
        .http
        .post(format!("{}/v1/sessions", shop.config.gateway_url))
        .bearer_auth(&shop.config.secret_key)
        .json(&json!({ "amount": ORDER_AMOUNT, "currency": ORDER_CURRENCY, "reference": "demo-order" }))
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
    Json(json!({
        "clientSecret": body["client_secret"],
        "amount": body["amount"],
        "currency": body["currency"],
    }))
    .into_response()
}
