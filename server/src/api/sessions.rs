//! `POST /v1/sessions` and `GET /v1/sessions/{id}`: the merchant's server fixes amount,
//! currency and the origins allowed to embed the frame before the shopper sees anything.

use super::auth::{AuthedMerchant, hash_secret};
use super::error::ApiError;
use super::json::ApiJson;
use crate::ids;
use crate::state::AppState;
use crate::store::Session;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use payframe_core::{Amount, Currency};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions", post(create))
        .route("/v1/sessions/{id}", get(retrieve))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSession {
    amount: i64,
    currency: String,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    allowed_origins: Option<Vec<String>>,
    /// `automatic` (default) captures on authorization; `manual` waits for a capture call.
    #[serde(default)]
    capture: Option<String>,
}

const MAX_REFERENCE_LEN: usize = 200;

/// Whether free text holds something that parses as a card number (13–19 digits, spaces or
/// dashes between them allowed), so merchants cannot put PANs where they'd be stored in clear.
fn contains_card_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    (0..bytes.len())
        .filter(|&i| bytes[i].is_ascii_digit())
        .any(|start| {
            let mut candidate = String::new();
            for &b in &bytes[start..] {
                match b {
                    b'0'..=b'9' => candidate.push(b as char),
                    b' ' | b'-' => continue,
                    _ => break,
                }
                if candidate.len() >= 13 && payframe_core::Pan::parse(&candidate).is_ok() {
                    return true;
                }
                if candidate.len() == 19 {
                    break;
                }
            }
            false
        })
}

/// The merchant's view of a session. `expired` is derived from the clock, so no sweep is
/// needed for a session to read as expired.
pub fn session_json(s: &Session, now: i64) -> Value {
    json!({
        "id": s.id,
        "object": "session",
        "amount": s.amount,
        "currency": s.currency,
        "reference": s.reference,
        "allowed_origins": s.allowed_origins,
        "status": s.effective_status(now),
        "capture": s.capture_method,
        "livemode": s.livemode,
        "expires_at": s.expires_at,
        "created": s.created_at,
    })
}

async fn create(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    ApiJson(body): ApiJson<CreateSession>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let amount = Amount::new(body.amount)
        .map_err(|e| ApiError::invalid("invalid_amount", e.to_string()).param("amount"))?;
    let currency = Currency::parse(&body.currency)
        .map_err(|e| ApiError::invalid("invalid_currency", e.to_string()).param("currency"))?;
    if body
        .reference
        .as_ref()
        .is_some_and(|r| r.len() > MAX_REFERENCE_LEN)
    {
        return Err(ApiError::invalid(
            "invalid_reference",
            "The reference is longer than 200 characters.",
        )
        .param("reference"));
    }
    if body.reference.as_deref().is_some_and(contains_card_number) {
        return Err(ApiError::invalid(
            "reference_contains_card_number",
            "The reference looks like it contains a card number; card data never belongs there.",
        )
        .param("reference"));
    }
    let registered = &auth.merchant.origins;
    let allowed_origins = match body.allowed_origins {
        None => registered.clone(),
        Some(list) if !list.is_empty() && list.iter().all(|o| registered.contains(o)) => list,
        Some(_) => {
            return Err(ApiError::invalid(
                "invalid_origin",
                "allowed_origins must be a non-empty subset of the merchant's registered origins.",
            )
            .param("allowed_origins"));
        }
    };
    let capture_method = match body.capture.as_deref() {
        None | Some("automatic") => "automatic",
        Some("manual") => "manual",
        Some(_) => {
            return Err(ApiError::invalid(
                "invalid_capture",
                "capture must be `automatic` or `manual`.",
            )
            .param("capture"));
        }
    };
    let now = state.now();
    let id = ids::new_id("cs");
    let client_secret = format!("{id}_secret_{}", ids::random_base62(32));
    let session = Session {
        id,
        merchant_id: auth.merchant.id.clone(),
        client_secret_hash: hash_secret(&client_secret),
        amount: amount.minor_units(),
        currency: currency.code(),
        reference: body.reference,
        allowed_origins,
        status: "open".into(),
        capture_method: capture_method.into(),
        declined_attempts: 0,
        livemode: auth.livemode,
        expires_at: now + state.settings.session_ttl_seconds,
        created_at: now,
    };
    state.store.insert_session(&session).await?;
    tracing::info!(session = %session.id, merchant = %session.merchant_id, "session created");
    let mut view = session_json(&session, now);
    view["client_secret"] = json!(client_secret);
    Ok((StatusCode::OK, Json(view)))
}

async fn retrieve(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let session = state
        .store
        .session(&id)
        .await?
        .filter(|s| s.merchant_id == auth.merchant.id)
        .ok_or_else(|| ApiError::not_found("session"))?;
    Ok(Json(session_json(&session, state.now())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn spots_card_numbers_in_free_text() {
        assert!(super::contains_card_number(
            "order 4242 4242 4242 4242 for Ana"
        ));
        assert!(super::contains_card_number("x4000-0566-5566-5556"));
        assert!(!super::contains_card_number("order-2026-11-23-000123"));
        assert!(!super::contains_card_number("4242 4242 4242 4241"));
    }
}
