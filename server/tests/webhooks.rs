//! Webhooks end to end: endpoints through the API, events written with the payment change,
//! and delivery to a real local receiver driven one pass at a time by the test's clock —
//! retries on schedule, timeouts, redirects, signatures, restarts and several workers.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use common::{Gateway, NOW, assert_error, card, sealed};
use payframe_core::webhook::{DEFAULT_TOLERANCE, SIGNATURE_HEADER, VerifyError, verify};
use payframe_server::webhooks::schedule::{self, MAX_ATTEMPTS};
use payframe_server::webhooks::{DeliveryReport, deliver_due, release_leases};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SHOP: &str = "https://shop.example";

/// What the local receiver does with the requests it gets.
#[derive(Clone, Copy)]
enum Behaviour {
    /// 500 for the first n requests, then 200.
    FailTimes(usize),
    /// Answers 200 only after this long.
    Slow(Duration),
    /// 307 to another path of the receiver.
    Redirect,
}

#[derive(Clone)]
struct Received {
    signature: String,
    body: Bytes,
}

struct ReceiverState {
    behaviour: Behaviour,
    /// Signalled on every request, for tests that await the background worker.
    arrived: tokio::sync::Notify,
    hits: Mutex<Vec<Received>>,
    /// Requests that reached the redirect's target (none should).
    redirected: Mutex<usize>,
}

/// An HTTP server on 127.0.0.1 playing a merchant's webhook endpoint.
struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
}

