//! Idempotency-Key on the merchant's POSTs: a retry of the same request answers what the
//! first answered (errors too) without a second effect; another request under the same key,
//! or a retry racing the first, is refused; keys expire after 24 hours. The money-moving
//! POSTs and session creation store their answer in their effect's transaction: an answer
//! that cannot be stored takes the effect back with it.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Gateway, NOW, assert_error};
use http_body_util::BodyExt;
use payframe_server::processors::simulator::{DEFAULT_BALANCE, test_cards};
use payframe_server::store::Backend;
use serde_json::{Value, json};

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

/// A POST with an Idempotency-Key; returns the status, whether it is marked as a replay, and
/// the body exactly as sent.
async fn send_with_key(
    gw: &Gateway,
    api_key: &str,
    idem: &str,
    path: &str,
    body: &str,
) -> (StatusCode, bool, Vec<u8>) {
    let request = Request::post(path)
        .header("authorization", format!("Bearer {api_key}"))
        .header("content-type", "application/json")
        .header("idempotency-key", idem)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = gw.send(request).await;
    let status = response.status();
    let replayed = match response.headers().get("idempotent-replayed") {
        None => false,
        Some(value) => {
            assert_eq!(value, "true");
            true
        }
    };
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, replayed, bytes.to_vec())
}

/// Sends one request twice under `idem`: the second answer must be the first, byte for byte,
/// marked as a replay. Returns the answer.
async fn twice(
    gw: &Gateway,
    api_key: &str,
    idem: &str,
    path: &str,
    body: &str,
) -> (StatusCode, Value) {
    let (status, replayed, first) = send_with_key(gw, api_key, idem, path, body).await;
    assert!(!replayed, "a first request is not a replay");
    let (again_status, replayed, again) = send_with_key(gw, api_key, idem, path, body).await;
    assert!(replayed, "{path}: the retry is marked as a replay");
    assert_eq!(
        (again_status, String::from_utf8_lossy(&again)),
        (status, String::from_utf8_lossy(&first)),
        "{path}: the replay is the first answer, byte for byte"
    );
    (status, serde_json::from_slice(&first).unwrap())
}

/// Pays a new session of `body` with `number` through the frame; returns the confirm's body.
async fn checkout(gw: &Gateway, key: &str, body: Value, number: &str) -> Value {
    let (status, session) = gw.post_json("/v1/sessions", Some(key), &body).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let checkout = common::Checkout::of(&session);
    let (status, paid) = gw.pay(&checkout, number).await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    paid
}

