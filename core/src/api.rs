//! JSON wire types shared by the frame and the gateway's frame-facing endpoints.

use crate::envelope::Envelope;
use serde::{Deserialize, Serialize};

/// `GET /v1/frame/sessions/{id}?client_secret=…`: what the frame may know of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FrameSession {
    /// `cs_…`
    pub id: String,
    /// Always `"session"`.
    pub object: String,
    /// In minor units of `currency`.
    pub amount: i64,
    /// ISO 4217, lower case.
    pub currency: String,
    /// `open`, `processing`, `complete`, `locked` or `expired`.
    pub status: String,
    /// The origins allowed to embed the frame for this session.
    pub allowed_origins: Vec<String>,
    /// Unix seconds.
    pub expires_at: i64,
    pub encryption_key: EncryptionKey,
}

/// The gateway's current HPKE public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EncryptionKey {
    /// The key id to put in the envelope's `kid`.
    pub kid: String,
    /// base64url (no padding) of the 32-byte X25519 public key.
    pub public_key: String,
}

/// `POST /v1/frame/sessions/{id}/confirm`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The session's client secret (`cs_…_secret_…`), from the session's creation response.
    pub client_secret: String,
    /// The card, sealed in the browser to the session's encryption key.
    pub envelope: Envelope,
}

/// What may be shown of a card: never more than brand, last four and expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentMethodView {
    pub brand: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
}

/// The confirm answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfirmResponse {
    /// `tok_…`: the vaulted card.
    pub token: String,
    pub payment_method: PaymentMethodView,
    /// The payment object, as the merchant API shows it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payment: serde_json::Value,
}

/// The error shape of every endpoint: `{"error":{type,code,message,param,…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: `code` is stable and meant for programs, `message` for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// `invalid_request_error`, `authentication_error`, `card_error`, `idempotency_error`
    /// or `api_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A stable, machine-readable code such as `invalid_amount` or `card_declined`.
    pub code: String,
    /// A human-readable explanation; never carries card data.
    pub message: String,
    /// The request field the error is about, e.g. `amount` or `envelope.kid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// For `card_declined`: the issuer's reason, e.g. `insufficient_funds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    /// The payment a declined confirm created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<String>,
}
