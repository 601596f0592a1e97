//! Rate limits (issue #5): per client IP on the frame, per session and per card on the
//! confirm, per API key on the merchant API — each answered 429 `rate_limited` with
//! `Retry-After`, and a refused request stores nothing. Limits here are a few per hour, so
//! nothing refills while a test runs: the tests count, they never sleep or race a clock.

mod common;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use common::{Checkout, Gateway, PAN, assert_error, card, sealed};
use http_body_util::BodyExt;
use payframe_server::api::rate_limit::{Limit, RateLimitSettings};
use serde_json::{Value, json};
use std::net::SocketAddr;
use tower::ServiceExt;

const SHOP: &str = "https://shop.example";
const MASTERCARD: &str = "5555555555554444";
const DO_NOT_HONOR: &str = "4000000000000002";

/// A gateway with only the limits `configure` sets, and a merchant.
async fn gateway(configure: impl FnOnce(&mut RateLimitSettings)) -> (Gateway, String) {
    let gw = Gateway::start_with(|settings| {
        let mut limits = RateLimitSettings::off();
        configure(&mut limits);
        settings.rate_limits = limits;
    })
    .await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    (gw, key)
}

fn confirm_request(checkout: &Checkout, envelope: &payframe_core::Envelope) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(format!("/v1/frame/sessions/{}/confirm", checkout.id))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"client_secret": checkout.client_secret, "envelope": envelope}).to_string(),
        ))
        .expect("valid request")
}

/// Seals `number` for the checkout and confirms it.
async fn pay(gw: &Gateway, checkout: &Checkout, number: &str) -> (StatusCode, Value) {
    let response = send_confirm(gw, checkout, number).await;
    (response.status(), body_json(response).await)
}

/// Seals `number` for the session and sends the confirm, returning the raw response (its
/// headers carry `Retry-After`).
async fn send_confirm(gw: &Gateway, checkout: &Checkout, number: &str) -> axum::response::Response {
    let key = gw.encryption_key(checkout).await;
    let envelope = sealed(&key, &checkout.id, &card(number, 12, 2030, "123", gw.now()));
    gw.send(confirm_request(checkout, &envelope)).await
}

/// Checks a 429: the error shape, `rate_limited` and a positive `Retry-After`.
#[track_caller]
fn assert_rate_limited(response: &axum::response::Response) -> u64 {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response
        .headers()
        .get(header::RETRY_AFTER)
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!(retry_after >= 1);
    retry_after
}

async fn body_json(response: axum::response::Response) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).expect("JSON body")
}