#[tokio::test]
async fn every_money_moving_answer_and_the_session_replay_byte_for_byte() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &["https://shop.example"]).await;

    let (status, session) = twice(&gw, &key, "session", "/v1/sessions", SESSION).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert!(
        session["client_secret"]
            .as_str()
            .unwrap()
            .contains("_secret_")
    );
    assert_eq!(gw.count("sessions").await, 1);

    let (status, customer) = gw.post_json("/v1/customers", Some(&key), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{customer}");
    let customer = customer["id"].as_str().unwrap();
    let saved = json!({"amount": 1000, "currency": "brl", "customer": customer, "save_payment_method": true});
    let paid = checkout(&gw, &key, saved, test_cards::VISA).await;
    let pm = paid["payment"]["payment_method_id"].as_str().unwrap();
    let charge_of = |amount: i64| {
        json!({"amount": amount, "currency": "brl", "customer": customer,
            "payment_method": pm, "capture_method": "manual"})
        .to_string()
    };
    let charge = charge_of(2000);

    let (status, charged) = twice(&gw, &key, "charge", "/v1/payments", &charge).await;
    assert_eq!(
        (status, &charged["status"]),
        (StatusCode::OK, &json!("authorized"))
    );
    let id = charged["id"].as_str().unwrap();
    let capture = format!("/v1/payments/{id}/capture");
    let (status, captured) = twice(&gw, &key, "capture", &capture, "{}").await;
    assert_eq!(
        (status, &captured["status"]),
        (StatusCode::OK, &json!("captured"))
    );
    let refunds = format!("/v1/payments/{id}/refunds");
    let (status, refund) = twice(&gw, &key, "refund", &refunds, r#"{"amount":500}"#).await;
    assert_eq!((status, &refund["amount"]), (StatusCode::OK, &json!(500)));
    assert_eq!(gw.count("refunds").await, 1);

    let (_, other) = twice(&gw, &key, "charge-2", "/v1/payments", &charge_of(300)).await;
    let cancel = format!("/v1/payments/{}/cancel", other["id"].as_str().unwrap());
    let (status, canceled) = twice(&gw, &key, "cancel", &cancel, "").await;
    assert_eq!(
        (status, &canceled["status"]),
        (StatusCode::OK, &json!("canceled"))
    );

    // A decline saves a failed payment; its 402 is stored with it and replayed.
    let pan = payframe_core::Pan::parse(test_cards::VISA).unwrap();
    let brl = payframe_core::Currency::parse("brl").unwrap();
    gw.state().simulator.set_balance(&pan, brl, 0);
    let (status, declined) = twice(&gw, &key, "declined", "/v1/payments", &charge).await;
    assert_error(
        &(status, declined.clone()),
        StatusCode::PAYMENT_REQUIRED,
        "card_declined",
        None,
    );
    let failed = declined["error"]["payment"].as_str().unwrap();
    let (_, payment) = gw.get(&format!("/v1/payments/{failed}"), Some(&key)).await;
    assert_eq!(payment["status"], "failed");
    // The checkout's payment and three charges, each once.
    assert_eq!(gw.count("payments").await, 4);
    let pool = gw.raw_pool().await;
    let stored: Vec<(String, i64)> =
        sqlx::query_as("SELECT key, response_status FROM idempotency_keys ORDER BY key")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    let stored: Vec<(&str, i64)> = stored.iter().map(|(k, s)| (k.as_str(), *s)).collect();
    assert_eq!(
        stored,
        [
            ("cancel", 200),
            ("capture", 200),
            ("charge", 200),
            ("charge-2", 200),
            ("declined", 402),
            ("refund", 200),
            ("session", 200),
        ]
    );
}

/// Makes the database refuse to record any idempotent answer, as a failing disk would;
/// `mend_answers` takes that back.
async fn break_answers(gw: &Gateway) {
    let statements = match payframe_server::testing::backend() {
        Backend::Sqlite => vec![
            "CREATE TRIGGER no_answers BEFORE UPDATE ON idempotency_keys BEGIN SELECT RAISE(ABORT, 'disk full'); END",
        ],
        Backend::Postgres => vec![
            "CREATE FUNCTION no_answers() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$",
            "CREATE TRIGGER no_answers BEFORE UPDATE ON idempotency_keys FOR EACH ROW EXECUTE FUNCTION no_answers()",
        ],
    };
    run(gw, &statements).await;
}

async fn mend_answers(gw: &Gateway) {
    let statement = match payframe_server::testing::backend() {
        Backend::Sqlite => "DROP TRIGGER no_answers",
        Backend::Postgres => "DROP TRIGGER no_answers ON idempotency_keys",
    };
    run(gw, &[statement]).await;
}

async fn run(gw: &Gateway, statements: &[&str]) {
    let pool = gw.raw_pool().await;
    for statement in statements {
        sqlx::raw_sql(statement).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

#[tokio::test]
async fn a_capture_whose_answer_cannot_be_stored_does_not_happen() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &["https://shop.example"]).await;
    let manual = json!({"amount": 2000, "currency": "brl", "capture": "manual"});
    let paid = checkout(&gw, &key, manual, test_cards::MASTERCARD).await;
    let id = paid["payment"]["id"].as_str().unwrap();
    let path = format!("/v1/payments/{id}/capture");
    let events = gw.count("events").await;
    let audit = gw.count("audit_log").await;

    break_answers(&gw).await;
    let failed = post_with_key(&gw, &key, "capture-1", &path, "{}").await;
    assert_error(
        &failed,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        None,
    );
    // The capture went back with its answer: the payment, its events and the audit log are
    // as they were.
    let (_, payment) = gw.get(&format!("/v1/payments/{id}"), Some(&key)).await;
    assert_eq!(
        (&payment["status"], &payment["amount_captured"]),
        (&json!("authorized"), &json!(0))
    );
    assert_eq!(gw.count("events").await, events);
    assert_eq!(gw.count("audit_log").await, audit);

    // Nothing was stored under the key, so it stays in progress until it expires: the
    // gateway cannot tell a request that died from one still running elsewhere.
    mend_answers(&gw).await;
    let stuck = post_with_key(&gw, &key, "capture-1", &path, "{}").await;
    assert_error(&stuck, StatusCode::CONFLICT, "idempotency_key_in_use", None);
    // Under a new key the capture runs again; the processor call repeats its reference, so
    // the card is charged once.
    let (status, captured) = twice(&gw, &key, "capture-2", &path, "{}").await;
    assert_eq!(
        (status, &captured["status"]),
        (StatusCode::OK, &json!("captured"))
    );
    let pan = payframe_core::Pan::parse(test_cards::MASTERCARD).unwrap();
    let brl = payframe_core::Currency::parse("brl").unwrap();
    let balance = gw.state().simulator.balance(&pan, brl).unwrap();
    assert_eq!((balance.ledger, balance.held), (DEFAULT_BALANCE - 2000, 0));
    gw.set_now(NOW + 24 * 60 * 60);
    let (status, body) = post_with_key(&gw, &key, "capture-1", &path, "{}").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["error"]["code"], "payment_invalid_state",
        "a day later the key is free again; the payment is already captured"
    );
}

