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
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

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
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
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
        .layer(axum::middleware::from_fn(crate::telemetry::log_request))
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
