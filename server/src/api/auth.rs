//! Merchant authentication: `Authorization: Bearer sk_…`. Keys are stored as SHA-256
//! hashes; the lookup is by hash and the final comparison is constant-time.

use super::error::ApiError;
use crate::state::AppState;
use crate::store::Merchant;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Clone)]
pub struct AuthedMerchant {
    pub merchant: Merchant,
    pub livemode: bool,
    /// The API key's id (never the key), for the audit trail of what it did.
    pub key_id: String,
}

impl AuthedMerchant {
    pub fn actor(&self) -> crate::payments::Actor {
        crate::payments::Actor::ApiKey(self.key_id.clone())
    }
}

pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

pub(crate) fn unauthorized(code: &'static str, message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "authentication_error",
        code,
        message,
    )
}

impl FromRequestParts<AppState> for AuthedMerchant {
    type Rejection = ApiError;

    /// The first extraction (the idempotency layer's, or the handler's) authenticates and
    /// counts the request against the key's rate limit; later ones reuse its answer, so one
    /// request is one database lookup and one unit of the limit — and a refusal comes
    /// before the idempotency layer claims the key, so a 429 is never stored and replayed.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(authed) = parts.extensions.get::<AuthedMerchant>() {
            return Ok(authed.clone());
        }
        let authed = authenticate(parts, state).await?;
        // Keyed by the key's id: the secret itself is never kept or logged.
        if let Err(err) = state.rate_limits.api_key(&authed.key_id) {
            tracing::warn!(key = %authed.key_id, "API request rate-limited");
            return Err(err);
        }
        parts.extensions.insert(authed.clone());
        Ok(authed)
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<AuthedMerchant, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            unauthorized(
                "missing_api_key",
                "Provide your secret key as `Authorization: Bearer sk_…`.",
            )
        })?;
    let key = header
        .strip_prefix("Bearer ")
        .ok_or_else(|| unauthorized("invalid_api_key", "Invalid API key."))?;
    authenticate_key(state, key).await
}

/// The merchant whose active secret key is `key` (the API's bearer token, or what a
/// merchant typed into the dashboard's sign-in form).
pub(crate) async fn authenticate_key(
    state: &AppState,
    key: &str,
) -> Result<AuthedMerchant, ApiError> {
    if !(key.starts_with("sk_test_") || key.starts_with("sk_live_")) {
        return Err(unauthorized("invalid_api_key", "Invalid API key."));
    }
    let hash = hash_secret(key);
    let (merchant, key_id, stored_hash, livemode) = state
        .store
        .merchant_by_key_hash(&hash)
        .await?
        .ok_or_else(|| unauthorized("invalid_api_key", "Invalid API key."))?;
    if !bool::from(stored_hash.ct_eq(&hash)) {
        return Err(unauthorized("invalid_api_key", "Invalid API key."));
    }
    Ok(AuthedMerchant {
        merchant,
        livemode,
        key_id,
    })
}