#[tokio::test]
async fn a_session_whose_answer_cannot_be_stored_is_not_created() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &["https://shop.example"]).await;
    break_answers(&gw).await;
    let (status, _) = post_with_key(&gw, &key, "s-1", "/v1/sessions", SESSION).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    // No session whose client secret nobody could be given again.
    assert_eq!(gw.count("sessions").await, 0);
    mend_answers(&gw).await;
    let (status, body) = post_with_key(&gw, &key, "s-2", "/v1/sessions", SESSION).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(gw.count("sessions").await, 1);
}

#[tokio::test]
async fn a_decline_whose_answer_cannot_be_stored_saves_no_failed_payment() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &["https://shop.example"]).await;
    let (_, customer) = gw.post_json("/v1/customers", Some(&key), &json!({})).await;
    let customer = customer["id"].as_str().unwrap();
    let saved = json!({"amount": 1000, "currency": "brl", "customer": customer, "save_payment_method": true});
    let paid = checkout(&gw, &key, saved, test_cards::VISA).await;
    let pm = paid["payment"]["payment_method_id"].as_str().unwrap();
    let pan = payframe_core::Pan::parse(test_cards::VISA).unwrap();
    let brl = payframe_core::Currency::parse("brl").unwrap();
    gw.state().simulator.set_balance(&pan, brl, 0);
    let charge =
        json!({"amount": 2000, "currency": "brl", "customer": customer, "payment_method": pm})
            .to_string();

    break_answers(&gw).await;
    let (status, _) = post_with_key(&gw, &key, "charge-1", "/v1/payments", &charge).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    // The failed payment and its 402 are one write: neither was kept.
    assert_eq!(gw.count("payments").await, 1, "only the checkout's payment");
    mend_answers(&gw).await;
    let (status, declined) = twice(&gw, &key, "charge-2", "/v1/payments", &charge).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{declined}");
    assert_eq!(gw.count("payments").await, 2);
}
