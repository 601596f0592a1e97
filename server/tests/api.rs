//! The merchant and frame API end to end: the real router over a fresh database per test,
//! driven with `oneshot`, with cards sealed exactly as the browser seals them.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Checkout, Gateway, NOW, PAN, assert_error, card, sealed};
use payframe_core::Envelope;
use payframe_core::api::EncryptionKey;
use serde_json::json;

const ORIGINS: [&str; 2] = ["https://shop.example", "https://www.shop.example"];

/// A gateway with one merchant; returns the merchant's secret key too.
async fn gateway_with_merchant() -> (Gateway, String) {
    let gateway = Gateway::start().await;
    let key = gateway.merchant("Shop", &ORIGINS).await;
    (gateway, key)
}

/// A gateway, a merchant and one open session, ready to confirm.
async fn open_checkout() -> (Gateway, String, Checkout) {
    let (gateway, key) = gateway_with_merchant().await;
    let checkout = gateway.create_session(&key).await;
    (gateway, key, checkout)
}

/// The test card, valid and sealed at the gateway's current time for `checkout`.
async fn good_envelope(gateway: &Gateway, checkout: &Checkout) -> Envelope {
    let key = gateway.encryption_key(checkout).await;
    sealed(
        &key,
        &checkout.id,
        &card(PAN, 12, 2030, "123", gateway.now()),
    )
}

/// Flips one bit of a base64url field.
fn flip_bit(field: &str) -> String {
    let mut bytes = URL_SAFE_NO_PAD.decode(field).expect("base64url");
    bytes[3] ^= 1;
    URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn creates_a_session_and_retrieves_it_without_the_secret() {
    let (gateway, key) = gateway_with_merchant().await;
    let body = json!({"amount": 1999, "currency": "brl", "reference": "order-1"});
    let (status, session) = gateway.post_json("/v1/sessions", Some(&key), &body).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let id = session["id"].as_str().expect("id");
    assert!(id.starts_with("cs_"), "{id}");
    let secret = session["client_secret"].as_str().expect("client_secret");
    assert!(secret.starts_with(&format!("{id}_secret_")), "{secret}");
    assert_eq!(session["object"], "session");
    assert_eq!(session["status"], "open");
    assert_eq!(session["amount"], 1999);
    assert_eq!(session["currency"], "brl");
    assert_eq!(session["reference"], "order-1");
    assert_eq!(session["allowed_origins"], json!(ORIGINS));
    assert_eq!(session["expires_at"], NOW + 1800);

    let (status, retrieved) = gateway.get(&format!("/v1/sessions/{id}"), Some(&key)).await;
    assert_eq!(status, StatusCode::OK, "{retrieved}");
    assert!(retrieved.get("client_secret").is_none(), "{retrieved}");
    let mut created = session.clone();
    created
        .as_object_mut()
        .expect("object")
        .remove("client_secret");
    assert_eq!(retrieved, created);
}

#[tokio::test]
async fn merchant_routes_need_the_owners_key() {
    let (gateway, key, checkout) = open_checkout().await;
    let other = gateway
        .merchant("Other shop", &["https://other.example"])
        .await;
    let path = format!("/v1/sessions/{}", checkout.id);
    let body = json!({"amount": 1999, "currency": "brl"});

    let missing = gateway.post_json("/v1/sessions", None, &body).await;
    assert_error(&missing, StatusCode::UNAUTHORIZED, "missing_api_key", None);
    assert_error(
        &gateway.get(&path, None).await,
        StatusCode::UNAUTHORIZED,
        "missing_api_key",
        None,
    );

    let wrong = "sk_test_wrongwrongwrongwrongwrongwrong";
    let invalid = gateway.post_json("/v1/sessions", Some(wrong), &body).await;
    assert_error(&invalid, StatusCode::UNAUTHORIZED, "invalid_api_key", None);
    assert_error(
        &gateway.get(&path, Some(wrong)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
        None,
    );

    let foreign = gateway.get(&path, Some(&other)).await;
    assert_error(&foreign, StatusCode::NOT_FOUND, "resource_missing", None);
    assert_eq!(gateway.session_status(&key, &checkout.id).await, "open");
    assert_eq!(gateway.count("sessions").await, 1);
}

#[tokio::test]
async fn refuses_bad_session_input_and_creates_nothing() {
    let (gateway, key) = gateway_with_merchant().await;
    let json = Some("application/json");
    let cases = [
        (
            "zero amount",
            json,
            r#"{"amount":0,"currency":"brl"}"#,
            "invalid_amount",
            Some("amount"),
        ),
        (
            "negative amount",
            json,
            r#"{"amount":-5,"currency":"brl"}"#,
            "invalid_amount",
            Some("amount"),
        ),
        (
            "unknown currency",
            json,
            r#"{"amount":1999,"currency":"xyz"}"#,
            "invalid_currency",
            Some("currency"),
        ),
        (
            "foreign origin",
            json,
            r#"{"amount":1999,"currency":"brl","allowed_origins":["https://evil.example"]}"#,
            "invalid_origin",
            Some("allowed_origins"),
        ),
        (
            "unknown field",
            json,
            r#"{"amount":1999,"currency":"brl","color":"red"}"#,
            "invalid_body",
            None,
        ),
        (
            "malformed JSON",
            json,
            r#"{"amount":1999,"#,
            "invalid_json",
            None,
        ),
        (
            "no content type",
            None,
            r#"{"amount":1999,"currency":"brl"}"#,
            "invalid_content_type",
            None,
        ),
    ];
    for (name, content_type, body, code, param) in cases {
        let response = gateway
            .post_raw("/v1/sessions", Some(&key), content_type, body.into())
            .await;
        println!("case: {name}");
        assert_error(&response, StatusCode::BAD_REQUEST, code, param);
    }
    assert_eq!(gateway.count("sessions").await, 0);

    // The same merchant and a well-formed body do create one.
    gateway.create_session(&key).await;
    assert_eq!(gateway.count("sessions").await, 1);
}

#[tokio::test]
async fn frame_view_publishes_the_encryption_key_to_the_client_secret() {
    let (gateway, _key, checkout) = open_checkout().await;
    let (status, view) = gateway.frame_view(&checkout, &checkout.client_secret).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["id"], checkout.id.as_str());
    assert_eq!(view["status"], "open");
    assert_eq!(view["amount"], 1999);
    assert!(view.get("client_secret").is_none(), "{view}");
    assert!(
        view["encryption_key"]["kid"]
            .as_str()
            .is_some_and(|kid| !kid.is_empty()),
        "{view}"
    );
    let public_key = view["encryption_key"]["public_key"]
        .as_str()
        .expect("public_key");
    assert_eq!(public_key.len(), 43, "{public_key}");
    assert_eq!(
        URL_SAFE_NO_PAD.decode(public_key).expect("base64url").len(),
        32
    );

    let wrong_secret = format!("{}_secret_wrong", checkout.id);
    let refused = gateway.frame_view(&checkout, &wrong_secret).await;
    assert_error(
        &refused,
        StatusCode::UNAUTHORIZED,
        "invalid_client_secret",
        None,
    );

    let unknown = Checkout {
        id: "cs_unknown".into(),
        client_secret: "cs_unknown_secret_x".into(),
    };
    let missing = gateway.frame_view(&unknown, &unknown.client_secret).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "resource_missing", None);
}

