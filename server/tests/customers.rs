//! Customers (issue #8) through the real router on the run's backend: profiles and their
//! validation, cards saved by a checkout and charged again by the merchant, transaction
//! history, the data-protection export, erasure with crypto-shredding, and the audit log.

mod common;

use axum::http::StatusCode;
use common::{Gateway, assert_error};
use serde_json::{Value, json};

const SHOP: &str = "https://shop.example";
const MASTERCARD: &str = "5555555555554444";
const DECLINED: &str = "4000000000000002";

/// What the story's customer is made of: every value must be gone after erasure.
const NAME: &str = "Ana Beatriz Souza";
const EMAIL: &str = "ana.souza@example.com.br";
const PHONE: &str = "+55 11 91234 5678";
const LINE1: &str = "Rua Augusta, 1500";
const CITY: &str = "São Paulo";
const POSTAL: &str = "01304-001";
const META: &str = "user-8841";

fn profile() -> Value {
    json!({
        "name": NAME,
        "email": EMAIL,
        "phone": PHONE,
        "address": {"line1": LINE1, "city": CITY, "state": "SP", "postal_code": POSTAL, "country": "br"},
        "metadata": {"shop_user": META},
    })
}

async fn create_customer(gw: &Gateway, key: &str, body: &Value) -> String {
    let (status, customer) = gw.post_json("/v1/customers", Some(key), body).await;
    assert_eq!(status, StatusCode::OK, "{customer}");
    customer["id"].as_str().expect("id").to_owned()
}

/// A session for `customer` that saves the card, paid with `number`; returns the confirm's
/// status and body.
async fn pay_and_save(
    gw: &Gateway,
    key: &str,
    customer: &str,
    number: &str,
) -> (StatusCode, Value) {
    let body = json!({"amount": 1999, "currency": "brl", "customer": customer, "save_payment_method": true});
    let (status, session) = gw.post_json("/v1/sessions", Some(key), &body).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["customer"], customer);
    assert_eq!(session["save_payment_method"], true);
    let checkout = common::Checkout::of(&session);
    gw.pay(&checkout, number).await
}

