//! `Idempotency-Key` on the merchant's POSTs: the first request with a key runs and its
//! response — status and body, errors included — is stored, sealed under the master key (it
//! may hold a session's client secret); a retry of the same request gets that response
//! again, with `Idempotent-Replayed: true`, without running; the same key with another
//! request, or while the first is still running, is refused with 409 `idempotency_error`.
//! Keys live 24 h.
//!
//! Where the response is stored is what makes a retry safe. The endpoints whose effect is
//! one transaction — creating a session, charging a saved payment method, capture, cancel,
//! refund — render their answer before that transaction commits and store it there
//! (`Answer`, written through `WriteAlong`), declines that save a failed payment included:
//! the effect and its stored answer exist together or not at all, so no crash can leave a
//! done effect behind a key without an answer. Answers that change nothing (validation
//! errors, 404, a refused transition, a processor error, a failed commit) and every answer
//! of the other endpoints are stored by `layer` after the handler returns, as before.
//!
//! A key whose request stopped before anything was stored (a crash, or a database failing
//! both the effect and the answer) stays in progress — 409 `idempotency_key_in_use` — until
//! it expires. That is deliberate: the gateway cannot tell such a request from one still
//! running on another instance, and running it again could move money twice (a charge
//! whose authorization reached the processor before the crash left no payment to find).
//! Its effect is known not to be committed, so the merchant may look at the object and send
//! the request again under a new key; a capture, cancel or refund then repeats the
//! processor call under the same reference (`payments::flow`), which moves money once.

use super::auth::AuthedMerchant;
use super::error::ApiError;
use crate::master_key::{MasterKey, purpose};
use crate::state::AppState;
use crate::store::{IdempotencyClaim, IdempotentResponse};
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};

pub const KEY_TTL_SECONDS: i64 = 24 * 60 * 60;
const MAX_KEY_LEN: usize = 255;

/// The key `layer` claimed for the request being served, in the request's extensions while
/// the handler runs, for `Answer` to store the response under.
#[derive(Debug, Clone)]
struct ClaimedKey {
    merchant_id: String,
    key: String,
}

/// On a response whose answer was stored with its effect: `layer` leaves it as it is.
#[derive(Debug, Clone, Copy)]
struct StoredWithEffect;

/// The answer of a handler whose effect is one transaction, rendered before it commits:
/// `json` and `error` render the body once and return its sealed copy for that transaction
/// to store under the request's key (nothing without a key); `into_response` sends the
/// same bytes.
pub struct Answer {
    key: Option<ClaimedKey>,
    master: Arc<MasterKey>,
    rendered: Mutex<Option<(StatusCode, Vec<u8>)>>,
}

impl FromRequestParts<AppState> for Answer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(Answer {
            key: parts.extensions.get::<ClaimedKey>().cloned(),
            master: state.master.clone(),
            rendered: Mutex::new(None),
        })
    }
}

impl Answer {
    /// Renders `body` as the JSON answer with `status`; returns what the effect's
    /// transaction stores. The last rendering is the one sent.
    pub fn json(&self, status: StatusCode, body: &impl Serialize) -> Option<IdempotentResponse> {
        // The API's objects are plain structs: serializing them cannot fail.
        let bytes = serde_json::to_vec(body).expect("API objects serialize to JSON");
        let stored = self.key.as_ref().map(|key| IdempotentResponse {
            merchant_id: key.merchant_id.clone(),
            key: key.key.clone(),
            status: status.as_u16(),
            sealed_body: self.master.wrap(purpose::IDEMPOTENT_RESPONSE, &bytes),
            master_key_id: self.master.id().to_owned(),
        });
        *self.rendered.lock().unwrap_or_else(PoisonError::into_inner) = Some((status, bytes));
        stored
    }

    /// Renders `err` as the answer, for an error that comes with a stored change (a
    /// declined charge saves its failed payment).
    pub fn error(&self, err: &ApiError) -> Option<IdempotentResponse> {
        self.json(err.status, &err.body())
    }

    /// The rendered answer, once the transaction that stored it has committed.
    pub fn into_response(self) -> Response {
        let rendered = self
            .rendered
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let Some((status, body)) = rendered else {
            tracing::error!("a handler answered without rendering its answer");
            return ApiError::internal().into_response();
        };
        let mut response = (status, [(CONTENT_TYPE, "application/json")], body).into_response();
        if self.key.is_some() {
            response.extensions_mut().insert(StoredWithEffect);
        }
        response
    }
}

fn conflict(code: &'static str, message: &str) -> Response {
    ApiError::new(StatusCode::CONFLICT, "idempotency_error", code, message).into_response()
}

pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let key = request
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_owned));
    let key = match key {
        _ if request.method() != Method::POST => return next.run(request).await,
        None => return next.run(request).await,
        Some(Ok(k)) if !k.is_empty() && k.len() <= MAX_KEY_LEN => k,
        Some(_) => {
            return ApiError::invalid(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible characters.",
            )
            .into_response();
        }
    };
    let (mut parts, body) = request.into_parts();
    let auth = match AuthedMerchant::from_request_parts(&mut parts, &state).await {
        Ok(auth) => auth,
        Err(err) => return err.into_response(),
    };
    let Ok(bytes) = to_bytes(body, super::MAX_BODY_BYTES).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "body_too_large",
            "The request body is too large.",
        )
        .into_response();
    };
    // The request is its method, path and body: a retry must send all three unchanged.
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update(b" ");
    hasher.update(parts.uri.path());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let hash = hasher.finalize();
    let merchant = auth.merchant.id.clone();
    let claim = state
        .store
        .claim_idempotency_key(&merchant, &key, &hash, state.now(), KEY_TTL_SECONDS)
        .await;
    match claim {
        Err(err) => ApiError::from(err).into_response(),
        Ok(IdempotencyClaim::Mismatch) => conflict(
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request. Use a new key for a new request.",
        ),
        Ok(IdempotencyClaim::InProgress) => conflict(
            "idempotency_key_in_use",
            "A request with this Idempotency-Key is still being processed. Retry shortly.",
        ),
        Ok(IdempotencyClaim::Replay {
            status,
            sealed_body,
        }) => {
            let Ok(body) = state
                .master
                .unwrap(purpose::IDEMPOTENT_RESPONSE, &sealed_body)
            else {
                tracing::error!("a stored idempotent response could not be unsealed");
                return ApiError::internal().into_response();
            };
            let body = body.to_vec();
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (status, [(CONTENT_TYPE, "application/json")], body).into_response();
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
        Ok(IdempotencyClaim::Owner) => {
            let mut request = Request::from_parts(parts, Body::from(bytes));
            request.extensions_mut().insert(ClaimedKey {
                merchant_id: merchant.clone(),
                key: key.clone(),
            });
            let response = next.run(request).await;
            if response.extensions().get::<StoredWithEffect>().is_some() {
                return response;
            }
            let (parts, body) = response.into_parts();
            let Ok(body) = to_bytes(body, usize::MAX).await else {
                return ApiError::internal().into_response();
            };
            let stored = IdempotentResponse {
                merchant_id: merchant,
                key,
                status: parts.status.as_u16(),
                // Responses can carry a session's client secret: never stored in clear.
                sealed_body: state.master.wrap(purpose::IDEMPOTENT_RESPONSE, &body),
                master_key_id: state.master.id().to_owned(),
            };
            if let Err(err) = state.store.record_idempotent_response(&stored).await {
                tracing::error!(error = %err, "could not record an idempotent response");
            }
            Response::from_parts(parts, Body::from(body))
        }
    }
}