#[tokio::test]
async fn confirm_tokenizes_the_card_once() {
    let (gateway, key, checkout) = open_checkout().await;
    let envelope = good_envelope(&gateway, &checkout).await;
    let (status, body) = gateway.confirm(&checkout, &envelope).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["token"]
            .as_str()
            .is_some_and(|t| t.starts_with("tok_")),
        "{body}"
    );
    assert_eq!(
        body["payment_method"],
        json!({"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030})
    );
    assert_eq!(gateway.session_status(&key, &checkout.id).await, "complete");
    assert_eq!(gateway.count("cards").await, 1);

    let again = gateway.confirm(&checkout, &envelope).await;
    assert_error(&again, StatusCode::CONFLICT, "session_completed", None);
    assert_eq!(gateway.count("cards").await, 1);
}

#[tokio::test]
async fn refused_confirms_store_nothing_and_leave_the_session_open() {
    let (gateway, key, checkout) = open_checkout().await;
    let other = gateway.create_session(&key).await;
    let enc_key = gateway.encryption_key(&checkout).await;
    let stranger_key = EncryptionKey {
        kid: "kid_unknown".into(),
        ..enc_key.clone()
    };
    let now = gateway.now();
    let test_card = || card(PAN, 12, 2030, "123", now);
    let seal_card = |number, month, year, cvc, sealed_at| {
        sealed(
            &enc_key,
            &checkout.id,
            &card(number, month, year, cvc, sealed_at),
        )
    };
    let good = sealed(&enc_key, &checkout.id, &test_card());
    let bad = StatusCode::BAD_REQUEST;
    let cases: [(&str, Envelope, StatusCode, &str, Option<&str>); 11] = [
        (
            "sealed for another session",
            sealed(&enc_key, &other.id, &test_card()),
            bad,
            "envelope_invalid",
            None,
        ),
        (
            "ct tampered",
            Envelope {
                ct: flip_bit(&good.ct),
                ..good.clone()
            },
            bad,
            "envelope_invalid",
            None,
        ),
        (
            "enc tampered",
            Envelope {
                enc: flip_bit(&good.enc),
                ..good.clone()
            },
            bad,
            "envelope_invalid",
            None,
        ),
        (
            "unknown kid",
            sealed(&stranger_key, &checkout.id, &test_card()),
            bad,
            "unknown_key",
            Some("envelope.kid"),
        ),
        (
            "ct not base64url",
            Envelope {
                ct: "not base64!".into(),
                ..good.clone()
            },
            bad,
            "envelope_malformed",
            Some("envelope.ct"),
        ),
        (
            "sealed 11 minutes ago",
            seal_card(PAN, 12, 2030, "123", now - 11 * 60),
            bad,
            "envelope_expired",
            None,
        ),
        (
            "sealed 3 minutes ahead",
            seal_card(PAN, 12, 2030, "123", now + 3 * 60),
            bad,
            "envelope_expired",
            None,
        ),
        (
            "Luhn-invalid number",
            seal_card("4242424242424241", 12, 2030, "123", now),
            bad,
            "invalid_number",
            Some("number"),
        ),
        (
            "expired card",
            seal_card(PAN, 10, 2026, "123", now),
            bad,
            "expired_card",
            Some("exp_month"),
        ),
        (
            "short cvc",
            seal_card(PAN, 12, 2030, "12", now),
            bad,
            "invalid_cvc",
            Some("cvc"),
        ),
        (
            "body over 16 KiB",
            Envelope {
                ct: "A".repeat(16 * 1024),
                ..good.clone()
            },
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            None,
        ),
    ];
    for (name, envelope, status, code, param) in cases {
        println!("case: {name}");
        assert_error(
            &gateway.confirm(&checkout, &envelope).await,
            status,
            code,
            param,
        );
        assert_eq!(gateway.session_status(&key, &checkout.id).await, "open");
        assert_eq!(gateway.count("cards").await, 0);
    }

    let (status, body) = gateway.confirm(&checkout, &good).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(gateway.session_status(&key, &checkout.id).await, "complete");
}

#[tokio::test]
async fn confirm_after_the_session_expires_is_refused() {
    let (gateway, _key, checkout) = open_checkout().await;
    gateway.set_now(NOW + 1800 + 1);
    let envelope = good_envelope(&gateway, &checkout).await;
    let refused = gateway.confirm(&checkout, &envelope).await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "session_expired", None);
    assert_eq!(gateway.count("cards").await, 0);
    let (status, view) = gateway.frame_view(&checkout, &checkout.client_secret).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "expired");
}

