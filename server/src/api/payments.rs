//! The merchant's payment endpoints: retrieve and list (cursor pagination), capture,
//! cancel (void) and refund. Each is a thin shell over `payments::flow`.

use super::auth::AuthedMerchant;
use super::error::ApiError;
use crate::payments::flow;
use crate::state::AppState;
use crate::store::PaymentRecord;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use payframe_core::Amount;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/payments", get(list))
        .route("/v1/payments/{id}", get(retrieve))
        .route("/v1/payments/{id}/capture", post(capture))
        .route("/v1/payments/{id}/cancel", post(cancel))
        .route("/v1/payments/{id}/refunds", post(refund))
}

/// The payment object of the API.
pub fn payment_json(r: &PaymentRecord) -> Value {
    let p = &r.payment;
    json!({
        "id": r.id,
        "object": "payment",
        "session": r.session_id,
        "amount": p.amount().minor_units(),
        "amount_captured": p.amount_captured(),
        "amount_refunded": p.amount_refunded(),
        "currency": p.currency().code(),
        "status": p.status().as_str(),
        "capture_method": p.capture_method().as_str(),
        "decline_code": p.decline_code().map(|c| c.as_str()),
        "payment_method": {
            "brand": r.brand,
            "last4": r.last4,
            "exp_month": r.exp_month,
            "exp_year": r.exp_year,
        },
        "customer": Value::Null,
        "livemode": r.livemode,
        "created": p.created(),
    })
}

async fn load(
    state: &AppState,
    auth: &AuthedMerchant,
    id: &str,
) -> Result<PaymentRecord, ApiError> {
    state
        .store
        .payment(&auth.merchant.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("payment"))
}

async fn retrieve(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let record = load(&state, &auth, &id).await?;
    // A payment left `processing` by a processor timeout is resolved by asking again.
    let record = flow::resolve(&state, record, state.now()).await?;
    Ok(Json(payment_json(&record)))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
    starting_after: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(
            ApiError::invalid("invalid_limit", "limit must be between 1 and 100.").param("limit"),
        );
    }
    // One more than asked tells whether another page exists.
    let mut page = state
        .store
        .payments(&auth.merchant.id, limit + 1, q.starting_after.as_deref())
        .await?;
    let has_more = page.len() as i64 > limit;
    page.truncate(limit as usize);
    Ok(Json(json!({
        "object": "list",
        "url": "/v1/payments",
        "has_more": has_more,
        "data": page.iter().map(payment_json).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AmountBody {
    #[serde(default)]
    amount: Option<i64>,
}

/// An optional JSON body: empty means all defaults.
fn optional_body<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|_| {
        ApiError::invalid(
            "invalid_body",
            "The body must be JSON such as {\"amount\": 500}, or empty.",
        )
    })
}

fn amount(body: &AmountBody) -> Result<Option<Amount>, ApiError> {
    body.amount
        .map(Amount::new)
        .transpose()
        .map_err(|e| ApiError::invalid("invalid_amount", e.to_string()).param("amount"))
}

async fn capture(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let amount = amount(&optional_body(&body)?)?;
    let _guard = state.payment_locks.lock(&id).await;
    let record = load(&state, &auth, &id).await?;
    let record = flow::capture(&state, record, amount, auth.actor(), state.now()).await?;
    Ok(Json(payment_json(&record)))
}

async fn cancel(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let _guard = state.payment_locks.lock(&id).await;
    let record = load(&state, &auth, &id).await?;
    let record = flow::cancel(&state, record, auth.actor(), state.now()).await?;
    Ok(Json(payment_json(&record)))
}

async fn refund(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let amount = amount(&optional_body(&body)?)?;
    let _guard = state.payment_locks.lock(&id).await;
    let record = load(&state, &auth, &id).await?;
    let (record, refund) = flow::refund(&state, record, amount, auth.actor(), state.now()).await?;
    Ok(Json(json!({
        "id": refund.id,
        "object": "refund",
        "payment": record.id,
        "amount": refund.amount,
        "currency": record.payment.currency().code(),
        "status": "succeeded",
        "created": refund.created_at,
    })))
}
