//! Leak test (DESIGN.md, "Card data protection"): card numbers and security codes never
//! reach a log line, an HTTP response, a panic message or a database file in the clear.
//!
//! It drives the real router end to end with two distinctive cards — every log event and
//! span of every target captured at TRACE level, every panic message recorded — through
//! merchant and session creation, the frame's view, approved confirms (card tokenized) and
//! every kind of refused confirm the gateway knows: envelopes replayed into another session,
//! tampered, sealed to an unknown key, malformed, stale or from the future; invalid numbers,
//! expired cards, wrong CVC lengths; a second confirm; a wrong client secret; an expired or
//! unknown session; and bodies that carry the card in clear (oversized, malformed, unknown
//! fields, the number where the envelope belongs, form-encoded, the number as the client
//! secret or in the URL path as the session id). Declines by the issuer are not covered
//! yet: confirms do not authorize payments so far; add them here when they do.
//!
//! The customer flows (issue #8) run too: a card saved for a customer by a checkout (twice,
//! deduplicated), charged again by the merchant without a CVC (the vault reveals the number
//! inside the server), refunded, the history, the export, the erasure (crypto-shredding),
//! the export after it, a refused charge of the erased payment method, the audit log, and a
//! customer whose name and metadata carry the card number (refused).
//!
//! It then reads every file of the data directory twice — `payframe.db`, its WAL and its
//! shared-memory index while the gateway's pool is still open, and `payframe.db` again
//! after a checkpoint has moved every page into it — and searches those bytes, the logs,
//! the responses (status, headers, bodies) and the panic messages for each card's number
//! (plain, with spaces, with dashes), its middle digits and its CVC (see
//! `leak_support/search.rs` for the exact rules). One hit fails the test.

mod common;
mod leak_support;

use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Checkout, NOW, assert_error_shape, card, sealed};
use leak_support::capture;
use leak_support::harness::{DB_FILE, Gateway, Reply, confirm_path};
use leak_support::search::{Hit, Needles, TestCard, group};
use payframe_core::Envelope;
use payframe_core::api::EncryptionKey;
use serde_json::json;

/// A Visa test number whose BIN (400005) and last four (5556) do not make its middle
/// digits (665566), unlike 4242…4242.
const VISA: TestCard = TestCard {
    label: "Visa",
    number: "4000056655665556",
    cvc: "846",
};

/// An Amex test number (4-digit CVC); middle digits 63539.
const AMEX: TestCard = TestCard {
    label: "Amex",
    number: "371449635398431",
    cvc: "7319",
};

/// The Visa number with its last digit changed: fails the Luhn check.
const VISA_BAD_LUHN: &str = "4000056655665557";

/// A valid expiry, and one already past at `NOW` (2026-11).
const EXP: (u32, u32) = (12, 2030);
const EXPIRED: (u32, u32) = (10, 2026);

