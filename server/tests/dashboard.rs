//! The merchant dashboard as a merchant's browser sees it: signing in with a secret key,
//! the overview's figures after real payments, the payment list and a payment's history,
//! what another merchant or the other mode cannot see, how a session ends (sign-out,
//! idleness, a rolled key), and the page's protections (escaping, headers, cross-site
//! forms, sign-in rate limit). Runs on the test run's backend, like the other binaries.

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use common::{Gateway, NOW};
use http_body_util::BodyExt;
use serde_json::json;

const SHOP: &str = "https://shop.example";
const GATEWAY: &str = "http://gateway.test";

/// A response's status, headers and body text.
struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn send(gw: &Gateway, request: Request<Body>) -> Page {
    let response = gw.send(request).await;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Page {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).expect("UTF-8 page"),
    }
}

async fn get(gw: &Gateway, path: &str, cookie: Option<&str>) -> Page {
    let mut builder = Request::builder().method(Method::GET).uri(path);
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    send(gw, builder.body(Body::empty()).unwrap()).await
}

async fn post_form(
    gw: &Gateway,
    path: &str,
    form: &str,
    cookie: Option<&str>,
    origin: &str,
) -> Page {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, origin);
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    send(gw, builder.body(Body::from(form.to_owned())).unwrap()).await
}

fn form_key(key: &str) -> String {
    format!("api_key={}", key.replace('_', "%5F"))
}

/// Signs in with `key`; returns the `Cookie` header value the browser would send back.
async fn sign_in(gw: &Gateway, key: &str) -> String {
    let page = post_form(gw, "/dashboard/sign-in", &form_key(key), None, GATEWAY).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), "/dashboard");
    let set = page.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(set.contains(attribute), "{set}");
    }
    set.split(';').next().unwrap().to_owned()
}

/// Pays a fresh session of `amount` BRL with `number`; returns the payment's id.
async fn pay(gw: &Gateway, key: &str, amount: i64, capture: &str, number: &str) -> String {
    let body = json!({"amount": amount, "currency": "brl", "reference": "order-1",
                      "capture": capture});
    let (status, session) = gw.post_json("/v1/sessions", Some(key), &body).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let checkout = common::Checkout::of(&session);
    let (_, answer) = gw.pay(&checkout, number).await;
    answer["payment"]["id"]
        .as_str()
        .or(answer["error"]["payment"].as_str())
        .unwrap_or_else(|| panic!("a payment id in {answer}"))
        .to_owned()
}

/// The id of the merchant whose key is `key`.
async fn merchant_id(gw: &Gateway, key: &str) -> String {
    let hash = payframe_server::api::auth::hash_secret(key);
    let found = gw.state().store.merchant_by_key_hash(&hash).await.unwrap();
    found.expect("a current key").0.id
}

/// Gives the merchant of `key` a new key of the mode `livemode` (as `merchant roll-key`);
/// returns it.
async fn roll_key(gw: &Gateway, key: &str, livemode: bool) -> String {
    let merchant = merchant_id(gw, key).await;
    payframe_server::merchants::roll_key(&gw.state().store, &merchant, livemode, gw.now())
        .await
        .unwrap()
}