async fn payment_methods(gw: &Gateway, key: &str, customer: &str) -> Vec<Value> {
    let (status, list) = gw
        .get(
            &format!("/v1/customers/{customer}/payment_methods"),
            Some(key),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["data"].as_array().unwrap().clone()
}

async fn charge(
    gw: &Gateway,
    key: &str,
    customer: &str,
    pm: &str,
    amount: i64,
) -> (StatusCode, Value) {
    let body = json!({"amount": amount, "currency": "brl", "customer": customer, "payment_method": pm, "reference": "renewal-7"});
    gw.post_json("/v1/payments", Some(key), &body).await
}

/// Sums over every payment of the merchant: (amount, captured, refunded, count).
async fn totals(gw: &Gateway, key: &str) -> (i64, i64, i64, usize) {
    let (status, list) = gw.get("/v1/payments?limit=100", Some(key)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let data = list["data"].as_array().unwrap();
    let sum = |field: &str| data.iter().map(|p| p[field].as_i64().unwrap()).sum::<i64>();
    (
        sum("amount"),
        sum("amount_captured"),
        sum("amount_refunded"),
        data.len(),
    )
}

async fn audit_actions(gw: &Gateway, key: &str) -> Vec<Value> {
    let (status, log) = gw.get("/v1/audit_log?limit=100", Some(key)).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    log["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn save_charge_export_erase_and_nothing_personal_is_left() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let customer = create_customer(&gw, &key, &profile()).await;

    // Save: the checkout's authorized card becomes the customer's payment method.
    let (status, confirmed) = pay_and_save(&gw, &key, &customer, common::PAN).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let token = confirmed["token"].as_str().unwrap().to_owned();
    let pm = confirmed["payment"]["payment_method_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(pm.starts_with("pm_"), "{confirmed}");
    assert_eq!(confirmed["payment"]["customer"], customer);
    let methods = payment_methods(&gw, &key, &customer).await;
    assert_eq!(methods.len(), 1);
    assert_eq!(methods[0]["id"], pm);
    assert_eq!(methods[0]["card"]["brand"], "visa");
    assert_eq!(methods[0]["card"]["last4"], "4242");
    assert_eq!(methods[0]["card"]["exp_year"], 2030);
    assert!(methods[0]["card"]["fingerprint"].is_string());

    // Charge: merchant-initiated, through the state machine, captured automatically.
    let (status, charged) = charge(&gw, &key, &customer, &pm, 5000).await;
    assert_eq!(status, StatusCode::OK, "{charged}");
    assert_eq!(charged["status"], "captured");
    assert_eq!(charged["customer"], customer);
    assert_eq!(charged["payment_method_id"], pm);
    assert_eq!(charged["reference"], "renewal-7");
    assert!(charged["session"].is_null());
    let charged_id = charged["id"].as_str().unwrap().to_owned();
    let (status, refund) = gw
        .post_json(
            &format!("/v1/payments/{charged_id}/refunds"),
            Some(&key),
            &json!({"amount": 1200}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refund}");

    // History: the refund, then the charge, then the checkout's payment.
    let (status, history) = gw
        .get(
            &format!("/v1/customers/{customer}/transactions"),
            Some(&key),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let kinds: Vec<&str> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 3, "{history}");
    assert_eq!(kinds.iter().filter(|k| **k == "refund").count(), 1);

    // Export: everything, masked.
    let (status, export) = gw
        .get(&format!("/v1/customers/{customer}/export"), Some(&key))
        .await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(export["object"], "customer_export");
    assert_eq!(export["customer"]["name"], NAME);
    assert_eq!(export["customer"]["email"], EMAIL);
    assert_eq!(export["customer"]["address"]["country"], "BR");
    assert_eq!(export["payment_methods"].as_array().unwrap().len(), 1);
    assert_eq!(export["payments"].as_array().unwrap().len(), 2);
    assert_eq!(export["refunds"].as_array().unwrap().len(), 1);
    let events = export["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["data"]["object"]["payment_method"]["last4"] == "4242"),
        "the events about the customer's payments are exported: {events:?}"
    );
    let exported_actions: Vec<&str> = export["audit_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "customer.created",
        "payment_method.attached",
        "payment.created",
        "payment.refunded",
        "customer.exported",
    ] {
        assert!(
            exported_actions.contains(&action),
            "{action} not in {exported_actions:?}"
        );
    }
    common::assert_no_pan(&export.to_string());

    let state = gw.state();
    let (ciphertext_before, wrapped_before) =
        state.store.card_secret(&token).await.unwrap().unwrap();
    assert!(
        state
            .vault
            .reveal(&ciphertext_before, &wrapped_before)
            .is_ok(),
        "vaulted before erasure"
    );
    let before = totals(&gw, &key).await;

    // Erase.
    let (status, erased) = gw
        .call(common_delete(&format!("/v1/customers/{customer}"), &key))
        .await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    let erased: Value = serde_json::from_str(&erased).unwrap();
    assert_eq!(erased["deleted"], true);
    assert!(erased["erased_at"].is_i64());
    for field in ["name", "email", "phone", "address"] {
        assert!(erased[field].is_null(), "{field}: {erased}");
    }

    // The export afterwards holds nothing personal, and no card details.
    let (status, export) = gw
        .get(&format!("/v1/customers/{customer}/export"), Some(&key))
        .await;
    assert_eq!(status, StatusCode::OK, "{export}");
    let text = without_ids(&export.to_string());
    for personal in [
        NAME,
        "Ana",
        EMAIL,
        "ana.souza",
        "91234",
        LINE1,
        "Augusta",
        CITY,
        POSTAL,
        META,
        "shop_user",
        "\"SP\"",
        "\"BR\"",
    ] {
        assert!(
            !text.contains(personal),
            "{personal} is still in the export: {text}"
        );
    }
    assert_eq!(export["customer"]["deleted"], true);
    assert_eq!(export["customer"]["metadata"], json!({}));
    for pm in export["payment_methods"].as_array().unwrap() {
        assert_eq!(pm["status"], "erased");
        assert_eq!(pm["card"]["last4"], "****");
        assert!(pm["card"]["fingerprint"].is_null());
    }
    for payment in export["payments"].as_array().unwrap() {
        assert_eq!(payment["payment_method"]["last4"], "****", "{payment}");
        assert_eq!(payment["payment_method"]["exp_year"], 0, "{payment}");
    }
    let events = export["events"].as_array().unwrap();
    assert!(
        !events.is_empty(),
        "events are kept for the merchant's records"
    );
    for event in events {
        let card = &event["data"]["object"]["payment_method"];
        assert_eq!(card["last4"], "****", "{event}");
        assert_eq!(card["exp_year"], 0, "{event}");
    }
    assert_eq!(
        export["payments"].as_array().unwrap().len(),
        2,
        "kept for accounting"
    );

    // The old payment method is refused.
    let (status, refused) = charge(&gw, &key, &customer, &pm, 100).await;
    assert_error(
        &(status, refused),
        StatusCode::BAD_REQUEST,
        "payment_method_unusable",
        Some("payment_method"),
    );
    assert!(payment_methods(&gw, &key, &customer).await.is_empty());

    // The vault row cannot be decrypted, with the master key or the ciphertext kept earlier.
    let (ciphertext_after, wrapped_after) = state.store.card_secret(&token).await.unwrap().unwrap();
    assert!(ciphertext_after.is_empty() && wrapped_after.is_empty());
    assert!(
        state
            .vault
            .reveal(&ciphertext_after, &wrapped_after)
            .is_err()
    );
    assert!(
        state
            .vault
            .reveal(&ciphertext_before, &wrapped_after)
            .is_err()
    );
    let pool = gw.raw_pool().await;
    let live_keys: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM cards WHERE length(data_key_wrapped) > 0")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(live_keys, 0, "every card of the customer is shredded");
    pool.close().await;

    // Accounting is unchanged: the same payments, amounts, captures and refunds.
    assert_eq!(totals(&gw, &key).await, before);
    assert_eq!(before, (1999 + 5000, 1999 + 5000, 1200, 2));

    // Erasing again answers the same and records nothing new.
    let (status, again) = gw
        .call(common_delete(&format!("/v1/customers/{customer}"), &key))
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let again: Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again["erased_at"], erased["erased_at"]);
    let log = audit_actions(&gw, &key).await;
    assert_eq!(
        log.iter()
            .filter(|e| e["action"] == "customer.erased")
            .count(),
        1
    );
    let erasure = log
        .iter()
        .find(|e| e["action"] == "customer.erased")
        .unwrap();
    assert_eq!(erasure["details"]["cards_shredded"], 1, "{erasure}");
    assert_eq!(erasure["details"]["payments_anonymised"], 2, "{erasure}");

    // And an erased customer takes no update and no new checkout.
    let (status, body) = gw
        .post_json(
            &format!("/v1/customers/{customer}"),
            Some(&key),
            &json!({"name": "X"}),
        )
        .await;
    assert_error(
        &(status, body),
        StatusCode::CONFLICT,
        "customer_erased",
        None,
    );
    let (status, body) = gw
        .post_json(
            "/v1/sessions",
            Some(&key),
            &json!({"amount": 100, "currency": "brl", "customer": customer}),
        )
        .await;
    assert_error(
        &(status, body),
        StatusCode::CONFLICT,
        "customer_erased",
        Some("customer"),
    );
}

/// `text` with the random part of every object id (`_` and then 20 or more base62
/// characters: `cus_…`, `aud_…`, `api_key:key_…`) replaced by `<id>`, so that a short
/// personal fragment such as "Ana" is not found by chance inside an id (one export holds
/// dozens of them).
fn without_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('_') {
        let (head, tail) = rest.split_at(at + 1);
        out.push_str(head);
        let run = tail.bytes().take_while(u8::is_ascii_alphanumeric).count();
        out.push_str(if run >= 20 { "<id>" } else { &tail[..run] });
        rest = &tail[run..];
    }
    out.push_str(rest);
    out
}

#[test]
fn ids_are_blanked_and_everything_else_is_kept() {
    assert_eq!(
        without_ids(
            r#"{"id":"re_VcY8kPxAnaOl3T4FXdJ9jVry","name":"Ana","m":"shop_user","c":"São_Paulo"}"#
        ),
        r#"{"id":"re_<id>","name":"Ana","m":"shop_user","c":"São_Paulo"}"#
    );
    assert_eq!(
        without_ids("api_key:key_VcY8kP2AARKv5h1HF5DwQ3nU _"),
        "api_key:key_<id> _"
    );
}

fn common_delete(path: &str, key: &str) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::builder()
        .method(axum::http::Method::DELETE)
        .uri(path)
        .header(axum::http::header::AUTHORIZATION, format!("Bearer {key}"))
        .body(axum::body::Body::empty())
        .unwrap()
}

#[tokio::test]
async fn customers_are_created_read_updated_listed_and_found_by_email() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let (status, created) = gw.post_json("/v1/customers", Some(&key), &profile()).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["object"], "customer");
    assert_eq!(created["address"]["country"], "BR");
    assert_eq!(created["deleted"], false);
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, fetched) = gw.get(&format!("/v1/customers/{id}"), Some(&key)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);

    // Absent fields stay; null clears; address is replaced whole.
    let patch = json!({"phone": null, "address": {"country": "PT", "city": "Lisboa"}});
    let (status, updated) = gw
        .post_json(&format!("/v1/customers/{id}"), Some(&key), &patch)
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], NAME);
    assert!(updated["phone"].is_null());
    assert_eq!(
        updated["address"],
        json!({"line1": null, "line2": null, "city": "Lisboa", "state": null, "postal_code": null, "country": "PT"})
    );

    let other = create_customer(&gw, &key, &json!({"email": "Bob@Example.org"})).await;
    let _third = create_customer(&gw, &key, &json!({})).await;
    let (status, by_email) = gw
        .get("/v1/customers?email=bob@example.ORG", Some(&key))
        .await;
    assert_eq!(status, StatusCode::OK, "{by_email}");
    assert_eq!(by_email["data"].as_array().unwrap().len(), 1);
    assert_eq!(by_email["data"][0]["id"], other);

    // Pagination walks all three, newest first, without repeats.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/customers?limit=2&starting_after={c}"),
            None => "/v1/customers?limit=2".to_owned(),
        };
        let (status, page) = gw.get(&path, Some(&key)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for c in page["data"].as_array().unwrap() {
            seen.push(c["id"].as_str().unwrap().to_owned());
        }
        if page["has_more"] != true {
            break;
        }
        cursor = seen.last().cloned();
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    seen.dedup();
    assert_eq!(seen.len(), 3);

    // Another merchant sees none of them.
    let stranger = gw.merchant("Other", &[SHOP]).await;
    for path in [
        format!("/v1/customers/{id}"),
        format!("/v1/customers/{id}/payment_methods"),
        format!("/v1/customers/{id}/transactions"),
        format!("/v1/customers/{id}/export"),
    ] {
        let response = gw.get(&path, Some(&stranger)).await;
        assert_error(&response, StatusCode::NOT_FOUND, "resource_missing", None);
    }
    let response = gw
        .post_json(
            &format!("/v1/customers/{id}"),
            Some(&stranger),
            &json!({"name": "X"}),
        )
        .await;
    assert_error(&response, StatusCode::NOT_FOUND, "resource_missing", None);
    let (status, _) = gw
        .call(common_delete(&format!("/v1/customers/{id}"), &stranger))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = gw.get("/v1/customers", Some(&stranger)).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let (_, still) = gw.get(&format!("/v1/customers/{id}"), Some(&key)).await;
    assert_eq!(still["deleted"], false);
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let id = create_customer(&gw, &key, &profile()).await;
    let customers_before = gw.count("customers").await;
    let audit_before = gw.count("audit_log").await;
    let long = "x".repeat(257);
    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        (json!({"email": "ana@"}), "invalid_email", Some("email")),
        (
            json!({"email": "ana silva@example.com"}),
            "invalid_email",
            Some("email"),
        ),
        (
            json!({"phone": "11 91234 5678"}),
            "invalid_phone",
            Some("phone"),
        ),
        (json!({"name": long}), "invalid_length", Some("name")),
        (
            json!({"name": "Ana\u{7}"}),
            "invalid_characters",
            Some("name"),
        ),
        (
            json!({"name": "Ana 4242 4242 4242 4242"}),
            "contains_card_number",
            Some("name"),
        ),
        (
            json!({"address": {"country": "XX"}}),
            "invalid_country",
            Some("address.country"),
        ),
        (
            json!({"address": {"country": "Brazil"}}),
            "invalid_country",
            Some("address.country"),
        ),
        (
            json!({"address": {"postal_code": "1".repeat(21)}}),
            "invalid_length",
            Some("address.postal_code"),
        ),
        (
            json!({"address": {"line1": "4000 0566 5566 5556"}}),
            "contains_card_number",
            Some("address.line1"),
        ),
        (
            json!({"metadata": {"k": "v".repeat(501)}}),
            "invalid_metadata",
            Some("metadata"),
        ),
        (
            json!({"metadata": {"card": "4000056655665556"}}),
            "contains_card_number",
            Some("metadata"),
        ),
        (json!({"metadata": {"n": 5}}), "invalid_body", None),
        (json!({"address": {"planet": "Mars"}}), "invalid_body", None),
        (json!({"nickname": "Ana"}), "invalid_body", None),
        (json!({"email": 42}), "invalid_body", None),
    ];
    for (body, code, param) in &cases {
        let created = gw.post_json("/v1/customers", Some(&key), body).await;
        assert_error(&created, StatusCode::BAD_REQUEST, code, *param);
        assert!(
            !created.1.to_string().contains("4242 4242"),
            "{}",
            created.1
        );
        let updated = gw
            .post_json(&format!("/v1/customers/{id}"), Some(&key), body)
            .await;
        assert_error(&updated, StatusCode::BAD_REQUEST, code, *param);
    }
    let response = gw
        .post_raw(
            "/v1/customers",
            Some(&key),
            Some("application/json"),
            "{".into(),
        )
        .await;
    assert_error(&response, StatusCode::BAD_REQUEST, "invalid_json", None);
    let response = gw
        .post_raw("/v1/customers", Some(&key), Some("text/plain"), "{}".into())
        .await;
    assert_error(
        &response,
        StatusCode::BAD_REQUEST,
        "invalid_content_type",
        None,
    );
    let response = gw.post_json("/v1/customers", None, &json!({})).await;
    assert_error(&response, StatusCode::UNAUTHORIZED, "missing_api_key", None);

    for query in ["limit=0", "limit=101", "limit=x"] {
        let response = gw.get(&format!("/v1/customers?{query}"), Some(&key)).await;
        assert_error(
            &response,
            StatusCode::BAD_REQUEST,
            "invalid_limit",
            Some("limit"),
        );
        let response = gw
            .get(
                &format!("/v1/customers/{id}/transactions?{query}"),
                Some(&key),
            )
            .await;
        assert_error(
            &response,
            StatusCode::BAD_REQUEST,
            "invalid_limit",
            Some("limit"),
        );
        let response = gw.get(&format!("/v1/audit_log?{query}"), Some(&key)).await;
        assert_error(
            &response,
            StatusCode::BAD_REQUEST,
            "invalid_limit",
            Some("limit"),
        );
    }
    let response = gw.get("/v1/customers?email=not-an-email", Some(&key)).await;
    assert_error(
        &response,
        StatusCode::BAD_REQUEST,
        "invalid_email",
        Some("email"),
    );
    for missing in ["cus_000000000000000000000000", "nope", "pay_x"] {
        for path in [
            format!("/v1/customers/{missing}"),
            format!("/v1/customers/{missing}/payment_methods"),
            format!("/v1/customers/{missing}/transactions"),
            format!("/v1/customers/{missing}/export"),
        ] {
            let response = gw.get(&path, Some(&key)).await;
            assert_error(&response, StatusCode::NOT_FOUND, "resource_missing", None);
        }
        let (status, _) = gw
            .call(common_delete(&format!("/v1/customers/{missing}"), &key))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let response = gw
        .post_json(
            "/v1/payment_methods/pm_missing/detach",
            Some(&key),
            &json!({}),
        )
        .await;
    assert_error(&response, StatusCode::NOT_FOUND, "resource_missing", None);

    // Sessions: saving needs a customer, and the customer must exist.
    let response = gw
        .post_json(
            "/v1/sessions",
            Some(&key),
            &json!({"amount": 100, "currency": "brl", "save_payment_method": true}),
        )
        .await;
    assert_error(
        &response,
        StatusCode::BAD_REQUEST,
        "customer_required",
        Some("customer"),
    );
    let response = gw
        .post_json(
            "/v1/sessions",
            Some(&key),
            &json!({"amount": 100, "currency": "brl", "customer": "cus_000000000000000000000000"}),
        )
        .await;
    assert_error(
        &response,
        StatusCode::NOT_FOUND,
        "resource_missing",
        Some("customer"),
    );

    assert_eq!(gw.count("customers").await, customers_before);
    assert_eq!(
        gw.count("audit_log").await,
        audit_before,
        "refused requests are not audited"
    );
    assert_eq!(gw.count("sessions").await, 0);
    let (_, unchanged) = gw.get(&format!("/v1/customers/{id}"), Some(&key)).await;
    assert_eq!(unchanged["name"], NAME);
    assert_eq!(unchanged["email"], EMAIL);
}

