//! Delivering events: one pass (`deliver_due`) claims the deliveries due now under a lease,
//! POSTs each signed event to its endpoint, records the attempt (time, status code or
//! error, latency) and either marks the delivery delivered, schedules the next attempt
//! (`schedule`), or marks it failed after the last. Time comes from the app's clock, so
//! tests drive the schedule by moving the clock and calling one pass. The background loop
//! (`spawn_worker`) only repeats passes, woken early when this instance queues an event.
//!
//! What counts as delivered: a 2xx answer within the timeout (10 s by default). Redirects
//! are not followed (a 3xx is a failure), proxies from the environment are not used, and in
//! live mode the destination must be a public address, checked before each attempt and
//! again by the resolver the connection itself uses, so a DNS change between the check and
//! the connection cannot point a delivery at the gateway's own network.

use super::endpoints::{self, is_public};
use super::schedule;
use crate::master_key::purpose;
use crate::state::{AppState, Settings};
use crate::store::{ClaimedDelivery, DeliveryNext, NewAttempt, StoreError};
use payframe_core::webhook::{SIGNATURE_HEADER, sign};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Why an attempt failed, as recorded in `webhook_attempts.error` and shown by the API.
pub mod failure {
    /// No answer within the timeout.
    pub const TIMEOUT: &str = "timeout";
    /// No connection (refused, reset, DNS failure, TLS failure).
    pub const CONNECTION: &str = "connection";
    /// A 3xx answer: redirects are not followed.
    pub const REDIRECT: &str = "redirect";
    /// An answer other than 2xx or 3xx; the status code is recorded.
    pub const HTTP_STATUS: &str = "http_status";
    /// Live mode: the URL's host is, or resolves to, a non-public address.
    pub const DESTINATION_REFUSED: &str = "destination_refused";
    /// The stored URL no longer parses.
    pub const INVALID_URL: &str = "invalid_url";
    /// The signing secret could not be unwrapped (a master-key problem on our side).
    pub const SECRET_UNAVAILABLE: &str = "secret_unavailable";
    /// Any other client-side failure while sending.
    pub const REQUEST: &str = "request";
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the webhook HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Deliveries claimed (and attempted) in this pass.
    pub claimed: usize,
    pub delivered: usize,
    /// Failed attempts with a retry scheduled.
    pub retrying: usize,
    /// Failed attempts that were the last: the delivery is marked failed.
    pub failed: usize,
    /// Attempts whose lease had expired and was taken by another worker meanwhile.
    pub lost_leases: usize,
}

/// This instance's delivery machinery: its identity for leases and its HTTP clients.
pub struct Runtime {
    /// Names this instance's leases (`<instance>/<pass>`).
    instance: String,
    passes: AtomicU64,
    test_client: reqwest::Client,
    /// Resolves only to public addresses.
    live_client: reqwest::Client,
    lease_seconds: i64,
}

/// The resolver of the live-mode client: a name resolving to any non-public address is
/// refused, at connection time.
struct PublicOnly;

