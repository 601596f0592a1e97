//! The audit trail over HTTP: who is acting (API key id, the frame, or the CLI) with the
//! request id, turned into entries for the store; and `GET /v1/audit_log`, the merchant's
//! own entries, newest first.

use super::auth::AuthedMerchant;
use super::error::ApiError;
use super::openapi::{self, ErrorBody};
use crate::state::AppState;
use crate::store::{AuditEntry, NewAuditEntry, PaymentRecord};
use crate::telemetry::RequestId;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/audit_log", get(list))
}

/// Who did it and in which request: what every audit entry written for a request carries.
#[derive(Debug, Clone)]
pub struct Actor {
    pub merchant_id: String,
    /// `api_key:key_…` or `frame`.
    pub actor: String,
    pub request_id: Option<String>,
}

impl Actor {
    pub fn merchant(auth: &AuthedMerchant, request: &CurrentRequest) -> Actor {
        Actor {
            merchant_id: auth.merchant.id.clone(),
            actor: auth.actor().to_string(),
            request_id: request.0.clone(),
        }
    }

    /// The shopper, through the hosted frame, paying a session of `merchant_id`.
    pub fn frame(merchant_id: &str, request: &CurrentRequest) -> Actor {
        Actor {
            merchant_id: merchant_id.to_owned(),
            actor: crate::payments::Actor::Frame.to_string(),
            request_id: request.0.clone(),
        }
    }

    /// An entry by this actor. `details` holds ids, counts and field names only.
    pub fn entry(
        &self,
        action: &'static str,
        object_type: &'static str,
        object_id: &str,
        customer_id: Option<&str>,
        details: serde_json::Value,
        at: i64,
    ) -> NewAuditEntry {
        NewAuditEntry {
            merchant_id: Some(self.merchant_id.clone()),
            actor: self.actor.clone(),
            action,
            object_type,
            object_id: object_id.to_owned(),
            customer_id: customer_id.map(str::to_owned),
            request_id: self.request_id.clone(),
            details,
            at,
        }
    }

    /// The entry for a change to a payment, written by the payment's save in its transaction
    /// (see `payments::flow::Along`): a committed change always has its entry, and an entry
    /// never tells of a change that was rolled back.
    pub fn payment_entry(
        &self,
        action: &'static str,
        record: &PaymentRecord,
        mut details: serde_json::Value,
        at: i64,
    ) -> NewAuditEntry {
        details["status"] = record.payment.status().as_str().into();
        self.entry(
            action,
            "payment",
            &record.id,
            record.customer_id.as_deref(),
            details,
            at,
        )
    }
}

/// The id of the request being served (set by the telemetry layer).
pub struct CurrentRequest(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for CurrentRequest {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(CurrentRequest(
            parts.extensions.get::<RequestId>().map(|id| id.0.clone()),
        ))
    }
}

/// One audit log entry.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditEntry)]
pub struct AuditEntryObject {
    /// `aud_…`
    pub id: String,
    /// Always `"audit_entry"`.
    #[schema(value_type = String, examples("audit_entry"))]
    pub object: &'static str,
    /// `api_key:key_…` (the API key's id, never the key), `frame`, `system` or `cli`.
    pub actor: String,
    /// e.g. `customer.created`, `customer.erased`, `payment_method.attached`,
    /// `payment.captured`, `merchant.created`, `api_key.rolled`.
    pub action: String,
    /// `merchant`, `api_key`, `customer`, `payment_method` or `payment`.
    pub object_type: String,
    pub object_id: String,
    /// The customer the entry concerns (`cus_…`), or null.
    #[schema(required = true)]
    pub customer: Option<String>,
    /// The `request-id` of the API request, or null (CLI).
    #[schema(required = true)]
    pub request_id: Option<String>,
    /// Ids, counts and the names of changed fields; never their values, never card data.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// Unix seconds.
    pub created: i64,
}

impl From<AuditEntry> for AuditEntryObject {
    fn from(e: AuditEntry) -> AuditEntryObject {
        AuditEntryObject {
            id: e.id,
            object: "audit_entry",
            actor: e.actor,
            action: e.action,
            object_type: e.object_type,
            object_id: e.object_id,
            customer: e.customer_id,
            request_id: e.request_id,
            details: e.details,
            created: e.at,
        }
    }
}

/// A page of audit entries, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditEntryList)]
pub struct AuditListObject {
    /// Always `"list"`.
    #[schema(value_type = String, examples("list"))]
    pub object: &'static str,
    /// Always `"/v1/audit_log"`.
    #[schema(value_type = String)]
    pub url: &'static str,
    pub has_more: bool,
    pub data: Vec<AuditEntryObject>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// How many entries to return, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100, default = 10)]
    limit: Option<i64>,
    /// An entry id (`aud_…`): return the entries before it (older).
    starting_after: Option<String>,
}

/// Checks `limit` (1 to 100, default 10) of a list query that may have failed to parse.
pub fn page_limit<T>(
    query: Result<Query<T>, QueryRejection>,
    limit: impl Fn(&T) -> Option<i64>,
) -> Result<(T, i64), ApiError> {
    let invalid = || {
        ApiError::invalid(
            "invalid_limit",
            "limit must be an integer between 1 and 100.",
        )
        .param("limit")
    };
    let Query(q) = query.map_err(|_| invalid())?;
    let n = limit(&q).unwrap_or(10);
    if !(1..=100).contains(&n) {
        return Err(invalid());
    }
    Ok((q, n))
}

/// Lists this merchant's audit log, newest first, with cursor pagination.
///
/// Every change to the merchant, its keys, customers, payment methods and payments, and
/// every export and erasure, with who did it and in which request.
#[utoipa::path(
    get,
    path = "/v1/audit_log",
    tag = "audit",
    operation_id = "list_audit_log",
    security(("secret_key" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of audit entries.", body = AuditListObject),
        (status = 400, description = "`invalid_limit`: `limit` is not an integer between 1 and 100.", body = ErrorBody),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<AuditListObject>, ApiError> {
    let (q, limit) = page_limit(query, |q| q.limit)?;
    let mut page = state
        .store
        .audit_entries(&auth.merchant.id, limit + 1, q.starting_after.as_deref())
        .await?;
    let has_more = page.len() as i64 > limit;
    page.truncate(limit as usize);
    Ok(Json(AuditListObject {
        object: "list",
        url: "/v1/audit_log",
        has_more,
        data: page.into_iter().map(AuditEntryObject::from).collect(),
    }))
}