#[tokio::test]
async fn charging_a_saved_card_refuses_bad_input() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let customer = create_customer(&gw, &key, &json!({"name": "Ana"})).await;
    let (status, confirmed) = pay_and_save(&gw, &key, &customer, common::PAN).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let pm = confirmed["payment"]["payment_method_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = create_customer(&gw, &key, &json!({"name": "Bia"})).await;
    let payments_before = gw.count("payments").await;

    let base =
        json!({"amount": 500, "currency": "brl", "customer": customer, "payment_method": pm});
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    let cases = [
        (
            with("amount", json!(0)),
            StatusCode::BAD_REQUEST,
            "invalid_amount",
            Some("amount"),
        ),
        (
            with("amount", json!(-5)),
            StatusCode::BAD_REQUEST,
            "invalid_amount",
            Some("amount"),
        ),
        (
            with("currency", json!("reais")),
            StatusCode::BAD_REQUEST,
            "invalid_currency",
            Some("currency"),
        ),
        (
            with("capture_method", json!("later")),
            StatusCode::BAD_REQUEST,
            "invalid_capture",
            Some("capture_method"),
        ),
        (
            with("reference", json!("r".repeat(201))),
            StatusCode::BAD_REQUEST,
            "invalid_reference",
            Some("reference"),
        ),
        (
            with("reference", json!("card 4242424242424242")),
            StatusCode::BAD_REQUEST,
            "reference_contains_card_number",
            Some("reference"),
        ),
        (
            with("customer", json!("cus_000000000000000000000000")),
            StatusCode::NOT_FOUND,
            "resource_missing",
            Some("customer"),
        ),
        (
            with("customer", json!(other)),
            StatusCode::NOT_FOUND,
            "resource_missing",
            Some("payment_method"),
        ),
        (
            with("payment_method", json!("pm_missing")),
            StatusCode::NOT_FOUND,
            "resource_missing",
            Some("payment_method"),
        ),
        (
            with("cvc", json!("123")),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            None,
        ),
        (
            json!({"amount": 500, "currency": "brl", "customer": customer}),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            None,
        ),
    ];
    for (body, status, code, param) in cases {
        let response = gw.post_json("/v1/payments", Some(&key), &body).await;
        assert_error(&response, status, code, param);
        common::assert_no_pan(&response.1.to_string());
    }
    let stranger = gw.merchant("Other", &[SHOP]).await;
    let response = gw.post_json("/v1/payments", Some(&stranger), &base).await;
    assert_error(
        &response,
        StatusCode::NOT_FOUND,
        "resource_missing",
        Some("customer"),
    );
    assert_eq!(
        gw.count("payments").await,
        payments_before,
        "nothing charged"
    );

    // Manual capture through the same state machine; the Idempotency-Key holds.
    let manual = with("capture_method", json!("manual"));
    let (status, first) = gw
        .post_json_idempotent("/v1/payments", &key, "charge-1", &manual)
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["status"], "authorized");
    let (status, replay) = gw
        .post_json_idempotent("/v1/payments", &key, "charge-1", &manual)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replay["id"], first["id"]);
    assert_eq!(gw.count("payments").await, payments_before + 1);
    let id = first["id"].as_str().unwrap();
    let (status, captured) = gw
        .post_json(
            &format!("/v1/payments/{id}/capture"),
            Some(&key),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{captured}");
    assert_eq!(captured["status"], "captured");

    // Detached: refused, and detaching again answers the same.
    let (status, detached) = gw
        .post_json(
            &format!("/v1/payment_methods/{pm}/detach"),
            Some(&key),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detached}");
    assert_eq!(detached["status"], "detached");
    let (status, again) = gw
        .post_json(
            &format!("/v1/payment_methods/{pm}/detach"),
            Some(&key),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["detached_at"], detached["detached_at"]);
    let response = gw.post_json("/v1/payments", Some(&key), &base).await;
    assert_error(
        &response,
        StatusCode::BAD_REQUEST,
        "payment_method_unusable",
        Some("payment_method"),
    );
    let response = gw
        .post_json(
            &format!("/v1/payment_methods/{pm}/detach"),
            Some(&stranger),
            &json!({}),
        )
        .await;
    assert_error(&response, StatusCode::NOT_FOUND, "resource_missing", None);
}