#[tokio::test]
async fn card_data_never_reaches_logs_responses_panics_or_the_database() {
    let capture = capture::install();
    tracing::trace!(target: "leak_test", "capture probe: TRACE events are recorded");
    let mut gateway = Gateway::start().await;
    let merchant_key = gateway.merchant().await;

    approved_confirms(&mut gateway, &merchant_key).await;
    refused_envelopes(&mut gateway, &merchant_key).await;
    refused_cards(&mut gateway, &merchant_key).await;
    refused_sessions(&mut gateway, &merchant_key).await;
    card_data_in_clear(&mut gateway, &merchant_key).await;
    customer_flows(&mut gateway, &merchant_key).await;

    // The panic hook records messages (this one is caught; its output stays captured).
    let probe = std::panic::catch_unwind(|| panic!("leak test: panic capture probe"));
    assert!(probe.is_err());

    // The database files while the pool is open (WAL not yet checkpointed), then the main
    // file once every WAL page has been copied into it.
    let live = gateway.data_files();
    let wal = live
        .iter()
        .find(|f| f.name == format!("{DB_FILE}-wal"))
        .expect("the gateway's database runs in WAL mode");
    assert!(!wal.bytes.is_empty(), "the WAL is empty: nothing to search");
    gateway.checkpoint().await;
    let checkpointed = gateway.data_files();
    let db = checkpointed
        .iter()
        .find(|f| f.name == DB_FILE)
        .expect("the database file");

    let logs = capture.logs();
    let panics = capture.panics();
    let (responses, response_count) = gateway.transcript();

    // The capture is not vacuous: it saw what the flows must have produced.
    let logs_text = String::from_utf8_lossy(&logs);
    assert_eq!(
        logs_text.matches("card tokenized").count(),
        4,
        "{logs_text}"
    );
    assert!(logs_text.contains("TRACE leak_test: capture probe"));
    assert!(
        logs_text.contains("DEBUG sqlx::query"),
        "library debug logs"
    );
    assert!(String::from_utf8_lossy(responses).contains("\"token\":\"tok_"));
    assert!(logs_text.contains("saved payment method charged"));
    assert!(logs_text.contains("customer erased"));
    assert!(String::from_utf8_lossy(&panics).contains("panic capture probe"));
    for allowed in [VISA.bin(), VISA.last4(), AMEX.bin(), AMEX.last4()] {
        assert!(
            contains(&db.bytes, allowed),
            "the vaulted cards' BIN and last four are in the database"
        );
    }

    let needles = Needles::for_cards(&[VISA, AMEX]).number("Visa, Luhn-invalid", VISA_BAD_LUHN);
    let mut hits: Vec<Hit> = Vec::new();
    hits.extend(needles.find("the logs", &logs));
    hits.extend(needles.find("the panic messages", &panics));
    hits.extend(needles.find("the HTTP responses", responses));
    for file in &live {
        hits.extend(needles.find(&format!("{} (pool open)", file.name), &file.bytes));
    }
    for file in &checkpointed {
        let source = format!("{} (after checkpoint)", file.name);
        hits.extend(needles.find(&source, &file.bytes));
    }

    let db_bytes: usize = live
        .iter()
        .chain(&checkpointed)
        .map(|f| f.bytes.len())
        .sum();
    println!(
        "searched {} bytes of logs ({} lines), {} bytes of {response_count} responses, {} bytes \
         of panic messages, {db_bytes} bytes of database files ({})",
        logs.len(),
        logs_text.lines().count(),
        responses.len(),
        panics.len(),
        live.iter()
            .chain(&checkpointed)
            .map(|f| format!("{} {}", f.name, f.bytes.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(
        hits.is_empty(),
        "card data leaked ({} hits):\n{}",
        hits.len(),
        hits.iter()
            .map(Hit::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The search itself: it finds what it must and ignores what it may.
#[test]
fn the_search_finds_card_data_and_nothing_else() {
    let needles = Needles::for_cards(&[VISA, AMEX]).number("Visa, Luhn-invalid", VISA_BAD_LUHN);
    let labels = |text: &str| -> Vec<String> {
        needles
            .find("text", text.as_bytes())
            .into_iter()
            .map(|hit| hit.needle)
            .collect()
    };
    // Found: numbers plain and grouped, middle digits alone, standalone CVCs.
    for leak in [
        "pan=4000056655665556",
        "card 4000 0566 5566 5556 declined",
        "card 4000-0566-5566-5556 declined",
        "number: 3714 496353 98431",
        "masked 400005******5556 but middle 665566 shown",
        "middle=63539",
        "**** **66 5566 ****",
        "xxxx-xx6353-9xxxx",
        r#"{"cvc":"846"}"#,
        "cvc=7319 ok",
        "Cvc(846)",
        "846",
        "4000056655665557",
    ] {
        assert!(!labels(leak).is_empty(), "missed a leak in {leak:?}");
    }
    assert!(labels("x 4000056655665556 y").contains(&"Visa number (plain)".to_owned()));
    assert!(labels("x 4000056655665556 y").contains(&"Visa middle digits".to_owned()));
    assert_eq!(labels("cvc=846"), ["Visa CVC"]);
    assert_eq!(VISA.grouped_middle(" "), "66 5566");
    assert_eq!(AMEX.grouped_middle("-"), "6353-9");
    // Not card data: the BIN and last four (shown by design), CVC digits inside longer
    // digit runs, ids, hex or timings.
    for fine in [
        "bin=400005 last4=5556 brand=visa",
        "bin=371449 last4=8431 brand=amex",
        "4000055556 5556400005 3714498431 8431371449",
        "amount=18460 at=1795007319",
        "id=req_k846Tz token=tok_7319ab hash=0a846f",
        "latency_us=846 elapsed=7.319ms elapsed_secs=0.000846 time.busy=846µs time.idle=7319ns",
    ] {
        assert!(
            labels(fine).is_empty(),
            "false alarm in {fine:?}: {:?}",
            labels(fine)
        );
    }
    // A hit's context names the needle instead of printing it again.
    let hit = &needles.find("logs", b"a cvc=846 here")[0];
    assert_eq!(hit.offset, 6);
    assert_eq!(hit.context, "…a cvc=⟦Visa CVC⟧ here…");
}

/// Approved confirms (tokenize) with each card, typed plain and grouped, then a replay of
/// the approved envelope into its completed session.
async fn approved_confirms(gateway: &mut Gateway, merchant_key: &str) {
    for (typed, cvc) in [
        (VISA.number.to_owned(), VISA.cvc),
        (AMEX.grouped(" "), AMEX.cvc),
    ] {
        let (checkout, key) = gateway.open_checkout(merchant_key).await;
        let envelope = seal(&key, &checkout, &typed, EXP, cvc, gateway.now());
        let reply = gateway.confirm(&checkout, &envelope).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(
            reply.body["token"]
                .as_str()
                .is_some_and(|t| t.starts_with("tok_"))
        );

        let replay = gateway.confirm(&checkout, &envelope).await;
        expect_error("replay", &replay, StatusCode::CONFLICT, "session_completed");
    }
}

/// Envelopes that carry the Visa card but must not open, each on a fresh session.
async fn refused_envelopes(gateway: &mut Gateway, merchant_key: &str) {
    // Sealed for session A, posted to session B.
    let (a, a_key) = gateway.open_checkout(merchant_key).await;
    let (b, _) = gateway.open_checkout(merchant_key).await;
    let for_a = good_visa(gateway, &a_key, &a);
    let reply = gateway.confirm(&b, &for_a).await;
    expect_error(
        "another session",
        &reply,
        StatusCode::BAD_REQUEST,
        "envelope_invalid",
    );

    type Tamper = fn(&mut Envelope);
    let tampered: [(&str, Tamper, &str); 6] = [
        (
            "flipped bit in enc",
            |e| e.enc = flip_bit(&e.enc),
            "envelope_invalid",
        ),
        (
            "flipped bit in ct",
            |e| e.ct = flip_bit(&e.ct),
            "envelope_invalid",
        ),
        (
            "unknown kid",
            |e| e.kid = "kid_unknown".into(),
            "unknown_key",
        ),
        ("version 2", |e| e.v = 2, "unsupported_envelope_version"),
        (
            "ct not base64url",
            |e| e.ct = "not base64!".into(),
            "envelope_malformed",
        ),
        (
            "enc not base64url",
            |e| e.enc.insert(0, '*'),
            "envelope_malformed",
        ),
    ];
    for (case, tamper, code) in tampered {
        let (checkout, key) = gateway.open_checkout(merchant_key).await;
        let mut envelope = good_visa(gateway, &key, &checkout);
        tamper(&mut envelope);
        let reply = gateway.confirm(&checkout, &envelope).await;
        expect_error(case, &reply, StatusCode::BAD_REQUEST, code);
    }

    // Sealed more than 10 minutes ago, and sealed in the future (beyond clock skew).
    for (case, sealed_at) in [("stale", NOW - 601), ("from the future", NOW + 3600)] {
        let (checkout, key) = gateway.open_checkout(merchant_key).await;
        let envelope = seal(&key, &checkout, VISA.number, EXP, VISA.cvc, sealed_at);
        let reply = gateway.confirm(&checkout, &envelope).await;
        expect_error(case, &reply, StatusCode::BAD_REQUEST, "envelope_expired");
    }
}

/// Envelopes that open but hold a card the gateway refuses.
async fn refused_cards(gateway: &mut Gateway, merchant_key: &str) {
    let cases = [
        (
            "Luhn-invalid",
            group(VISA_BAD_LUHN, "-"),
            EXP,
            VISA.cvc,
            "invalid_number",
        ),
        (
            "expired",
            VISA.number.to_owned(),
            EXPIRED,
            VISA.cvc,
            "expired_card",
        ),
        (
            "Visa with a 4-digit CVC",
            VISA.number.to_owned(),
            EXP,
            AMEX.cvc,
            "invalid_cvc",
        ),
        (
            "Amex with a 3-digit CVC",
            AMEX.number.to_owned(),
            EXP,
            VISA.cvc,
            "invalid_cvc",
        ),
    ];
    for (case, typed, expiry, cvc, code) in cases {
        let (checkout, key) = gateway.open_checkout(merchant_key).await;
        let envelope = seal(&key, &checkout, &typed, expiry, cvc, gateway.now());
        let reply = gateway.confirm(&checkout, &envelope).await;
        expect_error(case, &reply, StatusCode::BAD_REQUEST, code);
    }
}

/// A good envelope with the wrong client secret, for an unknown session, for an expired one.
async fn refused_sessions(gateway: &mut Gateway, merchant_key: &str) {
    let (checkout, key) = gateway.open_checkout(merchant_key).await;
    let envelope = good_visa(gateway, &key, &checkout);
    let wrong_secret = format!("{}_secret_wrong", checkout.id);
    let reply = gateway
        .confirm_as(&checkout.id, &wrong_secret, &envelope)
        .await;
    expect_error(
        "wrong client secret",
        &reply,
        StatusCode::UNAUTHORIZED,
        "invalid_client_secret",
    );

    let unknown = "cs_000000000000000000000000";
    let reply = gateway
        .confirm_as(unknown, &checkout.client_secret, &envelope)
        .await;
    expect_error(
        "unknown session",
        &reply,
        StatusCode::NOT_FOUND,
        "resource_missing",
    );

    // Half an hour later the session has expired; the card is sealed at that time.
    gateway.set_now(NOW + 31 * 60);
    let envelope = good_visa(gateway, &key, &checkout);
    let reply = gateway.confirm(&checkout, &envelope).await;
    expect_error(
        "expired session",
        &reply,
        StatusCode::BAD_REQUEST,
        "session_expired",
    );
    gateway.set_now(NOW);
}

/// Requests carrying the card in clear where no card data belongs.
async fn card_data_in_clear(gateway: &mut Gateway, merchant_key: &str) {
    let (checkout, _) = gateway.open_checkout(merchant_key).await;
    let path = confirm_path(&checkout.id);
    let secret = &checkout.client_secret;
    let json_type = Some("application/json");
    let clear_card = json!({
        "client_secret": secret,
        "number": VISA.number,
        "exp_month": 12,
        "exp_year": 2030,
        "cvc": VISA.cvc,
    });

    let oversized = json!({
        "client_secret": secret,
        "envelope": {"v": 1, "kid": "k", "enc": "", "ct": ""},
        "padding": format!("{} {} ", VISA.number, VISA.cvc).repeat(1024),
    });
    let reply = gateway
        .post_raw(&path, None, json_type, oversized.to_string())
        .await;
    expect_error(
        "body over 16 KiB",
        &reply,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );

    let bodies = [
        (
            "the card unsealed, as unknown fields",
            clear_card.to_string(),
            "invalid_body",
        ),
        (
            "JSON cut off inside the envelope",
            format!(
                r#"{{"client_secret":"{secret}","envelope":{{"v":1,"kid":"k","enc":"{} {}"#,
                VISA.number, VISA.cvc
            ),
            "invalid_json",
        ),
        (
            "the number as the envelope",
            json!({"client_secret": secret, "envelope": VISA.number}).to_string(),
            "invalid_body",
        ),
        (
            "the number as a JSON number",
            format!(
                r#"{{"client_secret":"{secret}","envelope":{}}}"#,
                VISA.number
            ),
            "invalid_body",
        ),
        (
            "the grouped number and CVC inside the envelope",
            json!({
                "client_secret": secret,
                "envelope": {
                    "v": 1, "kid": "k", "enc": "", "ct": "",
                    "number": VISA.grouped(" "), "cvc": VISA.cvc,
                },
            })
            .to_string(),
            "invalid_body",
        ),
        (
            "the number as the client secret",
            json!({"client_secret": VISA.number, "envelope": VISA.cvc}).to_string(),
            "invalid_body",
        ),
    ];
    for (case, body, code) in bodies {
        let reply = gateway.post_raw(&path, None, json_type, body).await;
        expect_error(case, &reply, StatusCode::BAD_REQUEST, code);
    }

    let form = format!("number={}&cvc={}", VISA.number, VISA.cvc);
    let reply = gateway
        .post_raw(&path, None, Some("application/x-www-form-urlencoded"), form)
        .await;
    expect_error(
        "form-encoded card",
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_content_type",
    );

    // The number where the client secret goes, in the query string of the frame's view.
    let reply = gateway
        .get(&format!(
            "/v1/frame/sessions/{}?client_secret={}",
            checkout.id, VISA.number
        ))
        .await;
    expect_error(
        "number as client_secret",
        &reply,
        StatusCode::UNAUTHORIZED,
        "invalid_client_secret",
    );

    // The number in the URL path, where the session id goes.
    let reply = gateway
        .post_raw(
            &confirm_path(VISA.number),
            None,
            json_type,
            clear_card.to_string(),
        )
        .await;
    expect_error(
        "number as session id",
        &reply,
        StatusCode::BAD_REQUEST,
        "invalid_body",
    );
}

/// A customer's card saved by checkouts, charged, exported and erased.
async fn customer_flows(gateway: &mut Gateway, merchant_key: &str) {
    let json_type = Some("application/json");
    let profile =
        json!({"name": "Ana Souza", "email": "ana@example.com", "address": {"country": "BR"}});
    let created = gateway
        .post_raw(
            "/v1/customers",
            Some(merchant_key),
            json_type,
            profile.to_string(),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let customer = created.body["id"].as_str().expect("id").to_owned();

    // Saved twice with the same card: one payment method.
    let mut pm = String::new();
    for _ in 0..2 {
        let body = json!({"amount": 1999, "currency": "brl", "customer": customer, "save_payment_method": true});
        let (checkout, key) = gateway.open_checkout_with(merchant_key, body).await;
        let envelope = good_visa(gateway, &key, &checkout);
        let reply = gateway.confirm(&checkout, &envelope).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        pm = reply.body["payment"]["payment_method_id"]
            .as_str()
            .expect("saved")
            .to_owned();
    }
    let charge =
        json!({"amount": 4200, "currency": "brl", "customer": customer, "payment_method": pm});
    let charged = gateway
        .post_raw(
            "/v1/payments",
            Some(merchant_key),
            json_type,
            charge.to_string(),
        )
        .await;
    assert_eq!(charged.status, StatusCode::OK, "{}", charged.body);
    let payment = charged.body["id"].as_str().expect("id").to_owned();
    let refunded = gateway
        .post_raw(
            &format!("/v1/payments/{payment}/refunds"),
            Some(merchant_key),
            json_type,
            "{}",
        )
        .await;
    assert_eq!(refunded.status, StatusCode::OK, "{}", refunded.body);
    for path in [
        format!("/v1/customers/{customer}/payment_methods"),
        format!("/v1/customers/{customer}/transactions"),
        format!("/v1/customers/{customer}/export"),
    ] {
        let reply = gateway
            .merchant_call(Method::GET, &path, merchant_key)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    }
    let erased = gateway
        .merchant_call(
            Method::DELETE,
            &format!("/v1/customers/{customer}"),
            merchant_key,
        )
        .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
    let export = gateway
        .merchant_call(
            Method::GET,
            &format!("/v1/customers/{customer}/export"),
            merchant_key,
        )
        .await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    let refused = gateway
        .post_raw(
            "/v1/payments",
            Some(merchant_key),
            json_type,
            charge.to_string(),
        )
        .await;
    expect_error(
        "erased payment method",
        &refused,
        StatusCode::BAD_REQUEST,
        "payment_method_unusable",
    );
    let log = gateway
        .merchant_call(Method::GET, "/v1/audit_log?limit=100", merchant_key)
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);

    // The card number typed into profile fields is refused, never echoed.
    for body in [
        json!({"name": VISA.grouped(" ")}),
        json!({"metadata": {"card": VISA.number, "cvc": VISA.cvc}}),
        json!({"address": {"line1": format!("{} {}", VISA.grouped("-"), VISA.cvc)}}),
    ] {
        let reply = gateway
            .post_raw(
                "/v1/customers",
                Some(merchant_key),
                json_type,
                body.to_string(),
            )
            .await;
        expect_error(
            "card number in a profile",
            &reply,
            StatusCode::BAD_REQUEST,
            "contains_card_number",
        );
    }
}

/// Seals `number` (as typed) for `checkout` exactly as the frame does.
fn seal(
    key: &EncryptionKey,
    checkout: &Checkout,
    number: &str,
    (exp_month, exp_year): (u32, u32),
    cvc: &str,
    sealed_at: i64,
) -> Envelope {
    sealed(
        key,
        &checkout.id,
        &card(number, exp_month, exp_year, cvc, sealed_at),
    )
}

/// The Visa card, valid, sealed now for `checkout`.
fn good_visa(gateway: &Gateway, key: &EncryptionKey, checkout: &Checkout) -> Envelope {
    seal(key, checkout, VISA.number, EXP, VISA.cvc, gateway.now())
}

/// Flips one bit of a base64url field.
fn flip_bit(field: &str) -> String {
    let mut bytes = URL_SAFE_NO_PAD.decode(field).expect("base64url");
    bytes[3] ^= 1;
    URL_SAFE_NO_PAD.encode(bytes)
}

#[track_caller]
fn expect_error(case: &str, reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{case}: {}", reply.body);
    assert_error_shape(&reply.body);
    assert_eq!(reply.body["error"]["code"], code, "{case}: {}", reply.body);
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}
