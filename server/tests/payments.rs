//! Payments through the API: confirm authorizes on the card-network simulator (capturing
//! at once or later), declines answer 402 and lock the session after five, and the
//! merchant captures, voids, refunds and lists — each refused when the state machine says so.

mod common;

use axum::http::StatusCode;
use common::{Checkout, Gateway, assert_error, card, sealed};
use payframe_server::processors::simulator::Fault;
use payframe_server::store::Backend;
use serde_json::{Value, json};

const SHOP: &str = "https://shop.example";

async fn session(gw: &Gateway, key: &str, body: Value) -> Checkout {
    let (status, s) = gw.post_json("/v1/sessions", Some(key), &body).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    Checkout {
        id: s["id"].as_str().unwrap().to_owned(),
        client_secret: s["client_secret"].as_str().unwrap().to_owned(),
    }
}

async fn pay_with(gw: &Gateway, checkout: &Checkout, number: &str) -> (StatusCode, Value) {
    let key = gw.encryption_key(checkout).await;
    let cvc = if number.starts_with("37") {
        "1234"
    } else {
        "123"
    };
    gw.confirm(
        checkout,
        &sealed(&key, &checkout.id, &card(number, 12, 2030, cvc, gw.now())),
    )
    .await
}

async fn pay(gw: &Gateway, key: &str, capture: &str, number: &str) -> (StatusCode, Value) {
    let checkout = session(
        gw,
        key,
        json!({"amount": 2000, "currency": "brl", "capture": capture}),
    )
    .await;
    pay_with(gw, &checkout, number).await
}

async fn post(gw: &Gateway, key: &str, path: &str, body: Value) -> (StatusCode, Value) {
    gw.post_json(path, Some(key), &body).await
}

#[tokio::test]
async fn automatic_capture_charges_at_confirm() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let (status, body) = pay(&gw, &key, "automatic", "4242424242424242").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let payment = &body["payment"];
    assert!(payment["id"].as_str().unwrap().starts_with("pay_"));
    assert_eq!(payment["status"], "captured");
    assert_eq!(payment["amount_captured"], 2000);
    assert_eq!(payment["payment_method"]["last4"], "4242");
    let (status, fetched) = gw
        .get(
            &format!("/v1/payments/{}", payment["id"].as_str().unwrap()),
            Some(&key),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&fetched, payment);
}