#[tokio::test]
async fn confirms_from_one_ip_are_limited_and_a_refused_one_stores_nothing() {
    let (gw, key) = gateway(|l| l.confirm_ip = Limit::per_hour(2, 2)).await;
    for _ in 0..2 {
        let checkout = gw.create_session(&key).await;
        let (status, body) = pay(&gw, &checkout, PAN).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let checkout = gw.create_session(&key).await;
    let response = send_confirm(&gw, &checkout, MASTERCARD).await;
    // One confirm comes back every 30 minutes.
    assert!(assert_rate_limited(&response) > 60);
    let body = body_json(response).await;
    assert_error(
        &(StatusCode::TOO_MANY_REQUESTS, body.clone()),
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        None,
    );
    assert_eq!(body["error"]["type"], "rate_limit_error");
    // Nothing happened: no card vaulted, no payment, the session still open.
    assert_eq!(gw.count("cards").await, 2);
    assert_eq!(gw.count("payments").await, 2);
    assert_eq!(gw.session_status(&key, &checkout.id).await, "open");
    // Loading the frame is not a confirm: still allowed.
    let (status, _) = gw.frame_view(&checkout, &checkout.client_secret).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn frame_requests_are_counted_per_client_address() {
    let (gw, key) = gateway(|l| l.frame_ip = Limit::per_hour(2, 2)).await;
    let checkout = gw.create_session(&key).await;
    let from = |ip: &str| {
        payframe_server::app(gw.state().clone()).layer(MockConnectInfo(
            format!("{ip}:40000").parse::<SocketAddr>().unwrap(),
        ))
    };
    let view = || {
        Request::builder()
            .uri(format!(
                "/v1/frame/sessions/{}?client_secret={}",
                checkout.id, checkout.client_secret
            ))
            // Not a trusted proxy's: ignored, so it cannot buy a fresh allowance.
            .header("x-forwarded-for", "198.51.100.99")
            .body(Body::empty())
            .unwrap()
    };
    let a = from("203.0.113.1");
    for _ in 0..2 {
        assert_eq!(
            a.clone().oneshot(view()).await.unwrap().status(),
            StatusCode::OK
        );
    }
    assert_rate_limited(&a.clone().oneshot(view()).await.unwrap());
    // Another address has its own allowance.
    let b = from("203.0.113.2");
    assert_eq!(b.oneshot(view()).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn confirms_on_one_session_are_limited() {
    let (gw, key) = gateway(|l| l.confirm_session = Limit::per_hour(2, 2)).await;
    let checkout = gw.create_session(&key).await;
    for _ in 0..2 {
        let (status, body) = pay(&gw, &checkout, DO_NOT_HONOR).await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    }
    let payments = gw.count("payments").await;
    let cards = gw.count("cards").await;
    // The third attempt is refused before the lock after 5 declines would matter.
    assert_rate_limited(&send_confirm(&gw, &checkout, PAN).await);
    assert_eq!(gw.count("payments").await, payments);
    assert_eq!(gw.count("cards").await, cards);
    assert_eq!(gw.session_status(&key, &checkout.id).await, "open");
    // Another session is not affected.
    let other = gw.create_session(&key).await;
    let (status, body) = pay(&gw, &other, PAN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A live processor for the gateway: the simulator served on a loopback port, as
/// `payframe simulator` would serve it.
async fn live_processor() -> String {
    let simulator =
        std::sync::Arc::new(payframe_server::processors::simulator::Simulator::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            payframe_server::processors::remote::service(simulator),
        )
        .await
        .unwrap();
    });
    url
}

#[tokio::test]
async fn one_card_on_many_sessions_is_refused_while_another_card_passes() {
    let processor = live_processor().await;
    let gw = Gateway::start_with(|settings| {
        let mut limits = RateLimitSettings::off();
        limits.card_fingerprint = Limit::per_hour(2, 2);
        settings.rate_limits = limits;
        settings.live_processor_url = Some(processor);
    })
    .await;
    let key = gw.live_merchant("Shop", &[SHOP]).await;
    // A second merchant: the count is across merchants too.
    let other_key = gw.live_merchant("Other shop", &[SHOP]).await;
    for key in [&key, &other_key] {
        let checkout = gw.create_session(key).await;
        let (status, body) = pay(&gw, &checkout, PAN).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let checkout = gw.create_session(&key).await;
    let response = send_confirm(&gw, &checkout, PAN).await;
    assert_rate_limited(&response);
    assert_eq!(body_json(response).await["error"]["code"], "rate_limited");
    // Refused before the claim, the vault and the processor.
    assert_eq!(gw.count("cards").await, 2);
    assert_eq!(gw.count("payments").await, 2);
    assert_eq!(gw.session_status(&key, &checkout.id).await, "open");
    // Another card on the same session goes through.
    let (status, body) = pay(&gw, &checkout, MASTERCARD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(gw.session_status(&key, &checkout.id).await, "complete");
}

#[tokio::test]
async fn an_api_key_over_its_limit_is_refused_and_another_merchants_key_is_not() {
    let (gw, key) = gateway(|l| l.api_key = Limit::per_hour(3, 3)).await;
    let other_key = gw.merchant("Other shop", &[SHOP]).await;
    // An idempotent POST authenticates in the idempotency layer and in the handler: it
    // counts once.
    let (status, body) = gw
        .post_json_idempotent(
            "/v1/sessions",
            &key,
            "order-1",
            &json!({"amount": 1999, "currency": "brl"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for _ in 0..2 {
        let (status, body) = gw.get("/v1/payments", Some(&key)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let request = Request::builder()
        .uri("/v1/payments")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    let response = gw.send(request).await;
    assert_rate_limited(&response);
    let body = body_json(response).await;
    assert_eq!(body["error"]["code"], "rate_limited");
    // The key is never echoed.
    assert!(!body.to_string().contains(&key));
    // A refused idempotent POST is not stored: nothing was claimed under its key.
    let sessions = gw.count("sessions").await;
    let (status, _) = gw
        .post_json_idempotent(
            "/v1/sessions",
            &key,
            "order-2",
            &json!({"amount": 1999, "currency": "brl"}),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(gw.count("sessions").await, sessions);
    assert_eq!(gw.count("idempotency_keys").await, 1);
    // Another merchant's key has its own allowance.
    let (status, body) = gw.get("/v1/payments", Some(&other_key)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn limits_switched_off_never_refuse() {
    let gw = Gateway::start_with(|settings| {
        settings.rate_limits = RateLimitSettings {
            frame_ip: "0".parse().unwrap(),
            confirm_ip: "off".parse().unwrap(),
            confirm_session: Limit::OFF,
            card_fingerprint: Limit::OFF,
            api_key: Limit::OFF,
            dashboard_sign_in_ip: Limit::OFF,
            trusted_proxies: Vec::new(),
        };
    })
    .await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    // More than every default allows at once: 12 confirms of one card from one client
    // (defaults: 10 per IP at once, 10 per card an hour), and declines on one session.
    for _ in 0..12 {
        let checkout = gw.create_session(&key).await;
        let (status, body) = pay(&gw, &checkout, PAN).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let checkout = gw.create_session(&key).await;
    for _ in 0..5 {
        let (status, _) = pay(&gw, &checkout, DO_NOT_HONOR).await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    }
}

#[tokio::test]
async fn the_shared_test_cards_are_not_limited_per_card_in_test_mode() {
    let (gw, key) = gateway(|l| l.card_fingerprint = Limit::per_hour(2, 2)).await;
    // Every merchant's integration tests pay with the same published test card.
    for _ in 0..4 {
        let checkout = gw.create_session(&key).await;
        let (status, body) = pay(&gw, &checkout, PAN).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(gw.count("payments").await, 4);
}
