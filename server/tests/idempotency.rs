//! Idempotency-Key on the merchant's POSTs: a retry of the same request answers what the
//! first answered (errors too) without a second effect; another request under the same key,
//! or a retry racing the first, is refused; keys expire after 24 hours.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Gateway, NOW, assert_error};
use serde_json::Value;

async fn post_with_key(
    gw: &Gateway,
    api_key: &str,
    idem: &str,
    path: &str,
    body: &str,
) -> (StatusCode, Value) {
    let request = Request::post(path)
        .header("authorization", format!("Bearer {api_key}"))
        .header("content-type", "application/json")
        .header("idempotency-key", idem)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let (status, text) = gw.call(request).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

const SESSION: &str = r#"{"amount":2500,"currency":"brl"}"#;

#[tokio::test]
async fn a_retry_replays_the_first_response_and_creates_nothing_more() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &["https://shop.example"]).await;
    let first = post_with_key(&gw, &key, "order-77", "/v1/sessions", SESSION).await;
    assert_eq!(first.0, StatusCode::OK, "{}", first.1);
    let again = post_with_key(&gw, &key, "order-77", "/v1/sessions", SESSION).await;
    assert_eq!(again, first, "the same session, client secret included");
    assert_eq!(gw.count("sessions").await, 1);

    let other_body = post_with_key(
        &gw,
        &key,
        "order-77",
        "/v1/sessions",
        r#"{"amount":2600,"currency":"brl"}"#,
    )
    .await;
    assert_error(
        &other_body,
        StatusCode::CONFLICT,
        "idempotency_key_reused",
        None,
    );
    let other_path =
        post_with_key(&gw, &key, "order-77", "/v1/payments/pay_x/cancel", SESSION).await;
    assert_error(
        &other_path,
        StatusCode::CONFLICT,
        "idempotency_key_reused",
        None,
    );
    assert_eq!(gw.count("sessions").await, 1);
}

#[tokio::test]
async fn errors_are_replayed_too_and_keys_are_per_merchant() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &["https://shop.example"]).await;
    let other = gw.merchant("Other", &["https://other.example"]).await;
    let bad = r#"{"amount":0,"currency":"brl"}"#;
    let first = post_with_key(&gw, &key, "k1", "/v1/sessions", bad).await;
    assert_error(
        &first,
        StatusCode::BAD_REQUEST,
        "invalid_amount",
        Some("amount"),
    );
    assert_eq!(
        post_with_key(&gw, &key, "k1", "/v1/sessions", bad).await,
        first
    );
    // Another merchant's key space is its own.
    let theirs = post_with_key(&gw, &other, "k1", "/v1/sessions", SESSION).await;
    assert_eq!(theirs.0, StatusCode::OK, "{}", theirs.1);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_have_one_effect() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &["https://shop.example"]).await;
    let (a, b) = tokio::join!(
        post_with_key(&gw, &key, "race", "/v1/sessions", SESSION),
        post_with_key(&gw, &key, "race", "/v1/sessions", SESSION),
    );
    assert_eq!(gw.count("sessions").await, 1, "{a:?} {b:?}");
    for (status, body) in [&a, &b] {
        let replayed_or_first = *status == StatusCode::OK;
        let raced =
            *status == StatusCode::CONFLICT && body["error"]["code"] == "idempotency_key_in_use";
        assert!(replayed_or_first || raced, "{status} {body}");
    }
}

#[tokio::test]
async fn keys_expire_after_a_day() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &["https://shop.example"]).await;
    assert_eq!(
        post_with_key(&gw, &key, "daily", "/v1/sessions", SESSION)
            .await
            .0,
        StatusCode::OK
    );
    gw.set_now(NOW + 24 * 60 * 60);
    let other = r#"{"amount":999,"currency":"brl"}"#;
    let (status, body) = post_with_key(&gw, &key, "daily", "/v1/sessions", other).await;
    assert_eq!(
        (status, body["amount"].as_i64()),
        (StatusCode::OK, Some(999)),
        "{body}"
    );
    assert_eq!(gw.count("sessions").await, 2);
}

#[tokio::test]
async fn stored_responses_keep_no_client_secret_in_clear() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &["https://shop.example"]).await;
    let (_, session) = post_with_key(&gw, &key, "secretive", "/v1/sessions", SESSION).await;
    let secret = session["client_secret"].as_str().unwrap().to_owned();
    let pool = gw.raw_pool().await;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT response_body FROM idempotency_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!stored.windows(secret.len()).any(|w| w == secret.as_bytes()));
    // …and the replay still answers it.
    let (_, again) = post_with_key(&gw, &key, "secretive", "/v1/sessions", SESSION).await;
    assert_eq!(again["client_secret"], secret.as_str());
}