#[tokio::test]
async fn manual_capture_partial_capture_and_refunds_up_to_the_captured_amount() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let (_, body) = pay(&gw, &key, "manual", "5555555555554444").await;
    assert_eq!(body["payment"]["status"], "authorized", "{body}");
    let id = body["payment"]["id"].as_str().unwrap().to_owned();

    let over = post(
        &gw,
        &key,
        &format!("/v1/payments/{id}/capture"),
        json!({"amount": 2001}),
    )
    .await;
    assert_error(
        &over,
        StatusCode::BAD_REQUEST,
        "amount_too_large",
        Some("amount"),
    );
    let (status, captured) = post(
        &gw,
        &key,
        &format!("/v1/payments/{id}/capture"),
        json!({"amount": 1500}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{captured}");
    assert_eq!(
        (
            captured["status"].as_str(),
            captured["amount_captured"].as_i64()
        ),
        (Some("captured"), Some(1500))
    );
    let again = post(&gw, &key, &format!("/v1/payments/{id}/capture"), json!({})).await;
    assert_error(&again, StatusCode::CONFLICT, "payment_invalid_state", None);

    let (status, refund) = post(
        &gw,
        &key,
        &format!("/v1/payments/{id}/refunds"),
        json!({"amount": 500}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refund}");
    assert!(refund["id"].as_str().unwrap().starts_with("re_"));
    assert_eq!(refund["amount"], 500);
    let too_much = post(
        &gw,
        &key,
        &format!("/v1/payments/{id}/refunds"),
        json!({"amount": 1001}),
    )
    .await;
    assert_error(
        &too_much,
        StatusCode::BAD_REQUEST,
        "refund_exceeds_captured",
        Some("amount"),
    );
    let (status, rest) = post(&gw, &key, &format!("/v1/payments/{id}/refunds"), json!({})).await;
    assert_eq!(
        (status, rest["amount"].as_i64()),
        (StatusCode::OK, Some(1000)),
        "{rest}"
    );
    let (_, payment) = gw.get(&format!("/v1/payments/{id}"), Some(&key)).await;
    assert_eq!(payment["status"], "refunded");
    assert_eq!(payment["amount_refunded"], 1500);
    let after = post(
        &gw,
        &key,
        &format!("/v1/payments/{id}/refunds"),
        json!({"amount": 1}),
    )
    .await;
    assert_error(&after, StatusCode::CONFLICT, "payment_invalid_state", None);
}

#[tokio::test]
async fn an_authorized_payment_can_be_voided_a_captured_one_cannot() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let (_, manual) = pay(&gw, &key, "manual", "4242424242424242").await;
    let id = manual["payment"]["id"].as_str().unwrap();
    let (status, canceled) = post(&gw, &key, &format!("/v1/payments/{id}/cancel"), json!({})).await;
    assert_eq!(
        (status, canceled["status"].as_str()),
        (StatusCode::OK, Some("canceled")),
        "{canceled}"
    );
    let (_, auto) = pay(&gw, &key, "automatic", "4242424242424242").await;
    let id = auto["payment"]["id"].as_str().unwrap();
    let refused = post(&gw, &key, &format!("/v1/payments/{id}/cancel"), json!({})).await;
    assert_error(
        &refused,
        StatusCode::CONFLICT,
        "payment_invalid_state",
        None,
    );
}

#[tokio::test]
async fn each_declining_test_card_answers_402_with_its_decline_code() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    for (number, decline) in [
        ("4000000000000002", "do_not_honor"),
        ("4000000000009995", "insufficient_funds"),
        ("4000000000000069", "expired_card"),
        ("4000000000000127", "incorrect_cvc"),
        ("4000000000000119", "processing_error"),
    ] {
        let (status, body) = pay(&gw, &key, "automatic", number).await;
        assert_error(
            &(status, body.clone()),
            StatusCode::PAYMENT_REQUIRED,
            "card_declined",
            None,
        );
        assert_eq!(body["error"]["decline_code"], decline, "{number}");
        let payment = body["error"]["payment"]
            .as_str()
            .expect("the declined payment's id");
        let (_, p) = gw.get(&format!("/v1/payments/{payment}"), Some(&key)).await;
        assert_eq!(
            (p["status"].as_str(), p["decline_code"].as_str()),
            (Some("failed"), Some(decline))
        );
    }
    for number in ["5555555555554444", "378282246310005"] {
        let (status, body) = pay(&gw, &key, "automatic", number).await;
        assert_eq!(status, StatusCode::OK, "{number}: {body}");
    }
}

#[tokio::test]
async fn a_session_locks_after_five_declines_and_pays_once() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let checkout = session(&gw, &key, json!({"amount": 2000, "currency": "brl"})).await;
    for _ in 0..5 {
        let (status, _) = pay_with(&gw, &checkout, "4000000000000002").await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    }
    let locked = pay_with(&gw, &checkout, "4242424242424242").await;
    assert_error(&locked, StatusCode::CONFLICT, "session_locked", None);

    let fresh = session(&gw, &key, json!({"amount": 2000, "currency": "brl"})).await;
    assert_eq!(
        pay_with(&gw, &fresh, "4000000000000002").await.0,
        StatusCode::PAYMENT_REQUIRED
    );
    assert_eq!(
        pay_with(&gw, &fresh, "4242424242424242").await.0,
        StatusCode::OK
    );
    let twice = pay_with(&gw, &fresh, "4242424242424242").await;
    assert_error(&twice, StatusCode::CONFLICT, "session_completed", None);
}

#[tokio::test]
async fn concurrent_confirms_of_one_session_charge_once() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let checkout = session(&gw, &key, json!({"amount": 2000, "currency": "brl"})).await;
    let enc = gw.encryption_key(&checkout).await;
    let envelopes: Vec<_> = (0..4)
        .map(|_| {
            sealed(
                &enc,
                &checkout.id,
                &card("4242424242424242", 12, 2030, "123", gw.now()),
            )
        })
        .collect();
    let results = futures_join(envelopes.iter().map(|e| gw.confirm(&checkout, e))).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(*status, StatusCode::CONFLICT, "{body}");
    }
    let (_, list) = gw.get("/v1/payments", Some(&key)).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