#[tokio::test]
async fn the_same_card_is_saved_once_and_a_declined_card_not_at_all() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let customer = create_customer(&gw, &key, &json!({"email": "ana@example.com"})).await;
    let (_, first) = pay_and_save(&gw, &key, &customer, common::PAN).await;
    let (_, second) = pay_and_save(&gw, &key, &customer, common::PAN).await;
    let pm = first["payment"]["payment_method_id"].as_str().unwrap();
    assert_eq!(
        second["payment"]["payment_method_id"], pm,
        "recognised by fingerprint"
    );
    let (status, declined) = pay_and_save(&gw, &key, &customer, DECLINED).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{declined}");
    // Newest first is by time; ties (the same second) are ordered by id.
    gw.set_now(common::NOW + 60);
    let (_, mastercard) = pay_and_save(&gw, &key, &customer, MASTERCARD).await;
    let methods = payment_methods(&gw, &key, &customer).await;
    let last4: Vec<&str> = methods
        .iter()
        .map(|m| m["card"]["last4"].as_str().unwrap())
        .collect();
    assert_eq!(last4, ["4444", "4242"], "newest first");
    assert_eq!(methods[0]["id"], mastercard["payment"]["payment_method_id"]);
    assert_ne!(
        methods[0]["card"]["fingerprint"],
        methods[1]["card"]["fingerprint"]
    );

    // The same card for another customer is that customer's own payment method.
    let other = create_customer(&gw, &key, &json!({})).await;
    let (_, theirs) = pay_and_save(&gw, &key, &other, common::PAN).await;
    assert_ne!(theirs["payment"]["payment_method_id"], pm);

    // Without save_payment_method the card is not saved, even with a customer.
    let body = json!({"amount": 1999, "currency": "brl", "customer": other});
    let (_, session) = gw.post_json("/v1/sessions", Some(&key), &body).await;
    let checkout = common::Checkout::of(&session);
    let (status, paid) = gw.pay(&checkout, MASTERCARD).await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert!(paid["payment"]["payment_method_id"].is_null());
    assert_eq!(paid["payment"]["customer"], other);
    assert_eq!(payment_methods(&gw, &key, &other).await.len(), 1);
}

