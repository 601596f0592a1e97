//! The HTTP surface: one router per concern, merged here with the layers every request
//! passes (request id and log line, body size limit).

pub mod audit;
pub mod auth;
pub mod customers;
pub mod encoded;
pub mod error;
pub mod events;
pub mod frame;
pub mod frame_page;
pub mod idempotency;
pub mod json;
pub mod openapi;
pub mod payments;
pub mod rate_limit;
pub mod sessions;
pub mod webhooks;

use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

/// Bodies are small JSON documents; a sealed card is well under 1 KiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub fn app(state: AppState) -> Router {
    // The merchant's POSTs honour Idempotency-Key; the frame's confirm is guarded by the
    // session claim instead (a session pays once).
    let merchant_api = Router::new()
        .merge(sessions::router())
        .merge(payments::router())
        .merge(webhooks::router())
        .merge(events::router())
        .merge(customers::router())
        .merge(audit::router())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::layer,
        ));
    Router::new()
        .merge(merchant_api)
        .merge(
            frame::router().route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                rate_limit::frame_layer,
            )),
        )
        .merge(frame_page::router())
        .merge(crate::dashboard::router())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .fallback(|| async { error::ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async {
            error::ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request_error",
                "method_not_allowed",
                "This endpoint does not support that HTTP method.",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.metrics),
            crate::telemetry::log_request,
        ))
        .with_state(state)
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "ops",
    operation_id = "healthz",
    security(()),
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain"))
)]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    operation_id = "readyz",
    security(()),
    responses(
        (status = 200, description = "`ready`", body = String, content_type = "text/plain"),
        (status = 503, description = "`database unavailable`", body = String, content_type = "text/plain"),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(err) => {
            tracing::warn!(error = %err, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// Prometheus metrics of this instance (OpenMetrics text). With `--metrics-token` set, the
/// scraper must send it as a bearer token; the webhook backlog is read from the database at
/// each scrape, and `payframe_database_up` says whether that read worked.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    operation_id = "metrics",
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, description = "The metrics, in the OpenMetrics text format", body = String,
         content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        (status = 401, description = "`--metrics-token` is set and the request did not carry it", body = openapi::ErrorBody),
    )
)]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.settings.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        if !given.is_some_and(|given| token.matches(given)) {
            return auth::unauthorized(
                "invalid_metrics_token",
                "This endpoint needs the metrics token as a bearer token.",
            )
            .into_response();
        }
    }
    match state.store.webhook_backlog().await {
        Ok((pending, first_due)) => {
            let overdue = first_due.map_or(0, |due| state.now() - due);
            state.metrics.set_webhook_backlog(pending, overdue);
            state.metrics.set_database_up(true);
        }
        Err(err) => {
            tracing::warn!(error = %err, "metrics: could not read the webhook backlog");
            state.metrics.set_database_up(false);
        }
    }
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.encode(),
    )
        .into_response()
}
