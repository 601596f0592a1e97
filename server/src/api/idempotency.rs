//! `Idempotency-Key` on the merchant's POSTs: the first request with a key runs and its
//! response — status and body, errors included — is stored; a retry of the same request
//! gets that response again without running; the same key with another request, or while
//! the first is still running, is refused with 409 `idempotency_error`. Keys live 24 h.

use super::auth::AuthedMerchant;
use super::error::ApiError;
use crate::master_key::purpose;
use crate::state::AppState;
use crate::store::IdempotencyClaim;
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

pub const KEY_TTL_SECONDS: i64 = 24 * 60 * 60;
const MAX_KEY_LEN: usize = 255;

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
            let mut response = (
                status,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
        Ok(IdempotencyClaim::Owner) => {
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            let (parts, body) = response.into_parts();
            let Ok(body) = to_bytes(body, usize::MAX).await else {
                return ApiError::internal().into_response();
            };
            if let Err(err) = state
                .store
                .record_idempotent_response(
                    &merchant,
                    &key,
                    parts.status.as_u16(),
                    // Responses can carry a session's client secret: never stored in clear.
                    &state.master.wrap(purpose::IDEMPOTENT_RESPONSE, &body),
                    state.master.id(),
                )
                .await
            {
                tracing::error!(error = %err, "could not record an idempotent response");
            }
            Response::from_parts(parts, Body::from(body))
        }
    }
}
