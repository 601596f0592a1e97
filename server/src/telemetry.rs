//! Structured logs (`tracing`, text or JSON) and the per-request log line. The line names
//! the route template (`/v1/frame/sessions/{id}/confirm`), never the raw path, query string
//! (client secrets) or body: a client that puts a card number where an id belongs must not
//! get it written to the log. The same route template labels the request's metrics.

use crate::metrics::Metrics;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

pub fn init(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PAYFRAME_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let mut builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // Colours for a person at a terminal only (where the default also honours NO_COLOR): a
    // log file or a collector reading a pipe would get the escape codes as text.
    if !std::io::stdout().is_terminal() {
        builder = builder.with_ansi(false);
    }
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The id of the request being served (the `request-id` response header), for handlers
/// that record it (the audit log).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Logs a line for each request and counts it in the metrics, under its route template.
pub async fn log_request(
    State(metrics): State<Arc<Metrics>>,
    mut request: Request,
    next: Next,
) -> Response {
    let request_id = crate::ids::new_id("req");
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let method = request.method().clone();
    let (path, matched) = match request.extensions().get::<MatchedPath>() {
        Some(route) => (route.as_str().to_owned(), true),
        None => (redact_digit_runs(request.uri().path()), false),
    };
    let started = Instant::now();
    let span = tracing::info_span!("request", id = %request_id);
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let took = started.elapsed();
    span.in_scope(|| {
        tracing::info!(%method, %path, status, latency_us = took.as_micros() as u64, "request");
    });
    // Only a route template is a label; an unmatched path (redacted or not) is not.
    metrics.request(&method, matched.then_some(path), status, took);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", value);
    }
    response
}

/// Replaces every run of 6 or more digits (enough for a BIN, and any card number) with `#`.
fn redact_digit_runs(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut run = String::new();
    for c in path.chars().chain(std::iter::once('/')) {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        if run.len() >= 6 {
            out.push('#');
        } else {
            out.push_str(&run);
        }
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn unmatched_paths_lose_long_digit_runs() {
        assert_eq!(
            super::redact_digit_runs("/v1/x/4000056655665556/y"),
            "/v1/x/#/y"
        );
        assert_eq!(super::redact_digit_runs("/v1/4000-0566"), "/v1/4000-0566");
        assert_eq!(super::redact_digit_runs("/a123456"), "/a#");
        assert_eq!(super::redact_digit_runs("/v1/sessions"), "/v1/sessions");
    }
}