/// Runs the futures concurrently on this task and collects their outputs in order.
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, f) in pending.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn a_processor_timeout_is_resolved_by_a_status_check_without_a_second_charge() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    // The authorization happens, but its answer is lost on the way back.
    gw.state().simulator.inject(Fault::TimeoutAfter, 1);
    let (status, body) = pay(&gw, &key, "manual", "4242424242424242").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["payment"]["status"], "processing");
    let id = body["payment"]["id"].as_str().unwrap();
    let (_, resolved) = gw.get(&format!("/v1/payments/{id}"), Some(&key)).await;
    assert_eq!(resolved["status"], "authorized", "{resolved}");
    let pan = payframe_core::Pan::parse("4242424242424242").unwrap();
    let currency = payframe_core::Currency::parse("brl").unwrap();
    let balance = gw.state().simulator.balance(&pan, currency).unwrap();
    assert_eq!(balance.held, 2000, "exactly one hold");
}

#[tokio::test]
async fn listing_pages_newest_first_and_other_merchants_see_nothing() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let other = gw.merchant("Other", &["https://other.example"]).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, body) = pay(&gw, &key, "automatic", "4242424242424242").await;
        ids.push(body["payment"]["id"].as_str().unwrap().to_owned());
        gw.set_now(gw.now() + 1);
    }
    let (_, first) = gw.get("/v1/payments?limit=2", Some(&key)).await;
    assert_eq!(first["object"], "list");
    assert_eq!(first["has_more"], true);
    let first_ids: Vec<_> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(first_ids, vec![json!(ids[2]), json!(ids[1])]);
    let (_, second) = gw
        .get(
            &format!("/v1/payments?limit=2&starting_after={}", ids[1]),
            Some(&key),
        )
        .await;
    assert_eq!(second["has_more"], false);
    assert_eq!(second["data"][0]["id"], json!(ids[0]));
    let bad = gw.get("/v1/payments?limit=0", Some(&key)).await;
    assert_error(
        &bad,
        StatusCode::BAD_REQUEST,
        "invalid_limit",
        Some("limit"),
    );

    let (_, theirs) = gw.get("/v1/payments", Some(&other)).await;
    assert_eq!(theirs["data"], json!([]));
    let hidden = gw
        .get(&format!("/v1/payments/{}", ids[0]), Some(&other))
        .await;
    assert_error(&hidden, StatusCode::NOT_FOUND, "resource_missing", None);
    let refused = post(
        &gw,
        &other,
        &format!("/v1/payments/{}/refunds", ids[0]),
        json!({}),
    )
    .await;
    assert_error(&refused, StatusCode::NOT_FOUND, "resource_missing", None);
}

/// Makes every INSERT into `table` fail, as a full disk would.
async fn break_inserts(gw: &Gateway, table: &str) {
    let pool = gw.raw_pool().await;
    let statements = match payframe_server::testing::backend() {
        Backend::Sqlite => vec![format!(
            "CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )],
        Backend::Postgres => vec![
            "CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$"
                .to_owned(),
            format!(
                "CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION disk_full()"
            ),
        ],
    };
    for statement in statements {
        sqlx::raw_sql(&statement).execute(&pool).await.unwrap();
    }
}

#[tokio::test]
async fn a_confirm_that_cannot_be_recorded_after_authorizing_keeps_the_session_held() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    break_inserts(&gw, "payments").await;
    let checkout = session(&gw, &key, json!({"amount": 2000, "currency": "brl"})).await;
    let (status, _) = pay_with(&gw, &checkout, "4242424242424242").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    // The processor did authorize, so no other card may be charged for this session.
    let pan = payframe_core::Pan::parse("4242424242424242").unwrap();
    let brl = payframe_core::Currency::parse("brl").unwrap();
    let balance = gw.state().simulator.balance(&pan, brl).unwrap();
    assert_eq!(
        balance.available(),
        payframe_server::processors::simulator::DEFAULT_BALANCE - 2000,
        "the card was charged once"
    );
    assert_eq!(gw.session_status(&key, &checkout.id).await, "processing");
    let again = pay_with(&gw, &checkout, "5555555555554444").await;
    assert_error(&again, StatusCode::CONFLICT, "session_processing", None);
}

#[tokio::test]
async fn a_confirm_that_fails_before_the_processor_frees_the_session() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    break_inserts(&gw, "cards").await;
    let checkout = session(&gw, &key, json!({"amount": 2000, "currency": "brl"})).await;
    let (status, _) = pay_with(&gw, &checkout, "4242424242424242").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(gw.session_status(&key, &checkout.id).await, "open");
}
