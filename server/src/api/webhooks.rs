//! `POST/GET/DELETE /v1/webhook_endpoints`: where a merchant receives its events. Thin
//! shells over `webhooks::endpoints`; an endpoint belongs to the key's mode, and another
//! merchant's (or the other mode's) endpoint is as good as missing.

use super::auth::AuthedMerchant;
use super::error::ApiError;
use super::json::ApiJson;
use super::openapi::{self, ErrorBody};
use crate::state::AppState;
use crate::store::EndpointRow;
use crate::webhooks::endpoints::{self, EndpointError};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/webhook_endpoints", post(create).get(list))
        .route("/v1/webhook_endpoints/{id}", get(retrieve).delete(delete))
}

/// `POST /v1/webhook_endpoints`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpoint {
    /// Where events are POSTed: `http://` or `https://`, no credentials. Live mode needs
    /// `https://` and a host that is not (and does not resolve to) a loopback, private or
    /// link-local address.
    #[schema(examples("https://shop.example/webhooks"))]
    url: String,
    /// Event types to deliver (`payment.authorized`, `payment.captured`, `payment.failed`,
    /// `payment.canceled`, `payment.refunded`), or `["*"]` for all. Default: all.
    #[serde(default)]
    enabled_events: Vec<String>,
}

/// A webhook endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookEndpoint)]
pub struct WebhookEndpointObject {
    /// `we_…`
    pub id: String,
    /// Always `"webhook_endpoint"`.
    #[schema(value_type = String, examples("webhook_endpoint"))]
    pub object: &'static str,
    pub url: String,
    /// The event types delivered here; `["*"]` is all of them.
    pub enabled_events: Vec<String>,
    pub livemode: bool,
    /// `enabled`.
    #[schema(value_type = String, examples("enabled"))]
    pub status: &'static str,
    /// Unix seconds.
    pub created: i64,
    /// The signing secret (`whsec_…`) that `Payframe-Signature` uses: only in the creation
    /// response. Keep it on your server; never log it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<&EndpointRow> for WebhookEndpointObject {
    fn from(e: &EndpointRow) -> Self {
        WebhookEndpointObject {
            id: e.id.clone(),
            object: "webhook_endpoint",
            url: e.url.clone(),
            enabled_events: e.enabled_events.clone(),
            livemode: e.livemode,
            status: "enabled",
            created: e.created_at,
            secret: None,
        }
    }
}

/// A page of webhook endpoints, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookEndpointList)]
pub struct WebhookEndpointListObject {
    /// Always `"list"`.
    #[schema(value_type = String, examples("list"))]
    pub object: &'static str,
    /// Always `"/v1/webhook_endpoints"`.
    #[schema(value_type = String)]
    pub url: &'static str,
    /// Whether more follow; pass the last id as `starting_after` to get them.
    pub has_more: bool,
    pub data: Vec<WebhookEndpointObject>,
}

/// What `DELETE /v1/webhook_endpoints/{id}` answers.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeletedWebhookEndpoint)]
pub struct DeletedWebhookEndpointObject {
    /// `we_…`
    pub id: String,
    /// Always `"webhook_endpoint"`.
    #[schema(value_type = String, examples("webhook_endpoint"))]
    pub object: &'static str,
    /// Always `true`.
    pub deleted: bool,
}

impl From<EndpointError> for ApiError {
    fn from(err: EndpointError) -> ApiError {
        match err {
            EndpointError::InvalidUrl => ApiError::invalid("invalid_url", err.to_string()),
            EndpointError::InsecureUrl => ApiError::invalid("url_not_https", err.to_string()),
            EndpointError::PrivateAddress => {
                ApiError::invalid("url_private_address", err.to_string())
            }
            EndpointError::Unresolvable => ApiError::invalid("url_unresolvable", err.to_string()),
            EndpointError::UnknownEvent(_) => {
                return ApiError::invalid("invalid_event_type", err.to_string())
                    .param("enabled_events");
            }
            EndpointError::TooMany => ApiError::invalid("too_many_endpoints", err.to_string()),
            EndpointError::Store(e) => return e.into(),
        }
        .param("url")
    }
}

const ENDPOINT_ID: &str = "The endpoint's id, `we_…`.";
const NO_SUCH_ENDPOINT: &str =
    "`resource_missing`: no such webhook endpoint for this merchant and mode.";