impl Receiver {
    async fn start(behaviour: Behaviour) -> Receiver {
        let state = Arc::new(ReceiverState {
            behaviour,
            arrived: tokio::sync::Notify::new(),
            hits: Mutex::new(Vec::new()),
            redirected: Mutex::new(0),
        });
        let app = axum::Router::new()
            .route("/hook", post(receive))
            .route("/elsewhere", post(elsewhere))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url: format!("http://{addr}/hook"),
            state,
        }
    }

    fn hits(&self) -> Vec<Received> {
        self.state.hits.lock().unwrap().clone()
    }

    /// Waits (up to a generous deadline) until `n` requests have arrived.
    async fn wait_for(&self, n: usize) {
        let waiting = async {
            while self.hits().len() < n {
                self.state.arrived.notified().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(20), waiting)
            .await
            .unwrap_or_else(|_| panic!("{n} deliveries expected, {} arrived", self.hits().len()));
    }

    /// The event ids received, in order.
    fn event_ids(&self) -> Vec<String> {
        self.hits()
            .iter()
            .map(|r| {
                let event: Value = serde_json::from_slice(&r.body).unwrap();
                event["id"].as_str().unwrap().to_owned()
            })
            .collect()
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = {
        let mut hits = state.hits.lock().unwrap();
        hits.push(Received {
            signature: headers
                .get(SIGNATURE_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            body,
        });
        hits.len()
    };
    state.arrived.notify_one();
    match state.behaviour {
        Behaviour::FailTimes(n) if seen <= n => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Behaviour::FailTimes(_) => StatusCode::OK.into_response(),
        Behaviour::Slow(wait) => {
            // The receiver is slow, not the test: the gateway's deadline ends the attempt.
            tokio::time::sleep(wait).await;
            StatusCode::OK.into_response()
        }
        Behaviour::Redirect => (
            StatusCode::TEMPORARY_REDIRECT,
            [(axum::http::header::LOCATION, "/elsewhere")],
        )
            .into_response(),
    }
}

async fn elsewhere(State(state): State<Arc<ReceiverState>>) -> StatusCode {
    *state.redirected.lock().unwrap() += 1;
    StatusCode::OK
}

/// Creates an endpoint for `events` (empty: all) at `url`; returns its id and secret.
async fn endpoint(gw: &Gateway, key: &str, url: &str, events: &[&str]) -> (String, String) {
    let (status, body) = gw
        .post_json(
            "/v1/webhook_endpoints",
            Some(key),
            &json!({"url": url, "enabled_events": events}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        body["id"].as_str().unwrap().to_owned(),
        body["secret"].as_str().unwrap().to_owned(),
    )
}

/// Pays a new session (automatic capture) with `number`; returns the payment id.
async fn pay(gw: &Gateway, key: &str, number: &str) -> String {
    let checkout = gw.create_session(key).await;
    let envelope = sealed(
        &gw.encryption_key(&checkout).await,
        &checkout.id,
        &card(number, 12, 2030, "123", gw.now()),
    );
    let (_, body) = gw.confirm(&checkout, &envelope).await;
    body["payment"]["id"]
        .as_str()
        .or_else(|| body["error"]["payment"].as_str())
        .unwrap_or_else(|| panic!("no payment: {body}"))
        .to_owned()
}

/// The newest event of `kind`.
async fn event_of(gw: &Gateway, key: &str, kind: &str) -> Value {
    let (status, list) = gw.get(&format!("/v1/events?type={kind}"), Some(key)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let id = list["data"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no {kind} event: {list}"));
    let (status, event) = gw.get(&format!("/v1/events/{id}"), Some(key)).await;
    assert_eq!(status, StatusCode::OK, "{event}");
    event
}

async fn pass(state: &payframe_server::AppState) -> DeliveryReport {
    deliver_due(state, 50).await.expect("a delivery pass")
}

#[tokio::test]
async fn a_receiver_failing_n_times_gets_one_delivery_after_n_failures_on_schedule() {
    const N: usize = 3;
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let receiver = Receiver::start(Behaviour::FailTimes(N)).await;
    let (_, secret) = endpoint(&gw, &key, &receiver.url, &["payment.captured"]).await;
    let payment = pay(&gw, &key, common::PAN).await;
    let event = event_of(&gw, &key, "payment.captured").await;
    let path = format!("/v1/events/{}", event["id"].as_str().unwrap());

    let mut due = NOW;
    for failure in 1..=N {
        gw.set_now(due);
        let report = pass(gw.state()).await;
        assert_eq!((report.claimed, report.retrying), (1, 1), "{report:?}");
        let (_, event) = gw.get(&path, Some(&key)).await;
        let delivery = &event["deliveries"][0];
        assert_eq!(delivery["status"], "pending");
        let attempts = delivery["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), failure, "{event}");
        let last = &attempts[failure - 1];
        assert_eq!(last["number"], failure);
        assert_eq!(last["attempted_at"], due);
        assert_eq!(last["status_code"], 500);
        assert_eq!(last["error"], "http_status");
        assert!(last["latency_ms"].as_i64().unwrap() >= 0);
        // On schedule: the documented delay after this attempt, within its jitter.
        let next = delivery["next_attempt_at"].as_i64().unwrap();
        let (low, high) = schedule::delay_bounds(failure as i64).unwrap();
        assert!(
            (due + low..=due + high).contains(&next),
            "attempt {failure}: next at {next}, expected {low}..={high} s after {due}"
        );
        // Not a second before.
        gw.set_now(next - 1);
        assert_eq!(pass(gw.state()).await.claimed, 0, "retried early");
        due = next;
    }
    gw.set_now(due);
    let report = pass(gw.state()).await;
    assert_eq!((report.claimed, report.delivered), (1, 1), "{report:?}");
    let (_, event) = gw.get(&path, Some(&key)).await;
    let delivery = &event["deliveries"][0];
    assert_eq!(delivery["status"], "delivered", "{event}");
    assert!(delivery["next_attempt_at"].is_null());
    let attempts = delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), N + 1);
    assert_eq!(attempts[N]["status_code"], 200);
    assert!(attempts[N]["error"].is_null());

    // Nothing more, however late.
    gw.set_now(NOW + 10 * 86_400);
    assert_eq!(pass(gw.state()).await.claimed, 0);
    let hits = receiver.hits();
    assert_eq!(hits.len(), N + 1, "N failures and exactly one success");
    // Every attempt was the same event, signed with the endpoint's secret at its time.
    for (hit, attempt) in hits.iter().zip(attempts) {
        let t = attempt["attempted_at"].as_i64().unwrap();
        assert_eq!(
            verify(&secret, &hit.signature, &hit.body, t, DEFAULT_TOLERANCE),
            Ok(t)
        );
        assert_eq!(hit.body, hits[0].body, "the same bytes each time");
    }
    let delivered: Value = serde_json::from_slice(&hits[N].body).unwrap();
    assert_eq!(delivered["type"], "payment.captured");
    assert_eq!(delivered["id"], event["id"]);
    let (_, shown) = gw.get(&format!("/v1/payments/{payment}"), Some(&key)).await;
    assert_eq!(
        delivered["data"]["object"], shown,
        "the payment as the API shows it"
    );
}

#[tokio::test]
async fn a_delivery_is_marked_failed_after_the_last_attempt() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let receiver = Receiver::start(Behaviour::FailTimes(usize::MAX)).await;
    endpoint(&gw, &key, &receiver.url, &["payment.captured"]).await;
    pay(&gw, &key, common::PAN).await;
    let id = event_of(&gw, &key, "payment.captured").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/events/{id}");
    let mut elapsed = 0;
    for attempt in 1..=MAX_ATTEMPTS {
        let report = pass(gw.state()).await;
        let (_, event) = gw.get(&path, Some(&key)).await;
        let delivery = &event["deliveries"][0];
        if attempt < MAX_ATTEMPTS {
            assert_eq!(report.retrying, 1, "attempt {attempt}: {report:?}");
            let next = delivery["next_attempt_at"].as_i64().unwrap();
            elapsed += next - gw.now();
            gw.set_now(next);
        } else {
            assert_eq!(report.failed, 1, "{report:?}");
            assert_eq!(delivery["status"], "failed", "{event}");
            assert!(delivery["next_attempt_at"].is_null());
            assert_eq!(delivery["attempts"].as_array().unwrap().len(), 10);
        }
    }
    // About three days from the first attempt to the last.
    let days = elapsed as f64 / 86_400.0;
    assert!((2.6..=3.3).contains(&days), "{days} days");
    gw.set_now(gw.now() + 30 * 86_400);
    assert_eq!(pass(gw.state()).await.claimed, 0);
    assert_eq!(receiver.hits().len(), 10);
}

#[tokio::test]
async fn a_receiver_that_does_not_answer_in_time_is_a_timeout() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let receiver = Receiver::start(Behaviour::Slow(Duration::from_secs(30))).await;
    endpoint(&gw, &key, &receiver.url, &["payment.captured"]).await;
    pay(&gw, &key, common::PAN).await;
    // The same gateway with a 200 ms deadline instead of 10 s.
    let quick = gw
        .instance(|s| s.webhook_timeout = Duration::from_millis(200))
        .await;
    let report = pass(&quick).await;
    assert_eq!((report.claimed, report.retrying), (1, 1), "{report:?}");
    let event = event_of(&gw, &key, "payment.captured").await;
    let attempt = &event["deliveries"][0]["attempts"][0];
    assert_eq!(attempt["error"], "timeout", "{event}");
    assert!(attempt["status_code"].is_null());
    let latency = attempt["latency_ms"].as_i64().unwrap();
    assert!((200..10_000).contains(&latency), "{latency} ms");
    assert_eq!(event["deliveries"][0]["status"], "pending");
}

#[tokio::test]
async fn redirects_are_not_followed_and_count_as_failures() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let receiver = Receiver::start(Behaviour::Redirect).await;
    endpoint(&gw, &key, &receiver.url, &["payment.captured"]).await;
    pay(&gw, &key, common::PAN).await;
    let report = pass(gw.state()).await;
    assert_eq!(report.retrying, 1, "{report:?}");
    let event = event_of(&gw, &key, "payment.captured").await;
    let attempt = &event["deliveries"][0]["attempts"][0];
    assert_eq!(attempt["status_code"], 307, "{event}");
    assert_eq!(attempt["error"], "redirect");
    assert_eq!(*receiver.state.redirected.lock().unwrap(), 0, "followed");
}

#[tokio::test]
async fn tampered_bodies_signatures_and_stale_timestamps_fail_verification() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let receiver = Receiver::start(Behaviour::FailTimes(0)).await;
    let (_, secret) = endpoint(&gw, &key, &receiver.url, &[]).await;
    pay(&gw, &key, common::PAN).await;
    assert_eq!(
        pass(gw.state()).await.delivered,
        2,
        "authorized and captured"
    );
    let hit = receiver.hits().remove(0);
    let t = verify(&secret, &hit.signature, &hit.body, NOW, DEFAULT_TOLERANCE)
        .expect("the genuine delivery verifies");
    assert_eq!(t, NOW, "signed at the gateway's clock");

    let mut body = hit.body.to_vec();
    let at = body.iter().position(|&b| b == b'4').unwrap();
    body[at] = b'5';
    assert_eq!(
        verify(&secret, &hit.signature, &body, NOW, DEFAULT_TOLERANCE),
        Err(VerifyError::SignatureMismatch),
        "tampered body"
    );
    let mut signature = hit.signature.clone();
    let last = signature.pop().unwrap();
    signature.push(if last == '0' { '1' } else { '0' });
    assert_eq!(
        verify(&secret, &signature, &hit.body, NOW, DEFAULT_TOLERANCE),
        Err(VerifyError::SignatureMismatch),
        "tampered signature"
    );
    assert_eq!(
        verify(
            "whsec_other",
            &hit.signature,
            &hit.body,
            NOW,
            DEFAULT_TOLERANCE
        ),
        Err(VerifyError::SignatureMismatch),
        "another secret"
    );
    assert!(
        matches!(
            verify(
                &secret,
                &hit.signature,
                &hit.body,
                NOW + 301,
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::TimestampOutsideTolerance { .. })
        ),
        "a replay five minutes later"
    );
}

