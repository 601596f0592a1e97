//! Structured logs (`tracing`, text or JSON) and the per-request log line. Only the path is
//! logged, never the query string (it carries client secrets) or a body.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

pub fn init(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PAYFRAME_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

pub async fn log_request(request: Request, next: Next) -> Response {
    let request_id = crate::ids::new_id("req");
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let span = tracing::info_span!("request", id = %request_id);
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(%method, %path, status, latency_us = started.elapsed().as_micros() as u64, "request");
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", value);
    }
    response
}
