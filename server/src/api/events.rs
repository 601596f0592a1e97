//! `GET /v1/events`, `GET /v1/events/{id}` and `POST /v1/events/{id}/redeliver`: the events
//! the merchant's payments caused — exactly the documents its endpoints receive — with the
//! deliveries and attempts of each.

use super::auth::AuthedMerchant;
use super::error::ApiError;
use super::openapi::{self, ErrorBody};
use super::webhooks::{bad_query, page_limit};
use crate::state::AppState;
use crate::store::{DeliveryRow, EventRow};
use crate::webhooks::events::EventType;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/events", get(list))
        .route("/v1/events/{id}", get(retrieve))
        .route("/v1/events/{id}/redeliver", post(redeliver))
}

/// An event: what happened to a payment. De-duplicate on `id`: delivery is at least once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Event)]
pub struct EventObject {
    /// `evt_…`
    pub id: String,
    /// Always `"event"`.
    #[schema(value_type = String, examples("event"))]
    pub object: &'static str,
    /// `payment.authorized`, `payment.captured`, `payment.failed`, `payment.canceled` or
    /// `payment.refunded`.
    #[serde(rename = "type")]
    #[schema(examples("payment.captured"))]
    pub kind: String,
    /// Unix seconds.
    pub created: i64,
    pub livemode: bool,
    pub data: EventDataObject,
    /// Only when retrieving one event: its deliveries, one per endpoint it was sent to
    /// (and one more per redelivery to an endpoint that had finished).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<Vec<DeliveryObject>>,
}

/// The object the event is about.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = EventData)]
pub struct EventDataObject {
    /// The payment as `GET /v1/payments/{id}` showed it when the event happened.
    #[schema(value_type = crate::payments::view::PaymentObject)]
    pub object: serde_json::Value,
}

/// The delivery of an event to one endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookDelivery)]
pub struct DeliveryObject {
    /// `whd_…`
    pub id: String,
    /// The endpoint (`we_…`).
    pub endpoint: String,
    /// The endpoint's URL.
    pub url: String,
    /// `pending` (an attempt is due at `next_attempt_at`), `delivered`, `failed` (all
    /// attempts failed) or `canceled` (the endpoint was deleted).
    #[schema(examples("delivered"))]
    pub status: String,
    /// Unix seconds, while pending.
    #[schema(required = true)]
    pub next_attempt_at: Option<i64>,
    /// Unix seconds.
    pub created: i64,
    /// Every attempt, oldest first.
    pub attempts: Vec<AttemptObject>,
}

/// One attempt to deliver.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookAttempt)]
pub struct AttemptObject {
    /// 1 for the first.
    pub number: i64,
    /// Unix seconds.
    pub attempted_at: i64,
    /// The endpoint's HTTP status, or null if it did not answer.
    #[schema(required = true)]
    pub status_code: Option<i64>,
    /// Null when delivered; otherwise `timeout`, `connection`, `redirect` (not followed),
    /// `http_status`, `destination_refused` (live mode: a non-public address),
    /// `invalid_url`, `secret_unavailable` or `request`.
    #[schema(required = true)]
    pub error: Option<String>,
    /// From sending the request to the answer (or the failure), in milliseconds.
    pub latency_ms: i64,
}

/// A page of events, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = EventList)]
pub struct EventListObject {
    /// Always `"list"`.
    #[schema(value_type = String, examples("list"))]
    pub object: &'static str,
    /// Always `"/v1/events"`.
    #[schema(value_type = String)]
    pub url: &'static str,
    /// Whether more follow; pass the last id as `starting_after` to get them.
    pub has_more: bool,
    pub data: Vec<EventObject>,
}

impl EventObject {
    fn new(row: &EventRow, deliveries: Option<Vec<DeliveryRow>>) -> Result<Self, ApiError> {
        // The stored document is what was delivered; the API shows the same.
        let mut doc: serde_json::Value = serde_json::from_str(&row.body).map_err(|_| {
            tracing::error!(event = %row.id, "stored event is not JSON");
            ApiError::internal()
        })?;
        Ok(EventObject {
            id: row.id.clone(),
            object: "event",
            kind: row.kind.clone(),
            created: row.created_at,
            livemode: row.livemode,
            data: EventDataObject {
                object: doc["data"]["object"].take(),
            },
            deliveries: deliveries.map(|ds| ds.iter().map(DeliveryObject::from).collect()),
        })
    }
}

