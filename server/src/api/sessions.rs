//! `POST /v1/sessions` and `GET /v1/sessions/{id}`: the merchant's server fixes amount,
//! currency and the origins allowed to embed the frame before the shopper sees anything.

use super::auth::{AuthedMerchant, hash_secret};
use super::error::ApiError;
use super::idempotency::Answer;
use super::json::ApiJson;
use super::openapi::{self, ErrorBody};
use crate::ids;
use crate::state::AppState;
use crate::store::{Session, WriteAlong};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use payframe_core::{Amount, Currency};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions", post(create))
        .route("/v1/sessions/{id}", get(retrieve))
}

/// `POST /v1/sessions`: what the shopper will pay, fixed before the frame is shown.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// In minor units of `currency` (e.g. 1999 for 19.99 BRL); positive.
    #[schema(examples(1999))]
    amount: i64,
    /// ISO 4217 code, any case.
    #[schema(examples("brl"))]
    currency: String,
    /// The merchant's own reference (up to 200 characters); must not contain a card number.
    #[serde(default)]
    #[schema(max_length = 200)]
    reference: Option<String>,
    /// Origins allowed to embed the frame; a non-empty subset of the merchant's registered
    /// origins. Default: all of them.
    #[serde(default)]
    allowed_origins: Option<Vec<String>>,
    /// `automatic` (default) captures on authorization; `manual` waits for a capture call.
    #[serde(default)]
    #[schema(examples("automatic", "manual"))]
    capture: Option<String>,
    /// The customer (`cus_…`) this checkout is for; their payments show in their history.
    #[serde(default)]
    customer: Option<String>,
    /// Save the card for `customer` once it is authorized, as a reusable payment method
    /// (`pm_…`) that `POST /v1/payments` can charge. Needs `customer`.
    #[serde(default)]
    save_payment_method: Option<bool>,
}

const MAX_REFERENCE_LEN: usize = 200;

