//! The demo shop's webhook endpoint: only a verified `payment.authorized`/`payment.captured`
//! for an order's session, amount and currency marks that order paid. A stand-in gateway on
//! loopback answers the shop's `POST /v1/sessions`; webhooks are signed with core's `sign`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use demo_shop::ShopConfig;
use http_body_util::BodyExt;
use payframe_core::webhook::{SIGNATURE_HEADER, sign};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use tower::ServiceExt;

const SECRET: &str = "whsec_demoShopTestSecret0123456789abcdef";

/// Answers `POST /v1/sessions` like the gateway: a fresh `cs_…` for the asked amount.
async fn fake_gateway() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let app = Router::new().route(
        "/v1/sessions",
        post(|Json(body): Json<Value>| async move {
            let id = format!("cs_test{}", NEXT.fetch_add(1, Ordering::Relaxed));
            let created = json!({
                "id": id, "object": "session", "client_secret": format!("{id}_secret_x"),
                "amount": body["amount"], "currency": body["currency"],
                "reference": body["reference"], "status": "open",
            });
            (StatusCode::CREATED, Json(created))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn shop(webhook_secret: Option<&str>) -> Router {
    let config = ShopConfig {
        gateway_url: fake_gateway().await,
        secret_key: "sk_test_demo".into(),
    };
    demo_shop::app_with_webhooks(config, webhook_secret.map(str::to_owned))
}

async fn call(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Checks out one order; returns its reference and session id.
async fn checkout(app: &Router) -> (String, String) {
    let request = Request::post("/api/checkout").body(Body::empty()).unwrap();
    let (status, body) = call(app, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reference = body["order"].as_str().unwrap().to_owned();
    let order = order(app, &reference).await;
    assert_eq!(order["status"], "awaiting_payment");
    (reference, order["session"].as_str().unwrap().to_owned())
}

async fn order(app: &Router, reference: &str) -> Value {
    let request = Request::get(format!("/api/orders/{reference}"))
        .body(Body::empty())
        .unwrap();
    let (status, body) = call(app, request).await;
    assert_eq!(status, StatusCode::OK);
    body
}

fn event(id: &str, kind: &str, session: &str, amount: i64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id, "object": "event", "type": kind, "created": now(), "livemode": false,
        "data": { "object": {
            "id": "pay_test1", "object": "payment", "session": session,
            "amount": amount, "amount_captured": amount, "amount_refunded": 0,
            "currency": "brl", "status": "captured",
        }},
    }))
    .unwrap()
}

async fn deliver(app: &Router, body: Vec<u8>, signature: Option<String>) -> (StatusCode, Value) {
    let mut request = Request::post("/webhooks").header("content-type", "application/json");
    if let Some(signature) = signature {
        request = request.header(SIGNATURE_HEADER, signature);
    }
    call(app, request.body(Body::from(body)).unwrap()).await
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn verified_payment_events_mark_the_order_paid() {
    let app = shop(Some(SECRET)).await;
    for kind in ["payment.captured", "payment.authorized"] {
        let (reference, session) = checkout(&app).await;
        let body = event(&format!("evt_{kind}"), kind, &session, 4990);
        let signature = sign(SECRET, now(), &body);
        let (status, answer) = deliver(&app, body, Some(signature)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let order = order(&app, &reference).await;
        assert_eq!(order["status"], "paid", "{kind}");
        assert_eq!(order["payment"], "pay_test1");
    }
}

#[tokio::test]
async fn unverified_webhooks_are_refused_and_the_order_stays_unpaid() {
    let app = shop(Some(SECRET)).await;
    let (reference, session) = checkout(&app).await;
    let body = event("evt_1", "payment.captured", &session, 4990);
    let wrong_secret = sign("whsec_someone_else", now(), &body);
    let mut tampered_body = body.clone();
    tampered_body.push(b' ');
    let cases = [
        (body.clone(), Some(wrong_secret), "invalid_signature"),
        (
            tampered_body,
            Some(sign(SECRET, now(), &body)),
            "invalid_signature",
        ),
        (
            body.clone(),
            Some("t=abc,v1=00".into()),
            "invalid_signature",
        ),
        (body.clone(), None, "missing_signature"),
    ];
    for (body, signature, code) in cases {
        let (status, answer) = deliver(&app, body, signature).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(answer["error"], code);
    }
    assert_eq!(order(&app, &reference).await["status"], "awaiting_payment");
}

#[tokio::test]
async fn stale_or_future_timestamps_are_refused() {
    let app = shop(Some(SECRET)).await;
    let (reference, session) = checkout(&app).await;
    for t in [now() - 3600, now() + 3600] {
        let body = event("evt_1", "payment.captured", &session, 4990);
        let signature = sign(SECRET, t, &body);
        let (status, answer) = deliver(&app, body, Some(signature)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(answer["error"], "invalid_signature");
    }
    assert_eq!(order(&app, &reference).await["status"], "awaiting_payment");
}

#[tokio::test]
async fn other_verified_events_are_acknowledged_without_marking_paid() {
    let app = shop(Some(SECRET)).await;
    let (reference, session) = checkout(&app).await;
    for kind in ["payment.failed", "payment.canceled", "payment.refunded"] {
        let body = event(&format!("evt_{kind}"), kind, &session, 4990);
        let signature = sign(SECRET, now(), &body);
        let (status, _) = deliver(&app, body, Some(signature)).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{kind}: acknowledged so it is not retried"
        );
    }
    assert_eq!(order(&app, &reference).await["status"], "awaiting_payment");
}

#[tokio::test]
async fn a_payment_for_another_amount_or_session_marks_nothing_paid() {
    let app = shop(Some(SECRET)).await;
    let (reference, session) = checkout(&app).await;
    for body in [
        event("evt_a", "payment.captured", &session, 1),
        event("evt_b", "payment.captured", "cs_unknown", 4990),
    ] {
        let signature = sign(SECRET, now(), &body);
        let (status, _) = deliver(&app, body, Some(signature)).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(order(&app, &reference).await["status"], "awaiting_payment");
}

#[tokio::test]
async fn a_replayed_event_is_harmless() {
    let app = shop(Some(SECRET)).await;
    let (reference, session) = checkout(&app).await;
    let body = event("evt_once", "payment.captured", &session, 4990);
    let signature = sign(SECRET, now(), &body);
    let (status, first) = deliver(&app, body.clone(), Some(signature.clone())).await;
    assert_eq!(
        (status, &first["duplicate"]),
        (StatusCode::OK, &json!(false))
    );
    let (status, again) = deliver(&app, body.clone(), Some(signature)).await;
    assert_eq!(
        (status, &again["duplicate"]),
        (StatusCode::OK, &json!(true))
    );
    // The gateway's retry of the same event, signed afresh, is just as harmless.
    let (status, retry) = deliver(&app, body.clone(), Some(sign(SECRET, now(), &body))).await;
    assert_eq!(
        (status, &retry["duplicate"]),
        (StatusCode::OK, &json!(true))
    );
    let order = order(&app, &reference).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["payment"], "pay_test1");
}

#[tokio::test]
async fn without_a_webhook_secret_every_webhook_is_refused() {
    let app = demo_shop::app(ShopConfig {
        gateway_url: fake_gateway().await,
        secret_key: "sk_test_demo".into(),
    });
    let (reference, session) = checkout(&app).await;
    let body = event("evt_1", "payment.captured", &session, 4990);
    let (status, answer) = deliver(&app, body.clone(), Some(sign(SECRET, now(), &body))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"], "webhooks_not_configured");
    assert_eq!(order(&app, &reference).await["status"], "awaiting_payment");
}

#[tokio::test]
async fn the_orders_page_shows_paid_only_after_the_webhook() {
    let app = shop(Some(SECRET)).await;
    let (reference, session) = checkout(&app).await;
    let page = || async {
        let response = app
            .clone()
            .oneshot(Request::get("/orders").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    let before = page().await;
    assert!(before.contains(&reference) && before.contains("awaiting payment"));
    let body = event("evt_1", "payment.captured", &session, 4990);
    deliver(&app, body.clone(), Some(sign(SECRET, now(), &body))).await;
    let after = page().await;
    assert!(
        after.contains("<td>paid</td>") && after.contains("pay_test1"),
        "{after}"
    );
}