/// Creates a webhook endpoint; the answer carries its signing secret, shown this once.
#[utoipa::path(
    post,
    path = "/v1/webhook_endpoints",
    tag = "webhooks",
    operation_id = "create_webhook_endpoint",
    security(("secret_key" = [])),
    params(openapi::IdempotencyKey),
    request_body = CreateWebhookEndpoint,
    responses(
        (status = 200, description = "The endpoint, with `secret`.", body = WebhookEndpointObject),
        (status = 400, description = "`invalid_url`, `url_not_https`, `url_private_address`, \
            `url_unresolvable`, `too_many_endpoints` (16 per mode), `invalid_event_type`, \
            `invalid_body`, `invalid_json`, `invalid_content_type` or \
            `invalid_idempotency_key`.", body = ErrorBody),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 409, description = openapi::IDEMPOTENCY_CONFLICT, body = ErrorBody),
        (status = 413, description = openapi::BODY_TOO_LARGE, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    ApiJson(body): ApiJson<CreateWebhookEndpoint>,
) -> Result<Json<WebhookEndpointObject>, ApiError> {
    let created = endpoints::create(
        &state.store,
        &state.master,
        &auth.merchant.id,
        &body.url,
        &body.enabled_events,
        auth.livemode,
        None,
        state.now(),
    )
    .await?;
    let mut object = WebhookEndpointObject::from(&created.endpoint);
    object.secret = Some(created.secret);
    Ok(Json(object))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// How many to return, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100, default = 10)]
    limit: Option<i64>,
    /// An endpoint id (`we_…`): return the endpoints after it (older than it).
    starting_after: Option<String>,
}

/// `limit` as the list endpoints take it: 1 to 100, default 10.
pub(super) fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(
            ApiError::invalid("invalid_limit", "limit must be between 1 and 100.").param("limit"),
        );
    }
    Ok(limit)
}

pub(super) fn bad_query(_: QueryRejection) -> ApiError {
    ApiError::invalid(
        "invalid_limit",
        "limit must be an integer between 1 and 100.",
    )
    .param("limit")
}

/// Lists this merchant's webhook endpoints of the key's mode, newest first.
#[utoipa::path(
    get,
    path = "/v1/webhook_endpoints",
    tag = "webhooks",
    operation_id = "list_webhook_endpoints",
    security(("secret_key" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of endpoints.", body = WebhookEndpointListObject),
        (status = 400, description = "`invalid_limit`: `limit` is not an integer between 1 and 100.", body = ErrorBody),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<WebhookEndpointListObject>, ApiError> {
    let Query(q) = query.map_err(bad_query)?;
    let limit = page_limit(q.limit)?;
    let mut page = state
        .store
        .webhook_endpoints(
            &auth.merchant.id,
            auth.livemode,
            limit + 1,
            q.starting_after.as_deref(),
        )
        .await?;
    let has_more = page.len() as i64 > limit;
    page.truncate(limit as usize);
    Ok(Json(WebhookEndpointListObject {
        object: "list",
        url: "/v1/webhook_endpoints",
        has_more,
        data: page.iter().map(WebhookEndpointObject::from).collect(),
    }))
}

/// Retrieves a webhook endpoint (without its secret).
#[utoipa::path(
    get,
    path = "/v1/webhook_endpoints/{id}",
    tag = "webhooks",
    operation_id = "retrieve_webhook_endpoint",
    security(("secret_key" = [])),
    params(("id" = String, Path, description = ENDPOINT_ID)),
    responses(
        (status = 200, description = "The endpoint.", body = WebhookEndpointObject),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 404, description = NO_SUCH_ENDPOINT, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn retrieve(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    Path(id): Path<String>,
) -> Result<Json<WebhookEndpointObject>, ApiError> {
    let endpoint = state
        .store
        .webhook_endpoint(&auth.merchant.id, auth.livemode, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))?;
    Ok(Json(WebhookEndpointObject::from(&endpoint)))
}

/// Deletes a webhook endpoint: nothing more is delivered to it, and its pending deliveries
/// are canceled. Its past deliveries stay visible on their events.
#[utoipa::path(
    delete,
    path = "/v1/webhook_endpoints/{id}",
    tag = "webhooks",
    operation_id = "delete_webhook_endpoint",
    security(("secret_key" = [])),
    params(("id" = String, Path, description = ENDPOINT_ID)),
    responses(
        (status = 200, description = "Deleted.", body = DeletedWebhookEndpointObject),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 404, description = NO_SUCH_ENDPOINT, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    Path(id): Path<String>,
) -> Result<Json<DeletedWebhookEndpointObject>, ApiError> {
    if !state
        .store
        .delete_webhook_endpoint(&auth.merchant.id, auth.livemode, &id, state.now())
        .await?
    {
        return Err(ApiError::not_found("webhook endpoint"));
    }
    Ok(Json(DeletedWebhookEndpointObject {
        id,
        object: "webhook_endpoint",
        deleted: true,
    }))
}
