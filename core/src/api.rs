//! JSON wire types shared by the frame and the gateway's frame-facing endpoints.

use crate::envelope::Envelope;
use serde::{Deserialize, Serialize};

/// `GET /v1/frame/sessions/{id}?client_secret=…`: what the frame may know of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameSession {
    pub id: String,
    pub object: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub allowed_origins: Vec<String>,
    pub expires_at: i64,
    pub encryption_key: EncryptionKey,
}

/// The gateway's current HPKE public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionKey {
    pub kid: String,
    /// base64url (no padding) of the 32-byte X25519 public key.
    pub public_key: String,
}

/// `POST /v1/frame/sessions/{id}/confirm`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    pub client_secret: String,
    pub envelope: Envelope,
}

/// What may be shown of a card: never more than brand, last four and expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethodView {
    pub brand: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
}

/// The confirm answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfirmResponse {
    pub token: String,
    pub payment_method: PaymentMethodView,
    /// The payment object, as the merchant API shows it.
    #[serde(default)]
    pub payment: serde_json::Value,
}

/// The error shape of every endpoint: `{"error":{type,code,message,param,…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    #[serde(rename = "type")]
    pub kind: String,
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    /// The payment a declined confirm created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<String>,
}