#[tokio::test]
async fn history_is_newest_first_and_paginated() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let customer = create_customer(&gw, &key, &json!({})).await;
    let (_, saved) = pay_and_save(&gw, &key, &customer, common::PAN).await;
    let pm = saved["payment"]["payment_method_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut expected = vec![saved["payment"]["id"].as_str().unwrap().to_owned()];
    for n in 1..=3 {
        gw.set_now(common::NOW + n * 10);
        let (status, charged) = charge(&gw, &key, &customer, &pm, 100 * n).await;
        assert_eq!(status, StatusCode::OK, "{charged}");
        let id = charged["id"].as_str().unwrap().to_owned();
        expected.push(id.clone());
        gw.set_now(common::NOW + n * 10 + 5);
        let (status, refund) = gw
            .post_json(
                &format!("/v1/payments/{id}/refunds"),
                Some(&key),
                &json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{refund}");
        expected.push(refund["id"].as_str().unwrap().to_owned());
    }
    expected.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/customers/{customer}/transactions?limit=3&starting_after={c}"),
            None => format!("/v1/customers/{customer}/transactions?limit=3"),
        };
        let (status, page) = gw.get(&path, Some(&key)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for line in page["data"].as_array().unwrap() {
            assert_eq!(line["object"], "customer_transaction");
            seen.push(line["id"].as_str().unwrap().to_owned());
        }
        if page["has_more"] != true {
            break;
        }
        cursor = seen.last().cloned();
    }
    assert_eq!(seen, expected);
    // Another customer's history is empty.
    let other = create_customer(&gw, &key, &json!({})).await;
    let (_, page) = gw
        .get(&format!("/v1/customers/{other}/transactions"), Some(&key))
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn the_audit_log_records_who_did_what_without_card_data_and_is_append_only() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let customer = create_customer(&gw, &key, &profile()).await;
    gw.post_json(
        &format!("/v1/customers/{customer}"),
        Some(&key),
        &json!({"name": "Ana S."}),
    )
    .await;
    let (_, saved) = pay_and_save(&gw, &key, &customer, common::PAN).await;
    let pm = saved["payment"]["payment_method_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, charged) = charge(&gw, &key, &customer, &pm, 700).await;
    let id = charged["id"].as_str().unwrap();
    gw.post_json(
        &format!("/v1/payments/{id}/refunds"),
        Some(&key),
        &json!({"amount": 100}),
    )
    .await;
    gw.get(&format!("/v1/customers/{customer}/export"), Some(&key))
        .await;
    gw.post_json(
        &format!("/v1/payment_methods/{pm}/detach"),
        Some(&key),
        &json!({}),
    )
    .await;
    gw.call(common_delete(&format!("/v1/customers/{customer}"), &key))
        .await;

    let log = audit_actions(&gw, &key).await;
    let actions: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "customer.erased",
            "payment_method.detached",
            "customer.exported",
            "payment.refunded",
            "payment.created",
            "payment_method.attached",
            "payment.created",
            "customer.updated",
            "customer.created",
            "merchant.created",
        ],
        "newest first"
    );
    let by = |action: &str| log.iter().find(|e| e["action"] == action).unwrap();
    assert_eq!(by("merchant.created")["actor"], "cli");
    assert!(by("merchant.created")["request_id"].is_null());
    assert!(
        by("customer.created")["actor"]
            .as_str()
            .unwrap()
            .starts_with("api_key:key_")
    );
    assert!(
        by("customer.created")["request_id"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
    assert_eq!(by("customer.updated")["details"]["fields"], json!(["name"]));
    assert_eq!(by("payment_method.attached")["actor"], "frame");
    assert_eq!(by("payment_method.attached")["object_id"], pm);
    assert_eq!(by("payment.refunded")["object_id"], id);
    for entry in &log {
        assert_eq!(entry["object"], "audit_entry");
        if entry["action"] != "merchant.created" {
            assert_eq!(entry["customer"], customer, "{entry}");
        }
    }
    // Never card data, and never the values of personal fields.
    let text = serde_json::to_string(&log).unwrap();
    common::assert_no_pan(&text);
    let text = without_ids(&text);
    for value in ["4242", "\"123\"", NAME, EMAIL, LINE1, "Ana S."] {
        assert!(!text.contains(value), "{value} in the audit log: {text}");
    }

    // Pagination.
    let (_, page) = gw.get("/v1/audit_log?limit=4", Some(&key)).await;
    assert_eq!(page["has_more"], true);
    let last = page["data"][3]["id"].as_str().unwrap();
    let (_, next) = gw
        .get(
            &format!("/v1/audit_log?limit=100&starting_after={last}"),
            Some(&key),
        )
        .await;
    assert_eq!(next["data"].as_array().unwrap().len(), log.len() - 4);
    assert_eq!(next["data"][0]["id"], log[4]["id"]);

    // Another merchant sees only its own.
    let stranger = gw.merchant("Other", &[SHOP]).await;
    let theirs = audit_actions(&gw, &stranger).await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0]["action"], "merchant.created");

    // The database refuses to change or remove entries.
    let pool = gw.raw_pool().await;
    for sql in [
        "UPDATE audit_log SET actor = 'someone'",
        "DELETE FROM audit_log",
    ] {
        assert!(
            sqlx::query(sql).execute(&pool).await.is_err(),
            "{sql} was allowed"
        );
    }
    pool.close().await;
    assert_eq!(audit_actions(&gw, &key).await.len(), log.len());
}