#[tokio::test]
async fn pages_need_a_session_and_the_sign_in_page_is_protected() {
    let gw = Gateway::start().await;
    for path in [
        "/dashboard",
        "/dashboard/payments",
        "/dashboard/payments/pay_x",
    ] {
        let page = get(&gw, path, None).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location(), "/dashboard/sign-in", "{path}");
    }
    let page = get(&gw, "/dashboard/sign-in", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("<form method=\"post\" action=\"/dashboard/sign-in\">")
    );
    assert!(page.body.contains("type=\"password\""));
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
    let css = get(&gw, "/dashboard/style.css", None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(
        css.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_a_right_one_signs_in_and_is_audited() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    for wrong in ["sk_test_nope", "pk_test_x", "", &key[..key.len() - 1]] {
        let page = post_form(&gw, "/dashboard/sign-in", &form_key(wrong), None, GATEWAY).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert!(page.body.contains("not recognised"), "{}", page.body);
        assert!(page.headers.get(header::SET_COOKIE).is_none());
    }
    // A form without the field at all is refused the same way.
    let page = post_form(&gw, "/dashboard/sign-in", "", None, GATEWAY).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
    assert_eq!(gw.count("dashboard_sessions").await, 0);
    let cookie = sign_in(&gw, &key).await;
    let page = get(&gw, "/dashboard", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Test data"));
    // The page does not show the key back.
    assert!(!page.body.contains(&key));
    // Signing in again from the same browser ends its previous session.
    let page = post_form(
        &gw,
        "/dashboard/sign-in",
        &form_key(&key),
        Some(&cookie),
        GATEWAY,
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(gw.count("dashboard_sessions").await, 1);
    assert_eq!(
        get(&gw, "/dashboard", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );
    let (_, log) = gw.get("/v1/audit_log", Some(&key)).await;
    let actions: Vec<&str> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"dashboard.signed_in"), "{log}");
}

#[tokio::test]
async fn the_overview_sums_this_merchants_payments_of_the_period() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let other = gw.merchant("Other", &[SHOP]).await;
    let captured = pay(&gw, &key, 12_345, "automatic", "4242424242424242").await;
    pay(&gw, &key, 5_000, "manual", "5555555555554444").await;
    pay(&gw, &key, 700, "automatic", "4000000000009995").await;
    pay(&gw, &key, 800, "automatic", "4000000000009995").await;
    pay(&gw, &key, 900, "automatic", "4000000000000002").await;
    pay(&gw, &other, 99_999, "automatic", "4242424242424242").await;
    let (status, refund) = gw
        .post_json(
            &format!("/v1/payments/{captured}/refunds"),
            Some(&key),
            &json!({"amount": 2_345}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refund}");

    let cookie = sign_in(&gw, &key).await;
    let page = get(&gw, "/dashboard", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    let body = &page.body;
    // Five payments; two of five answered were authorized.
    assert!(
        body.contains("<h2>Payments</h2><p class=\"figure\">5</p>"),
        "{body}"
    );
    assert!(
        body.contains("40.0 %") && body.contains("2 authorized of 5 answered"),
        "{body}"
    );
    assert!(body.contains("123.45 BRL"), "captured: {body}");
    assert!(
        body.contains("23.45 BRL") && body.contains("1 refund<"),
        "refunded: {body}"
    );
    // Declines by reason, most frequent first.
    let insufficient = body.find("<code>insufficient_funds</code></td><td class=\"num\">2</td>");
    let honor = body.find("<code>do_not_honor</code></td><td class=\"num\">1</td>");
    assert!(insufficient.is_some() && honor.is_some(), "{body}");
    assert!(insufficient < honor);
    assert!(body.contains("<a href=\"/dashboard/payments?status=failed\">Declined payments</a>"));
    assert!(body.contains("66.7 %") && body.contains("33.3 %"));
    // Today's row of the volume by day, and the other merchant's money nowhere.
    assert!(body.contains("<th scope=\"row\">2026-11-18</th><td class=\"num\">5</td><td class=\"num\">123.45 BRL</td>"), "{body}");
    assert!(!body.contains("999.99"), "{body}");
    assert!(body.contains(&format!("/dashboard/payments/{captured}")));

    // Forty days on, the default period (30 days) holds none of it; 90 days does.
    gw.set_now(NOW + 40 * 86_400);
    let cookie = sign_in(&gw, &key).await;
    let page = get(&gw, "/dashboard", Some(&cookie)).await;
    assert!(
        page.body
            .contains("<h2>Payments</h2><p class=\"figure\">0</p>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("No declined payments in this period."));
    // A period the dashboard does not offer shows the default one.
    let page = get(&gw, "/dashboard?days=abc", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("<a href=\"/dashboard?days=30\" aria-current=\"page\">")
    );
    let page = get(&gw, "/dashboard?days=90", Some(&cookie)).await;
    assert!(
        page.body
            .contains("<h2>Payments</h2><p class=\"figure\">5</p>"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_payment_shows_its_history_and_another_merchants_does_not_exist() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let other = gw.merchant("Other", &[SHOP]).await;
    let mine = pay(&gw, &key, 2_000, "manual", "4242424242424242").await;
    let (status, body) = gw
        .post_json(
            &format!("/v1/payments/{mine}/capture"),
            Some(&key),
            &json!({"amount": 1_500}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let theirs = pay(&gw, &other, 3_000, "automatic", "4242424242424242").await;

    let cookie = sign_in(&gw, &key).await;
    let page = get(&gw, &format!("/dashboard/payments/{mine}"), Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = &page.body;
    assert!(body.contains("visa •••• 4242, expires 12/2030"), "{body}");
    assert!(
        body.contains("<dt>Captured</dt><dd>15.00 BRL</dd>"),
        "{body}"
    );
    for change in ["processing → authorized", "authorized → captured"] {
        assert!(body.contains(change), "{change}: {body}");
    }
    assert!(
        body.contains("<code>frame</code>") && body.contains("<code>api_key:key_"),
        "{body}"
    );
    assert!(!body.contains("4242424242424242"));
    let merchant = merchant_id(&gw, &key).await;
    let record = gw.state().store.payment(&merchant, &mine).await;
    let record = record.unwrap().expect("the payment");
    let processor_reference = record.payment.processor_reference().expect("authorized");
    assert!(
        body.contains(&format!(
            "<dt>Processor reference</dt><dd><code>{processor_reference}</code>"
        )),
        "{body}"
    );

    let page = get(&gw, &format!("/dashboard/payments/{theirs}"), Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let list = get(&gw, "/dashboard/payments", Some(&cookie)).await;
    assert!(list.body.contains(&mine) && !list.body.contains(&theirs));
}

#[tokio::test]
async fn the_payment_list_pages_newest_first() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let mut ids = Vec::new();
    for i in 0..27 {
        gw.set_now(NOW + i);
        ids.push(pay(&gw, &key, 100 + i, "automatic", "4242424242424242").await);
    }
    let cookie = sign_in(&gw, &key).await;
    let first = get(&gw, "/dashboard/payments", Some(&cookie)).await;
    assert!(first.body.contains(&ids[26]) && first.body.contains(&ids[2]));
    assert!(!first.body.contains(&ids[1]));
    let older = format!("/dashboard/payments?starting_after={}", ids[2]);
    assert!(first.body.contains(&older), "{}", first.body);
    let second = get(&gw, &older, Some(&cookie)).await;
    assert!(second.body.contains(&ids[1]) && second.body.contains(&ids[0]));
    assert!(!second.body.contains(&ids[2]));
    assert!(!second.body.contains("starting_after="), "no third page");
}

#[tokio::test]
async fn a_session_ends_at_sign_out_when_idle_after_eight_hours_and_when_its_key_is_rolled() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;

    let cookie = sign_in(&gw, &key).await;
    let page = post_form(&gw, "/dashboard/sign-out", "", Some(&cookie), GATEWAY).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(
        page.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        get(&gw, "/dashboard", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );
    let (_, log) = gw.get("/v1/audit_log", Some(&key)).await;
    assert!(log.to_string().contains("dashboard.signed_out"), "{log}");

    // Used every 10 minutes it stays; 16 idle minutes end it.
    let cookie = sign_in(&gw, &key).await;
    for step in 1..=3 {
        gw.set_now(NOW + step * 600);
        assert_eq!(
            get(&gw, "/dashboard", Some(&cookie)).await.status,
            StatusCode::OK,
            "{step}"
        );
    }
    gw.set_now(NOW + 3 * 600 + 16 * 60);
    assert_eq!(
        get(&gw, "/dashboard", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );

    // However active, a session ends 8 hours after sign-in.
    let start = NOW + 3600;
    gw.set_now(start);
    let cookie = sign_in(&gw, &key).await;
    let mut at = start;
    while at + 600 <= start + 8 * 3600 {
        at += 600;
        gw.set_now(at);
        assert_eq!(
            get(&gw, "/dashboard", Some(&cookie)).await.status,
            StatusCode::OK
        );
    }
    gw.set_now(start + 8 * 3600 + 1);
    assert_eq!(
        get(&gw, "/dashboard", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );

    let cookie = sign_in(&gw, &key).await;
    roll_key(&gw, &key, false).await;
    assert_eq!(
        get(&gw, "/dashboard", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn forms_from_another_site_are_refused_and_sign_in_is_rate_limited() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    // Another site's form (its Origin), a sandboxed or stripped one (`null`), and what a
    // browser says of a cross-site request in Sec-Fetch-Site: none signs in.
    let refused: [&[(&str, &str)]; 4] = [
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        &[("sec-fetch-site", "cross-site"), ("origin", GATEWAY)],
        &[("sec-fetch-site", "same-site")],
    ];
    for headers in refused {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri("/dashboard/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Body::from(form_key(&key))).unwrap();
        let page = send(&gw, request).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(page.headers.get(header::SET_COOKIE).is_none());
    }
    assert_eq!(gw.count("dashboard_sessions").await, 0);

    let gw = Gateway::start_with(|s| {
        s.rate_limits.dashboard_sign_in_ip =
            payframe_server::api::rate_limit::Limit::per_minute(2, 2);
    })
    .await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    for _ in 0..2 {
        let page = post_form(
            &gw,
            "/dashboard/sign-in",
            "api_key=sk_test_guess",
            None,
            GATEWAY,
        )
        .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    // Even the right key waits now.
    let page = post_form(&gw, "/dashboard/sign-in", &form_key(&key), None, GATEWAY).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    assert!(page.headers.contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn merchant_data_is_escaped() {
    let gw = Gateway::start().await;
    let key = gw.merchant("<script>alert(1)</script> & Co", &[SHOP]).await;
    let cookie = sign_in(&gw, &key).await;
    let page = get(&gw, "/dashboard", Some(&cookie)).await;
    assert!(
        page.body
            .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<script>"));
}

#[tokio::test]
async fn a_live_key_sees_live_data_only() {
    let gw = Gateway::start().await;
    let test_key = gw.merchant("Shop", &[SHOP]).await;
    let test_payment = pay(&gw, &test_key, 1_000, "automatic", "4242424242424242").await;
    // The same merchant's live key: its dashboard is another mode's.
    let live_key = roll_key(&gw, &test_key, true).await;
    assert!(live_key.starts_with("sk_live_"));
    let cookie = sign_in(&gw, &live_key).await;
    let page = get(&gw, "/dashboard", Some(&cookie)).await;
    assert!(page.body.contains("Live data") && !page.body.contains("Test data"));
    assert!(
        page.body
            .contains("<h2>Payments</h2><p class=\"figure\">0</p>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(&test_payment));
    let detail = get(
        &gw,
        &format!("/dashboard/payments/{test_payment}"),
        Some(&cookie),
    )
    .await;
    assert_eq!(detail.status, StatusCode::NOT_FOUND);
    // The test key still sees it.
    let cookie = sign_in(&gw, &test_key).await;
    let detail = get(
        &gw,
        &format!("/dashboard/payments/{test_payment}"),
        Some(&cookie),
    )
    .await;
    assert_eq!(detail.status, StatusCode::OK);
}

#[tokio::test]
async fn the_payment_list_filters_by_status_and_pages_within_it() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let mut declined = Vec::new();
    let mut approved = Vec::new();
    for i in 0..27 {
        gw.set_now(NOW + 2 * i);
        declined.push(pay(&gw, &key, 100 + i, "automatic", "4000000000000002").await);
        gw.set_now(NOW + 2 * i + 1);
        approved.push(pay(&gw, &key, 100 + i, "automatic", "4242424242424242").await);
    }
    let cookie = sign_in(&gw, &key).await;
    let first = get(&gw, "/dashboard/payments?status=failed", Some(&cookie)).await;
    assert!(first.body.contains(&declined[26]) && first.body.contains(&declined[2]));
    assert!(
        !approved.iter().any(|id| first.body.contains(id)),
        "{}",
        first.body
    );
    assert!(
        first
            .body
            .contains("href=\"/dashboard/payments?status=failed\" aria-current=\"page\"")
    );
    let older = format!(
        "/dashboard/payments?status=failed&amp;starting_after={}",
        declined[2]
    );
    assert!(first.body.contains(&older), "{}", first.body);
    let second = get(&gw, &older.replace("&amp;", "&"), Some(&cookie)).await;
    assert!(second.body.contains(&declined[1]) && second.body.contains(&declined[0]));
    assert!(!approved.iter().any(|id| second.body.contains(id)));
    // An unknown status lists everything.
    let all = get(&gw, "/dashboard/payments?status=nonsense", Some(&cookie)).await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(all.body.contains(&approved[26]) && all.body.contains(&declined[26]));
}

#[tokio::test]
async fn the_refund_list_shows_this_merchants_refunds_newest_first() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let other = gw.merchant("Other", &[SHOP]).await;
    let refund = |key: String, payment: String, amount: i64| {
        let gw = &gw;
        async move {
            let (status, body) = gw
                .post_json(
                    &format!("/v1/payments/{payment}/refunds"),
                    Some(&key),
                    &json!({"amount": amount}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["id"].as_str().unwrap().to_owned()
        }
    };
    let payment = pay(&gw, &key, 5_000, "automatic", "4242424242424242").await;
    let first = refund(key.clone(), payment.clone(), 1_000).await;
    gw.set_now(NOW + 60);
    let second = refund(key.clone(), payment.clone(), 2_500).await;
    let theirs_payment = pay(&gw, &other, 7_000, "automatic", "4242424242424242").await;
    let theirs = refund(other.clone(), theirs_payment, 7_000).await;

    let cookie = sign_in(&gw, &key).await;
    let page = get(&gw, "/dashboard/refunds", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    let body = &page.body;
    assert!(body.contains("href=\"/dashboard/refunds\" aria-current=\"page\""));
    let (at_second, at_first) = (body.find(&second), body.find(&first));
    assert!(at_second.is_some() && at_first.is_some(), "{body}");
    assert!(at_second < at_first, "newest first");
    assert!(body.contains("25.00 BRL") && body.contains("10.00 BRL"));
    assert!(body.contains(&format!("/dashboard/payments/{payment}")));
    assert!(!body.contains(&theirs) && !body.contains("70.00 BRL"));
    // After the newest, the older one only.
    let page = get(
        &gw,
        &format!("/dashboard/refunds?starting_after={second}"),
        Some(&cookie),
    )
    .await;
    assert!(page.body.contains(&first) && !page.body.contains(&second));
}
