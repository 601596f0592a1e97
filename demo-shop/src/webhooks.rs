//! `POST /webhooks`: the gateway's signed events. Every request is verified against the raw
//! body before anything is parsed; only a verified `payment.authorized` or
//! `payment.captured` for an order's session, amount and currency marks that order paid.

use crate::Shop;
use crate::orders::PaidOutcome;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use payframe_core::webhook::{SIGNATURE_HEADER, verify_now};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: Value,
}

/// The fields of the payment object the shop relies on.
#[derive(Deserialize)]
struct Payment {
    id: String,
    session: Option<String>,
    amount: i64,
    currency: String,
}

pub(crate) async fn receive(
    State(shop): State<Arc<Shop>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(secret) = shop.webhook_secret.as_deref() else {
        tracing::error!("webhook refused: no webhook secret configured (DEMO_SHOP_WEBHOOK_SECRET)");
        return refuse("webhooks_not_configured");
    };
    let Some(header) = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) else {
        tracing::warn!("webhook refused: no {SIGNATURE_HEADER} header");
        return refuse("missing_signature");
    };
    if let Err(err) = verify_now(secret, header, &body) {
        tracing::warn!(error = %err, "webhook refused: signature not verified");
        return refuse("invalid_signature");
    }
    let event: Event = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(err) => {
            tracing::warn!(error = %err, "webhook refused: verified but not an event");
            return refuse("invalid_event");
        }
    };
    if !shop.orders.first_delivery(&event.id) {
        tracing::info!(event = %event.id, "webhook already handled; acknowledged again");
        return received(true);
    }
    match event.kind.as_str() {
        "payment.authorized" | "payment.captured" => payment_succeeded(&shop, &event),
        other => tracing::info!(event = %event.id, kind = other, "webhook ignored"),
    }
    received(false)
}

fn payment_succeeded(shop: &Shop, event: &Event) {
    let payment: Payment = match serde_json::from_value(event.data.object.clone()) {
        Ok(p) => p,
        Err(err) => {
            tracing::error!(event = %event.id, error = %err, "payment event without a payment");
            return;
        }
    };
    let Some(session) = payment.session.as_deref() else {
        tracing::info!(event = %event.id, "payment without a session: not a checkout order");
        return;
    };
    let outcome = shop
        .orders
        .mark_paid(session, &payment.id, payment.amount, &payment.currency);
    match outcome {
        PaidOutcome::Paid | PaidOutcome::AlreadyPaid => {
            tracing::info!(event = %event.id, payment = %payment.id, %session, ?outcome, "order paid");
        }
        PaidOutcome::UnknownSession => {
            tracing::warn!(event = %event.id, %session, "payment for no known order");
        }
        PaidOutcome::Mismatch => {
            tracing::error!(event = %event.id, %session, amount = payment.amount,
                currency = %payment.currency, "payment does not match its order; not marked paid");
        }
    }
}

fn refuse(code: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": code }))).into_response()
}

/// 2xx tells the gateway to stop retrying, also for events the shop does not act on.
fn received(duplicate: bool) -> Response {
    Json(json!({ "received": true, "duplicate": duplicate })).into_response()
}