/// Whether free text holds something that parses as a card number (13–19 digits, spaces or
/// dashes between them allowed), so merchants cannot put PANs where they'd be stored in clear.
pub(crate) fn contains_card_number(text: &str) -> bool {
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

/// Refuses a reference that is too long or holds a card number.
pub(crate) fn check_reference(reference: Option<&str>) -> Result<(), ApiError> {
    if reference.is_some_and(|r| r.len() > MAX_REFERENCE_LEN) {
        return Err(ApiError::invalid(
            "invalid_reference",
            "The reference is longer than 200 characters.",
        )
        .param("reference"));
    }
    if reference.is_some_and(contains_card_number) {
        return Err(ApiError::invalid(
            "reference_contains_card_number",
            "The reference looks like it contains a card number; card data never belongs there.",
        )
        .param("reference"));
    }
    Ok(())
}

/// The session object: a checkout the merchant's server set up for the frame.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Session)]
pub struct SessionObject {
    /// `cs_…`
    pub id: String,
    /// Always `"session"`.
    #[schema(value_type = String, examples("session"))]
    pub object: &'static str,
    /// In minor units of `currency`.
    pub amount: i64,
    /// ISO 4217, lower case.
    pub currency: String,
    /// The merchant's reference, or null.
    #[schema(required = true)]
    pub reference: Option<String>,
    /// The origins allowed to embed the frame for this session.
    pub allowed_origins: Vec<String>,
    /// `open`, `processing`, `complete`, `locked` (too many declined attempts) or `expired`.
    pub status: String,
    /// `automatic` or `manual`.
    pub capture: String,
    /// The customer (`cus_…`), or null.
    #[schema(required = true)]
    pub customer: Option<String>,
    /// Whether an authorized card is saved for the customer.
    pub save_payment_method: bool,
    pub livemode: bool,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds.
    pub created: i64,
    /// Only in the creation response: hand it to the frame (`embed.js`), never log it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl SessionObject {
    /// The merchant's view of a session. `expired` is derived from the clock, so no sweep is
    /// needed for a session to read as expired.
    pub fn new(s: &Session, now: i64) -> SessionObject {
        SessionObject {
            id: s.id.clone(),
            object: "session",
            amount: s.amount,
            currency: s.currency.clone(),
            reference: s.reference.clone(),
            allowed_origins: s.allowed_origins.clone(),
            status: s.effective_status(now).to_owned(),
            capture: s.capture_method.clone(),
            customer: s.customer_id.clone(),
            save_payment_method: s.save_payment_method,
            livemode: s.livemode,
            expires_at: s.expires_at,
            created: s.created_at,
            client_secret: None,
        }
    }
}

/// Creates a checkout session.
///
/// The amount, currency and embedding origins are fixed here, on the merchant's server; the
/// response's `client_secret` is what the frame needs to show the card form and pay.
#[utoipa::path(
    post,
    path = "/v1/sessions",
    tag = "sessions",
    operation_id = "create_session",
    security(("secret_key" = [])),
    params(openapi::IdempotencyKey),
    request_body = CreateSession,
    responses(
        (status = 200, description = "The session, with its `client_secret`.", body = SessionObject),
        (status = 400, description = "`invalid_amount`, `invalid_currency`, `invalid_reference`, \
            `reference_contains_card_number`, `invalid_origin`, `invalid_capture`, `customer_required`, \
            `invalid_json`, `invalid_body`, `invalid_content_type` or `invalid_idempotency_key`.", body = ErrorBody),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 404, description = "`resource_missing` (`param`: `customer`): no such customer.", body = ErrorBody),
        (status = 409, description = "`customer_erased` (the customer was erased); or \
            `idempotency_key_reused` (the key was used with another request) or \
            `idempotency_key_in_use` (the first request with it is still running), type \
            `idempotency_error`.", body = ErrorBody),
        (status = 413, description = openapi::BODY_TOO_LARGE, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    answer: Answer,
    ApiJson(body): ApiJson<CreateSession>,
) -> Result<Response, ApiError> {
    let amount = Amount::new(body.amount)
        .map_err(|e| ApiError::invalid("invalid_amount", e.to_string()).param("amount"))?;
    let currency = Currency::parse(&body.currency)
        .map_err(|e| ApiError::invalid("invalid_currency", e.to_string()).param("currency"))?;
    check_reference(body.reference.as_deref())?;
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
    let save_payment_method = body.save_payment_method.unwrap_or(false);
    let customer_id = match body.customer.as_deref() {
        None if save_payment_method => {
            return Err(ApiError::invalid(
                "customer_required",
                "save_payment_method needs a customer to save the card for.",
            )
            .param("customer"));
        }
        None => None,
        Some(id) => {
            let customer = super::customers::load_customer(&state, &auth, id)
                .await
                .map_err(|e| e.param("customer"))?;
            if customer.erased_at.is_some() {
                return Err(super::customers::customer_erased(Some("customer")));
            }
            Some(customer.id)
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
        customer_id,
        save_payment_method,
    };
    let mut view = SessionObject::new(&session, now);
    view.client_secret = Some(client_secret);
    // The client secret is shown once; a retry gets it from the answer stored (sealed) with
    // the session, or no session exists and the retry creates it.
    let along = WriteAlong {
        audit: None,
        response: answer.json(StatusCode::OK, &view),
    };
    state.store.insert_session(&session, &along).await?;
    tracing::info!(session = %session.id, merchant = %session.merchant_id, "session created");
    Ok(answer.into_response())
}

/// Retrieves a session of this merchant (without its client secret).
#[utoipa::path(
    get,
    path = "/v1/sessions/{id}",
    tag = "sessions",
    operation_id = "retrieve_session",
    security(("secret_key" = [])),
    params(("id" = String, Path, description = "The session's id, `cs_…`.")),
    responses(
        (status = 200, description = "The session.", body = SessionObject),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 404, description = "`resource_missing`: no such session for this merchant.", body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn retrieve(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    Path(id): Path<String>,
) -> Result<Json<SessionObject>, ApiError> {
    let session = state
        .store
        .session(&id)
        .await?
        .filter(|s| s.merchant_id == auth.merchant.id)
        .ok_or_else(|| ApiError::not_found("session"))?;
    Ok(Json(SessionObject::new(&session, state.now())))
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