#[tokio::test]
async fn health_and_unknown_routes() {
    let gateway = Gateway::start().await;
    let health = Request::builder()
        .method(Method::GET)
        .uri("/healthz")
        .body(Body::empty());
    let (status, text) = gateway.call(health.expect("request")).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "ok"));

    let missing = gateway.get("/v1/no-such-route", None).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "resource_missing", None);
}

/// Two instances sweeping one database at once: each stale session is expired once, keys
/// older than a day are forgotten, and nothing still valid is touched.
#[tokio::test]
async fn sweeps_expire_stale_sessions_and_forget_old_idempotency_keys() {
    let (gw, key) = gateway_with_merchant().await;
    let mut stale = Vec::new();
    for i in 0..6 {
        let body = json!({"amount": 100 + i, "currency": "brl"});
        let request = Request::builder()
            .method(Method::POST)
            .uri("/v1/sessions")
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .header("idempotency-key", format!("k{i}"))
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, text) = gw.call(request).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        stale.push(serde_json::from_str::<serde_json::Value>(&text).unwrap()["id"].clone());
    }
    // Past the sessions' 30 minutes, before the keys' 24 hours.
    gw.set_now(NOW + 31 * 60);
    let fresh = gw.create_session(&key).await;
    let other = payframe_server::build_state(
        gw.db_url(),
        payframe_server::master_key::MasterKey::from_bytes([7; 32]),
        payframe_server::Settings::new("http://gateway.test".into(), "x".into(), "y".into()),
        std::sync::Arc::new(|| NOW + 31 * 60),
    )
    .await
    .unwrap();
    let (one, two) = tokio::join!(
        payframe_server::sweep_once(gw.state()),
        payframe_server::sweep_once(&other)
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!(one.sessions_expired + two.sessions_expired, 6);
    assert_eq!(
        one.idempotency_keys_forgotten + two.idempotency_keys_forgotten,
        0
    );
    for id in &stale {
        let id = id.as_str().unwrap();
        assert_eq!(gw.session_status(&key, id).await, "expired");
    }
    assert_eq!(gw.session_status(&key, &fresh.id).await, "open");

    gw.set_now(NOW + 24 * 60 * 60);
    let later = payframe_server::sweep_once(gw.state()).await.unwrap();
    assert_eq!(later.idempotency_keys_forgotten, 6);
    assert_eq!(
        later.sessions_expired, 1,
        "the fresh session has expired by now"
    );
    assert_eq!(gw.count("idempotency_keys").await, 0);
}