#[tokio::test]
async fn a_restart_in_the_middle_of_the_schedule_resumes_the_delivery() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let receiver = Receiver::start(Behaviour::FailTimes(1)).await;
    let (_, secret) = endpoint(&gw, &key, &receiver.url, &["payment.captured"]).await;
    pay(&gw, &key, common::PAN).await;
    assert_eq!(pass(gw.state()).await.retrying, 1);
    let next = event_of(&gw, &key, "payment.captured").await["deliveries"][0]["next_attempt_at"]
        .as_i64()
        .unwrap();

    // A new process on the same database knows nothing but what is stored.
    let restarted = gw.instance(|_| {}).await;
    gw.set_now(next);
    let report = pass(&restarted).await;
    assert_eq!((report.claimed, report.delivered), (1, 1), "{report:?}");
    let hits = receiver.hits();
    assert_eq!(hits.len(), 2);
    assert!(
        verify(
            &secret,
            &hits[1].signature,
            &hits[1].body,
            next,
            DEFAULT_TOLERANCE
        )
        .is_ok()
    );
    let event = event_of(&gw, &key, "payment.captured").await;
    assert_eq!(event["deliveries"][0]["status"], "delivered");
    assert_eq!(
        event["deliveries"][0]["attempts"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn a_crashed_instance_s_lease_expires_and_a_stopped_one_hands_its_leases_back() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let receiver = Receiver::start(Behaviour::FailTimes(0)).await;
    endpoint(&gw, &key, &receiver.url, &["payment.captured"]).await;
    pay(&gw, &key, common::PAN).await;
    let store = &gw.state().store;

    // An instance claims the delivery and dies before sending it.
    let claimed = store
        .claim_due_deliveries("wkr_crashed/0", NOW, NOW + 60, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let survivor = gw.instance(|_| {}).await;
    assert_eq!(pass(&survivor).await.claimed, 0, "the lease holds");
    gw.set_now(NOW + 60);
    assert_eq!(pass(&survivor).await.delivered, 1, "the lease expired");
    assert_eq!(receiver.hits().len(), 1);

    // A stopping instance releases what it holds: another takes it at once.
    pay(&gw, &key, common::PAN).await;
    let stopping = gw.instance(|_| {}).await;
    let owner = format!("{}/7", stopping.webhooks.instance());
    let held = store
        .claim_due_deliveries(&owner, gw.now(), gw.now() + 60, 10)
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(pass(&survivor).await.claimed, 0);
    assert_eq!(release_leases(&stopping).await.unwrap(), 1);
    assert_eq!(pass(&survivor).await.delivered, 1);
    assert_eq!(receiver.hits().len(), 2);
}

#[tokio::test]
async fn two_workers_deliver_each_event_exactly_once() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let receiver = Receiver::start(Behaviour::FailTimes(0)).await;
    endpoint(&gw, &key, &receiver.url, &[]).await;
    for _ in 0..4 {
        pay(&gw, &key, common::PAN).await;
    }
    let a = gw.instance(|s| s.webhook_batch = 3).await;
    let b = gw.instance(|s| s.webhook_batch = 3).await;
    let mut delivered = 0;
    for _ in 0..10 {
        let (ra, rb) = tokio::join!(deliver_due(&a, 3), deliver_due(&b, 3));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        delivered += ra.delivered + rb.delivered;
        if ra.claimed + rb.claimed == 0 {
            break;
        }
    }
    assert_eq!(delivered, 8, "4 payments × (authorized, captured)");
    let mut ids = receiver.event_ids();
    assert_eq!(ids.len(), 8);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "no event delivered twice");
}

