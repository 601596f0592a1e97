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

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "authentication_error",
        code,
        message,
    )
}

impl FromRequestParts<AppState> for AuthedMerchant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
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
            .filter(|k| k.starts_with("sk_test_") || k.starts_with("sk_live_"))
            .ok_or_else(|| unauthorized("invalid_api_key", "Invalid API key."))?;
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
}