impl From<&DeliveryRow> for DeliveryObject {
    fn from(d: &DeliveryRow) -> Self {
        DeliveryObject {
            id: d.id.clone(),
            endpoint: d.endpoint_id.clone(),
            url: d.url.clone(),
            status: d.status.clone(),
            next_attempt_at: d.next_attempt_at,
            created: d.created_at,
            attempts: d
                .attempts
                .iter()
                .map(|a| AttemptObject {
                    number: a.number,
                    attempted_at: a.attempted_at,
                    status_code: a.status_code,
                    error: a.error.clone(),
                    latency_ms: a.latency_ms,
                })
                .collect(),
        }
    }
}

const EVENT_ID: &str = "The event's id, `evt_…`.";
const NO_SUCH_EVENT: &str = "`resource_missing`: no such event for this merchant and mode.";

async fn load(state: &AppState, auth: &AuthedMerchant, id: &str) -> Result<EventRow, ApiError> {
    state
        .store
        .event(&auth.merchant.id, auth.livemode, id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// How many events to return, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100, default = 10)]
    limit: Option<i64>,
    /// An event id (`evt_…`): return the events after it (older than it).
    starting_after: Option<String>,
    /// Only events of this type, e.g. `payment.captured`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
}

/// Lists the events of this merchant's payments in the key's mode, newest first.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "webhooks",
    operation_id = "list_events",
    security(("secret_key" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of events.", body = EventListObject),
        (status = 400, description = "`invalid_limit` (`limit` is not an integer between 1 \
            and 100) or `invalid_event_type`.", body = ErrorBody),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<EventListObject>, ApiError> {
    let Query(q) = query.map_err(bad_query)?;
    let limit = page_limit(q.limit)?;
    if let Some(kind) = &q.kind
        && EventType::parse(kind).is_none()
    {
        return Err(ApiError::invalid(
            "invalid_event_type",
            format!("Unknown event type {kind:?}."),
        )
        .param("type"));
    }
    let mut page = state
        .store
        .events(
            &auth.merchant.id,
            auth.livemode,
            q.kind.as_deref(),
            limit + 1,
            q.starting_after.as_deref(),
        )
        .await?;
    let has_more = page.len() as i64 > limit;
    page.truncate(limit as usize);
    Ok(Json(EventListObject {
        object: "list",
        url: "/v1/events",
        has_more,
        data: page
            .iter()
            .map(|e| EventObject::new(e, None))
            .collect::<Result<_, _>>()?,
    }))
}

/// Retrieves an event with its deliveries and every attempt.
#[utoipa::path(
    get,
    path = "/v1/events/{id}",
    tag = "webhooks",
    operation_id = "retrieve_event",
    security(("secret_key" = [])),
    params(("id" = String, Path, description = EVENT_ID)),
    responses(
        (status = 200, description = "The event, with `deliveries`.", body = EventObject),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 404, description = NO_SUCH_EVENT, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn retrieve(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    Path(id): Path<String>,
) -> Result<Json<EventObject>, ApiError> {
    let event = load(&state, &auth, &id).await?;
    let deliveries = state.store.event_deliveries(&event.id).await?;
    Ok(Json(EventObject::new(&event, Some(deliveries))?))
}

/// Sends an event again, now, to every endpoint of the mode that subscribes to its type
/// (a delivery still pending is moved to now rather than doubled). Answers the event with
/// its deliveries.
#[utoipa::path(
    post,
    path = "/v1/events/{id}/redeliver",
    tag = "webhooks",
    operation_id = "redeliver_event",
    security(("secret_key" = [])),
    params(("id" = String, Path, description = EVENT_ID), openapi::IdempotencyKey),
    responses(
        (status = 200, description = "The event, with `deliveries`.", body = EventObject),
        (status = 400, description = "`no_endpoints`: no enabled endpoint subscribes to this \
            event's type; or `invalid_idempotency_key`.", body = ErrorBody),
        (status = 401, description = openapi::UNAUTHORIZED, body = ErrorBody),
        (status = 404, description = NO_SUCH_EVENT, body = ErrorBody),
        (status = 409, description = openapi::IDEMPOTENCY_CONFLICT, body = ErrorBody),
        (status = 413, description = openapi::BODY_TOO_LARGE, body = ErrorBody),
        (status = 500, description = openapi::INTERNAL, body = ErrorBody),
    )
)]
pub async fn redeliver(
    State(state): State<AppState>,
    auth: AuthedMerchant,
    Path(id): Path<String>,
) -> Result<Json<EventObject>, ApiError> {
    let event = load(&state, &auth, &id).await?;
    if state.store.redeliver_event(&event, state.now()).await? == 0 {
        return Err(ApiError::invalid(
            "no_endpoints",
            "No enabled webhook endpoint subscribes to this event's type.",
        ));
    }
    state.store.outbox_written().notify_one();
    let deliveries = state.store.event_deliveries(&event.id).await?;
    Ok(Json(EventObject::new(&event, Some(deliveries))?))
}