#[tokio::test]
async fn every_payment_change_writes_its_event() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let manual = || async {
        let body = json!({"amount": 1999, "currency": "brl", "capture": "manual"});
        let (status, session) = gw.post_json("/v1/sessions", Some(&key), &body).await;
        assert_eq!(status, StatusCode::OK, "{session}");
        let checkout = common::Checkout::of(&session);
        let (_, body) = gw.pay(&checkout, common::PAN).await;
        body["payment"]["id"].as_str().unwrap().to_owned()
    };
    let captured = manual().await;
    let (status, _) = gw
        .post_json(
            &format!("/v1/payments/{captured}/capture"),
            Some(&key),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = gw
        .post_json(
            &format!("/v1/payments/{captured}/refunds"),
            Some(&key),
            &json!({"amount": 500}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let voided = manual().await;
    let (status, _) = gw
        .post_json(
            &format!("/v1/payments/{voided}/cancel"),
            Some(&key),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let declined = pay(&gw, &key, "4000000000000002").await;

    let (_, list) = gw.get("/v1/events?limit=100", Some(&key)).await;
    let seen: Vec<(String, String)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["data"]["object"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("payment.authorized", &captured),
        ("payment.captured", &captured),
        ("payment.refunded", &captured),
        ("payment.authorized", &voided),
        ("payment.canceled", &voided),
        ("payment.failed", &declined),
    ]
    .map(|(t, p)| (t.to_owned(), p.clone()));
    assert_eq!(seen, expected, "oldest first");
    let refunded = &list["data"][3];
    assert_eq!(refunded["type"], "payment.refunded");
    assert_eq!(refunded["data"]["object"]["amount_refunded"], 500);
    assert_eq!(
        list["data"][0]["data"]["object"]["decline_code"],
        "do_not_honor"
    );
    // No endpoint: events are kept, nothing is queued.
    assert_eq!(gw.count("webhook_deliveries").await, 0);
}

#[tokio::test]
async fn events_are_listed_newest_first_with_cursor_pagination() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let other = gw.merchant("Other", &[SHOP]).await;
    for _ in 0..3 {
        pay(&gw, &key, common::PAN).await;
    }
    pay(&gw, &other, common::PAN).await;
    let (status, first) = gw.get("/v1/events?limit=4", Some(&key)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["object"], "list");
    assert_eq!(first["url"], "/v1/events");
    assert_eq!(first["has_more"], true);
    let page: Vec<&Value> = first["data"].as_array().unwrap().iter().collect();
    assert_eq!(page.len(), 4);
    assert_eq!(page[0]["type"], "payment.captured", "newest first");
    assert!(page[0].get("deliveries").is_none(), "only on retrieve");
    let last = page[3]["id"].as_str().unwrap();
    let (_, second) = gw
        .get(
            &format!("/v1/events?limit=4&starting_after={last}"),
            Some(&key),
        )
        .await;
    assert_eq!(second["has_more"], false);
    let rest = second["data"].as_array().unwrap();
    assert_eq!(rest.len(), 2, "six events of this merchant in all");
    let mut ids: Vec<&str> = page
        .iter()
        .copied()
        .chain(rest.iter())
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert!(ids.iter().all(|id| id.starts_with("evt_")));
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6);
    let (_, captured) = gw.get("/v1/events?type=payment.captured", Some(&key)).await;
    assert_eq!(captured["data"].as_array().unwrap().len(), 3);

    assert_error(
        &gw.get("/v1/events?limit=0", Some(&key)).await,
        StatusCode::BAD_REQUEST,
        "invalid_limit",
        Some("limit"),
    );
    assert_error(
        &gw.get("/v1/events?type=payment.exploded", Some(&key)).await,
        StatusCode::BAD_REQUEST,
        "invalid_event_type",
        Some("type"),
    );
    assert_error(
        &gw.get("/v1/events", None).await,
        StatusCode::UNAUTHORIZED,
        "missing_api_key",
        None,
    );
    // Another merchant's event is missing, for reading and for redelivery.
    let (_, theirs) = gw.get("/v1/events?limit=1", Some(&other)).await;
    let theirs = theirs["data"][0]["id"].as_str().unwrap();
    assert_error(
        &gw.get(&format!("/v1/events/{theirs}"), Some(&key)).await,
        StatusCode::NOT_FOUND,
        "resource_missing",
        None,
    );
    assert_error(
        &gw.post_json(
            &format!("/v1/events/{theirs}/redeliver"),
            Some(&key),
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "resource_missing",
        None,
    );
}

#[tokio::test]
async fn webhook_endpoints_are_created_listed_and_deleted() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let other = gw.merchant("Other", &[SHOP]).await;
    let (status, created) = gw
        .post_json(
            "/v1/webhook_endpoints",
            Some(&key),
            &json!({"url": "https://shop.example/webhooks", "enabled_events": ["payment.captured"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("we_"));
    assert_eq!(created["object"], "webhook_endpoint");
    assert_eq!(created["url"], "https://shop.example/webhooks");
    assert_eq!(created["enabled_events"], json!(["payment.captured"]));
    assert_eq!(created["livemode"], false);
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    gw.set_now(NOW + 1);
    let (_, all) = gw
        .post_json(
            "/v1/webhook_endpoints",
            Some(&key),
            &json!({"url": "http://127.0.0.1:9/hook"}),
        )
        .await;
    assert_eq!(all["enabled_events"], json!(["*"]), "default: every event");

    let (status, shown) = gw
        .get(&format!("/v1/webhook_endpoints/{id}"), Some(&key))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(shown.get("secret").is_none(), "the secret is shown once");
    let (_, list) = gw.get("/v1/webhook_endpoints?limit=1", Some(&key)).await;
    assert_eq!(list["has_more"], true);
    assert_eq!(list["data"][0]["id"], all["id"], "newest first");
    assert!(list["data"][0].get("secret").is_none());
    let (_, theirs) = gw.get("/v1/webhook_endpoints", Some(&other)).await;
    assert_eq!(theirs["data"], json!([]));

    let path = format!("/v1/webhook_endpoints/{id}");
    for response in [
        gw.get(&path, Some(&other)).await,
        gw.delete(&path, Some(&other)).await,
    ] {
        assert_error(&response, StatusCode::NOT_FOUND, "resource_missing", None);
    }
    let (status, deleted) = gw.delete(&path, Some(&key)).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(
        deleted,
        json!({"id": id, "object": "webhook_endpoint", "deleted": true})
    );
    assert_error(
        &gw.delete(&path, Some(&key)).await,
        StatusCode::NOT_FOUND,
        "resource_missing",
        None,
    );
    assert_error(
        &gw.get(&path, Some(&key)).await,
        StatusCode::NOT_FOUND,
        "resource_missing",
        None,
    );
}

#[tokio::test]
async fn bad_webhook_endpoints_are_refused() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let create = |body: Value, key: Option<String>| {
        let gw = &gw;
        async move {
            gw.post_json("/v1/webhook_endpoints", key.as_deref(), &body)
                .await
        }
    };
    let key = Some(key);
    for url in [
        "shop.example/hook",
        "ftp://shop.example/hook",
        "https://user:pass@shop.example/hook",
        "javascript:alert(1)",
    ] {
        assert_error(
            &create(json!({"url": url}), key.clone()).await,
            StatusCode::BAD_REQUEST,
            "invalid_url",
            Some("url"),
        );
    }
    assert_error(
        &create(
            json!({"url": "https://shop.example/hook", "enabled_events": ["payment.exploded"]}),
            key.clone(),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_event_type",
        Some("enabled_events"),
    );
    assert_error(
        &create(
            json!({"url": "https://shop.example/hook", "extra": 1}),
            key.clone(),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
        None,
    );
    assert_error(
        &create(json!({"url": "https://shop.example/hook"}), None).await,
        StatusCode::UNAUTHORIZED,
        "missing_api_key",
        None,
    );
    assert_error(
        &gw.get("/v1/webhook_endpoints", None).await,
        StatusCode::UNAUTHORIZED,
        "missing_api_key",
        None,
    );
    for _ in 0..16 {
        let (status, body) = create(json!({"url": "https://shop.example/hook"}), key.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_error(
        &create(json!({"url": "https://shop.example/hook"}), key.clone()).await,
        StatusCode::BAD_REQUEST,
        "too_many_endpoints",
        Some("url"),
    );
}

#[tokio::test]
async fn live_mode_refuses_private_destinations_at_creation_and_at_delivery() {
    let gw = Gateway::start().await;
    let state = gw.state();
    let live = payframe_server::merchants::create(
        &state.store,
        &state.master,
        "Live shop",
        &[SHOP.to_owned()],
        None,
        true,
        NOW,
    )
    .await
    .unwrap()
    .secret_key;
    for (url, code) in [
        ("https://127.0.0.1/hook", "url_private_address"),
        ("https://localhost:8443/hook", "url_private_address"),
        ("https://10.0.0.8/hook", "url_private_address"),
        ("https://169.254.169.254/latest", "url_private_address"),
        ("https://[::1]/hook", "url_private_address"),
        ("http://93.184.216.34/hook", "url_not_https"),
    ] {
        assert_error(
            &gw.post_json("/v1/webhook_endpoints", Some(&live), &json!({"url": url}))
                .await,
            StatusCode::BAD_REQUEST,
            code,
            Some("url"),
        );
    }

    // At delivery: a destination that has become private since (as DNS can change) is
    // refused before anything is sent.
    let key = gw.merchant("Shop", &[SHOP]).await;
    let receiver = Receiver::start(Behaviour::FailTimes(0)).await;
    endpoint(&gw, &key, &receiver.url, &["payment.captured"]).await;
    pay(&gw, &key, common::PAN).await;
    let pool = gw.raw_pool().await;
    sqlx::query("UPDATE webhook_endpoints SET livemode = $1")
        .bind(true)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(pass(gw.state()).await.retrying, 1);
    assert_eq!(
        receiver.hits().len(),
        0,
        "nothing reached the private address"
    );
    let pool = gw.raw_pool().await;
    let error: String = sqlx::query_scalar("SELECT error FROM webhook_attempts")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(error, "destination_refused");
}

#[tokio::test]
async fn redeliver_sends_an_event_again_and_deleting_an_endpoint_cancels_its_deliveries() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let receiver = Receiver::start(Behaviour::FailTimes(0)).await;
    let (endpoint_id, _) = endpoint(&gw, &key, &receiver.url, &["payment.captured"]).await;
    pay(&gw, &key, common::PAN).await;
    assert_eq!(pass(gw.state()).await.delivered, 1);
    let event = event_of(&gw, &key, "payment.captured").await;
    let id = event["id"].as_str().unwrap();
    let (status, again) = gw
        .post_json(
            &format!("/v1/events/{id}/redeliver"),
            Some(&key),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let deliveries = again["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2);
    let fresh = deliveries
        .iter()
        .find(|d| d["status"] == "pending")
        .unwrap_or_else(|| panic!("no fresh delivery: {again}"));
    assert_eq!(fresh["next_attempt_at"], NOW);
    assert!(deliveries.iter().any(|d| d["status"] == "delivered"));
    assert_eq!(pass(gw.state()).await.delivered, 1);
    assert_eq!(
        receiver.event_ids(),
        [id, id],
        "the same event id, to de-duplicate on"
    );

    // An event queued for an endpoint that is then deleted is not delivered.
    pay(&gw, &key, common::PAN).await;
    let (status, _) = gw
        .delete(&format!("/v1/webhook_endpoints/{endpoint_id}"), Some(&key))
        .await;
    assert_eq!(status, StatusCode::OK);
    let newest = event_of(&gw, &key, "payment.captured").await;
    assert_eq!(newest["deliveries"][0]["status"], "canceled", "{newest}");
    assert_eq!(pass(gw.state()).await.claimed, 0);
    assert_error(
        &gw.post_json(
            &format!("/v1/events/{}/redeliver", newest["id"].as_str().unwrap()),
            Some(&key),
            &json!({}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "no_endpoints",
        None,
    );
}

#[tokio::test]
async fn a_merchant_created_with_a_webhook_url_gets_events_signed_with_its_webhook_secret() {
    let gw = Gateway::start().await;
    let receiver = Receiver::start(Behaviour::FailTimes(0)).await;
    let state = gw.state();
    let created = payframe_server::merchants::create(
        &state.store,
        &state.master,
        "Demo shop",
        &[SHOP.to_owned()],
        Some(&receiver.url),
        false,
        NOW,
    )
    .await
    .unwrap();
    let (_, endpoints) = gw
        .get("/v1/webhook_endpoints", Some(&created.secret_key))
        .await;
    assert_eq!(endpoints["data"][0]["url"], receiver.url.as_str());
    assert_eq!(endpoints["data"][0]["enabled_events"], json!(["*"]));
    pay(&gw, &created.secret_key, common::PAN).await;
    assert_eq!(pass(gw.state()).await.delivered, 2);
    for hit in receiver.hits() {
        assert!(
            verify(
                &created.webhook_secret,
                &hit.signature,
                &hit.body,
                NOW,
                DEFAULT_TOLERANCE
            )
            .is_ok()
        );
    }
    assert!(
        payframe_server::merchants::create(
            &state.store,
            &state.master,
            "Bad",
            &[SHOP.to_owned()],
            Some("not a url"),
            false,
            NOW,
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn the_background_worker_delivers_as_soon_as_the_payment_is_stored() {
    // A poll interval far longer than the test: only the wake-up from the stored payment
    // (or the pass the worker makes when it starts) can deliver in time.
    let gw = Gateway::start_with(|s| s.webhook_poll_interval = Duration::from_secs(3600)).await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let receiver = Receiver::start(Behaviour::FailTimes(0)).await;
    let (_, secret) = endpoint(&gw, &key, &receiver.url, &[]).await;
    let background = payframe_server::spawn_background(gw.state());
    pay(&gw, &key, common::PAN).await;
    receiver.wait_for(2).await;
    background.shutdown().await;
    for hit in receiver.hits() {
        assert!(verify(&secret, &hit.signature, &hit.body, NOW, DEFAULT_TOLERANCE).is_ok());
    }
    let (_, list) = gw.get("/v1/events", Some(&key)).await;
    for event in list["data"].as_array().unwrap() {
        let (_, event) = gw
            .get(
                &format!("/v1/events/{}", event["id"].as_str().unwrap()),
                Some(&key),
            )
            .await;
        assert_eq!(event["deliveries"][0]["status"], "delivered", "{event}");
    }
}

#[tokio::test]
async fn rotating_the_master_key_rewraps_endpoint_secrets() {
    let gw = Gateway::start().await;
    let receiver = Receiver::start(Behaviour::FailTimes(0)).await;
    let state = gw.state();
    let created = payframe_server::merchants::create(
        &state.store,
        &state.master,
        "Shop",
        &[SHOP.to_owned()],
        Some(&receiver.url),
        false,
        NOW,
    )
    .await
    .unwrap();
    let new = payframe_server::master_key::MasterKey::from_bytes([8; 32]);
    let moved = payframe_server::rotation::rotate_master(&state.store, &state.master, &new)
        .await
        .unwrap();
    // The HPKE key, the fingerprint secret, the merchant's webhook secret and its endpoint's.
    assert_eq!(moved, 4);
    pay(&gw, &created.secret_key, common::PAN).await;
    let rotated = payframe_server::build_state(
        gw.db_url(),
        payframe_server::master_key::MasterKey::from_bytes([8; 32]),
        payframe_server::Settings::new(
            "http://gateway.test".into(),
            "no-frame".into(),
            "no-public".into(),
        ),
        gw.clock(),
    )
    .await
    .unwrap();
    assert_eq!(pass(&rotated).await.delivered, 2);
    let hit = receiver.hits().remove(0);
    assert!(
        verify(
            &created.webhook_secret,
            &hit.signature,
            &hit.body,
            NOW,
            DEFAULT_TOLERANCE
        )
        .is_ok(),
        "the same secret signs after the rotation"
    );
}

/// `payframe webhooks create/list/delete` and `merchant create --webhook-url`.
#[test]
fn the_cli_manages_webhook_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_payframe"))
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("PAYFRAME_MASTER_KEY")
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (ok, out, err) = run(&[
        "merchant",
        "create",
        "--name",
        "Shop",
        "--origin",
        SHOP,
        "--webhook-url",
        "http://127.0.0.1:3000/webhooks",
        "--json",
    ]);
    assert!(ok, "{err}");
    let merchant: Value = serde_json::from_str(&out).unwrap();
    let keys: Vec<&str> = merchant
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        ["id", "secret_key", "webhook_secret"],
        "output unchanged"
    );
    let id = merchant["id"].as_str().unwrap();

    let (ok, out, err) = run(&[
        "webhooks",
        "create",
        "--merchant",
        id,
        "--url",
        "https://shop.example/hooks",
        "--event",
        "payment.refunded",
        "--json",
    ]);
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["enabled_events"], json!(["payment.refunded"]));
    let endpoint = created["id"].as_str().unwrap();

    let (ok, out, _) = run(&["webhooks", "list", "--merchant", id]);
    assert!(ok);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains(endpoint) && out.contains("http://127.0.0.1:3000/webhooks"));
    assert!(!out.contains("whsec_"), "list never shows secrets");

    let (ok, _, _) = run(&["webhooks", "delete", "--merchant", id, "--id", endpoint]);
    assert!(ok);
    let (ok, _, err) = run(&["webhooks", "delete", "--merchant", id, "--id", endpoint]);
    assert!(!ok && err.contains("no webhook endpoint"), "{err}");
    let (ok, _, err) = run(&[
        "webhooks",
        "create",
        "--merchant",
        id,
        "--url",
        "https://shop.example/hooks",
        "--event",
        "payment.exploded",
    ]);
    assert!(!ok && err.contains("payment.exploded"), "{err}");
}