#[derive(Debug, thiserror::Error)]
#[error("the host resolves to a non-public address")]
struct RefusedAddress;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if addrs.is_empty() || !addrs.iter().all(|a| is_public(a.ip())) {
                return Err(Box::new(RefusedAddress) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

impl Runtime {
    pub fn new(settings: &Settings) -> Result<Runtime, DeliveryError> {
        let builder = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(settings.webhook_timeout)
                .connect_timeout(settings.webhook_timeout)
                .no_proxy()
                .user_agent(concat!("Payframe-Webhooks/", env!("CARGO_PKG_VERSION")))
        };
        Ok(Runtime {
            instance: crate::ids::new_id("wkr"),
            passes: AtomicU64::new(0),
            test_client: builder().build()?,
            live_client: builder().dns_resolver(Arc::new(PublicOnly)).build()?,
            lease_seconds: settings.webhook_lease_seconds,
        })
    }

    /// This instance's lease prefix.
    pub fn instance(&self) -> &str {
        &self.instance
    }
}

/// One pass: claims up to `limit` due deliveries and attempts each (concurrently), then
/// records every attempt. Returns what happened.
pub async fn deliver_due(state: &AppState, limit: i64) -> Result<DeliveryReport, DeliveryError> {
    let runtime = &state.webhooks;
    let pass = runtime.passes.fetch_add(1, Ordering::Relaxed);
    let owner = format!("{}/{pass}", runtime.instance);
    let now = state.now();
    let claimed = state
        .store
        .claim_due_deliveries(&owner, now, now + runtime.lease_seconds, limit)
        .await?;
    let mut report = DeliveryReport {
        claimed: claimed.len(),
        ..DeliveryReport::default()
    };
    let mut tasks = tokio::task::JoinSet::new();
    for delivery in claimed {
        let state = state.clone();
        let owner = owner.clone();
        tasks.spawn(async move { attempt(&state, &owner, delivery).await });
    }
    while let Some(joined) = tasks.join_next().await {
        let (next, kept_lease) = match joined {
            Ok(result) => result?,
            // A panicking attempt leaves its lease to expire; the delivery is retried then.
            Err(err) => {
                tracing::error!(error = %err, "a webhook delivery task failed");
                continue;
            }
        };
        if !kept_lease {
            report.lost_leases += 1;
        }
        match next {
            DeliveryNext::Delivered { .. } => report.delivered += 1,
            DeliveryNext::Retry { .. } => report.retrying += 1,
            DeliveryNext::Failed { .. } => report.failed += 1,
        }
    }
    Ok(report)
}

/// Makes one attempt of `delivery` and records it.
async fn attempt(
    state: &AppState,
    owner: &str,
    delivery: ClaimedDelivery,
) -> Result<(DeliveryNext, bool), StoreError> {
    let attempted_at = state.now();
    let started = Instant::now();
    let result = send(state, &delivery, attempted_at).await;
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let made = delivery.attempts + 1;
    let (status_code, error, next) = match result {
        Ok(status) => (
            Some(status),
            None,
            DeliveryNext::Delivered { at: attempted_at },
        ),
        Err((status, error)) => {
            let next = match schedule::delay(made, schedule::random_unit()) {
                Some(wait) => DeliveryNext::Retry {
                    at: attempted_at + wait,
                },
                None => DeliveryNext::Failed { at: attempted_at },
            };
            (status, Some(error.to_owned()), next)
        }
    };
    tracing::info!(
        delivery = %delivery.id,
        event = %delivery.event_id,
        endpoint = %delivery.endpoint_id,
        attempt = made,
        status_code,
        error = error.as_deref().unwrap_or(""),
        latency_ms,
        ?next,
        "webhook attempt"
    );
    let record = NewAttempt {
        attempted_at,
        status_code,
        error,
        latency_ms,
    };
    let kept = state
        .store
        .finish_attempt(&delivery.id, owner, &record, next)
        .await?;
    Ok((next, kept))
}

/// POSTs the signed event; `Ok(status)` for a 2xx, otherwise the status (if any) and why.
async fn send(
    state: &AppState,
    delivery: &ClaimedDelivery,
    timestamp: i64,
) -> Result<i64, (Option<i64>, &'static str)> {
    let url = reqwest::Url::parse(&delivery.url).map_err(|_| (None, failure::INVALID_URL))?;
    endpoints::check_destination(&url, delivery.livemode)
        .await
        .map_err(|_| (None, failure::DESTINATION_REFUSED))?;
    let secret = state
        .master
        .unwrap(purpose::WEBHOOK_SECRET, &delivery.secret_wrapped)
        .map_err(|_| (None, failure::SECRET_UNAVAILABLE))?;
    let signature = sign(&secret[..], timestamp, delivery.body.as_bytes());
    let client = if delivery.livemode {
        &state.webhooks.live_client
    } else {
        &state.webhooks.test_client
    };
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .body(delivery.body.clone())
        .send()
        .await
        .map_err(|err| (None, classify(&err)))?;
    let status = response.status();
    let code = i64::from(status.as_u16());
    if status.is_success() {
        Ok(code)
    } else if status.is_redirection() {
        Err((Some(code), failure::REDIRECT))
    } else {
        Err((Some(code), failure::HTTP_STATUS))
    }
}

fn classify(err: &reqwest::Error) -> &'static str {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<RefusedAddress>() {
            return failure::DESTINATION_REFUSED;
        }
        source = e.source();
    }
    if err.is_timeout() {
        failure::TIMEOUT
    } else if err.is_connect() {
        failure::CONNECTION
    } else {
        failure::REQUEST
    }
}

/// Gives back this instance's unfinished leases (at shutdown), so other instances deliver
/// them now rather than when the leases expire. Returns how many were released.
pub async fn release_leases(state: &AppState) -> Result<u64, StoreError> {
    let prefix = format!("{}/", state.webhooks.instance);
    state.store.release_delivery_leases(&prefix).await
}

/// The background worker: a pass whenever this instance queues deliveries, and at least
/// every `webhook_poll_interval` (for deliveries other instances queued, and retries). When
/// `stop` turns true it finishes the pass under way (so attempts already sent are recorded,
/// not sent twice) and returns.
pub fn spawn_worker(
    state: AppState,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let batch = state.settings.webhook_batch;
        while !*stop.borrow() {
            // A full batch suggests more are due: keep going before waiting.
            loop {
                match deliver_due(&state, batch).await {
                    Ok(report) if report.claimed as i64 >= batch && !*stop.borrow() => continue,
                    Ok(_) => break,
                    Err(err) => {
                        tracing::warn!(error = %err, "webhook delivery pass failed");
                        break;
                    }
                }
            }
            tokio::select! {
                () = state.store.outbox_written().notified() => {}
                () = tokio::time::sleep(state.settings.webhook_poll_interval) => {}
                _ = stop.changed() => {}
            }
        }
    })
}

/// The worker's settings' defaults.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