#[tokio::test]
async fn erasure_forgets_stored_idempotent_answers_that_repeat_the_customer() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let (status, created) = gw
        .post_json_idempotent("/v1/customers", &key, "create-ana", &profile())
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let other = gw
        .post_json_idempotent("/v1/customers", &key, "create-bia", &json!({"name": "Bia"}))
        .await;
    assert_eq!(other.0, StatusCode::OK);
    assert_eq!(gw.count("idempotency_keys").await, 2);
    let id = created["id"].as_str().unwrap();
    let (status, _) = gw
        .call(common_delete(&format!("/v1/customers/{id}"), &key))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        gw.count("idempotency_keys").await,
        1,
        "only Bia's answer is kept"
    );
}

#[tokio::test]
async fn the_master_key_still_rotates_after_cards_were_shredded() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let erased = create_customer(&gw, &key, &json!({})).await;
    let (_, shredded) = pay_and_save(&gw, &key, &erased, common::PAN).await;
    let kept = create_customer(&gw, &key, &json!({})).await;
    let (_, live) = pay_and_save(&gw, &key, &kept, MASTERCARD).await;
    let (status, _) = gw
        .call(common_delete(&format!("/v1/customers/{erased}"), &key))
        .await;
    assert_eq!(status, StatusCode::OK);

    let state = gw.state();
    let new = payframe_server::master_key::MasterKey::from_bytes([8; 32]);
    payframe_server::rotation::rotate_master(&state.store, &state.master, &new)
        .await
        .expect("rotation skips shredded cards");
    let vault =
        payframe_server::vault::Vault::load(&state.store, std::sync::Arc::new(new), gw.now())
            .await
            .unwrap();
    for (confirmed, opens) in [(&live, true), (&shredded, false)] {
        let token = confirmed["token"].as_str().unwrap();
        let (ct, wrapped) = state.store.card_secret(token).await.unwrap().unwrap();
        let revealed = vault.reveal(&ct, &wrapped);
        assert_eq!(revealed.is_ok(), opens, "{token}");
        if let Ok(pan) = revealed {
            assert_eq!(pan.last4(), "4444");
        }
    }
}

#[tokio::test]
async fn the_same_card_saved_by_two_checkouts_at_once_is_one_payment_method() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let customer = create_customer(&gw, &key, &json!({})).await;
    let (a, b) = tokio::join!(
        pay_and_save(&gw, &key, &customer, common::PAN),
        pay_and_save(&gw, &key, &customer, common::PAN),
    );
    assert_eq!(a.0, StatusCode::OK, "{}", a.1);
    assert_eq!(b.0, StatusCode::OK, "{}", b.1);
    assert_eq!(
        a.1["payment"]["payment_method_id"],
        b.1["payment"]["payment_method_id"]
    );
    assert_eq!(payment_methods(&gw, &key, &customer).await.len(), 1);
}
