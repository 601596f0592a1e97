//! `GET /metrics`: what an operator's Prometheus scrapes after real traffic — requests by
//! route template (never an id or a raw path), authorizations by outcome and decline code,
//! the webhook backlog and how overdue it is, the SQLite writer's counters — the optional
//! bearer token, and the shipped alert rules (`ops/prometheus`), unit-tested with promtool
//! and checked to name only metrics the gateway exports.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{Gateway, PAN, assert_error, assert_no_pan};
use payframe_server::metrics::MetricsToken;
use payframe_server::store::Backend;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const SHOP: &str = "https://shop.example";

async fn scrape(gw: &Gateway, token: Option<&str>) -> (StatusCode, String, Option<String>) {
    let mut request = Request::builder().method(Method::GET).uri("/metrics");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = gw.send(request.body(Body::empty()).unwrap()).await;
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap().to_owned());
    let status = response.status();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        String::from_utf8(bytes.to_vec()).unwrap(),
        content_type,
    )
}

/// The value of the sample `series` (name and labels exactly as exposed), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}

#[tokio::test]
async fn traffic_shows_in_the_metrics_by_route_template_outcome_and_decline_code() {
    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let (status, _) = gw
        .post_json(
            "/v1/webhook_endpoints",
            Some(&key),
            &json!({"url": "https://shop.example/hooks", "enabled_events": []}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let approved = gw.create_session(&key).await;
    let (status, paid) = gw.pay(&approved, PAN).await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    let declined = gw.create_session(&key).await;
    let (status, _) = gw.pay(&declined, "4000000000009995").await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    let payment = paid["payment"]["id"].as_str().unwrap();
    let (status, _) = gw.get(&format!("/v1/payments/{payment}"), Some(&key)).await;
    assert_eq!(status, StatusCode::OK);
    // A path no route matches, with a card number in it.
    let (status, _) = gw.get(&format!("/v1/cards/{PAN}"), Some(&key)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Nothing delivers webhooks in this test: the events wait, and fall behind their
    // schedule as the clock moves.
    gw.set_now(gw.now() + 600);
    let (status, text, content_type) = scrape(&gw, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        content_type.as_deref(),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(text.ends_with("# EOF\n"), "{text}");

    let confirm = r#"route="/v1/frame/sessions/{id}/confirm""#;
    for (series, want) in [
        (
            format!(r#"payframe_http_requests_total{{method="POST",{confirm},status="200"}}"#),
            1.0,
        ),
        (
            format!(r#"payframe_http_requests_total{{method="POST",{confirm},status="402"}}"#),
            1.0,
        ),
        (
            r#"payframe_http_requests_total{method="GET",route="/v1/payments/{id}",status="200"}"#
                .to_owned(),
            1.0,
        ),
        (
            r#"payframe_http_requests_total{method="GET",route="unmatched",status="404"}"#
                .to_owned(),
            1.0,
        ),
        (
            format!(r#"payframe_http_request_duration_seconds_count{{method="POST",{confirm}}}"#),
            2.0,
        ),
        (
            r#"payframe_authorizations_total{mode="test",outcome="approved",decline_code=""}"#
                .to_owned(),
            1.0,
        ),
        (
            r#"payframe_authorizations_total{mode="test",outcome="declined",decline_code="insufficient_funds"}"#
                .to_owned(),
            1.0,
        ),
        // payment.authorized, payment.captured and payment.failed, to one endpoint.
        ("payframe_webhook_backlog".to_owned(), 3.0),
        ("payframe_webhook_overdue_seconds".to_owned(), 600.0),
        ("payframe_database_up".to_owned(), 1.0),
    ] {
        assert_eq!(sample(&text, &series), Some(want), "{series} in\n{text}");
    }
    // Ids and raw paths never become labels, and a card number in a path never shows.
    assert!(!text.contains(payment), "{text}");
    assert!(!text.contains(&approved.id), "{text}");
    assert_no_pan(&text);

    if payframe_server::testing::backend() == Backend::Sqlite {
        // Each confirm is a claim and a payment save through the writer thread.
        let writes = sample(&text, "payframe_sqlite_writer_writes_total").unwrap();
        let commits = sample(&text, "payframe_sqlite_writer_commits_total").unwrap();
        let busy = sample(&text, "payframe_sqlite_writer_busy_seconds_total").unwrap();
        assert!(
            writes >= 4.0 && commits >= 1.0 && commits <= writes,
            "{text}"
        );
        assert!(busy > 0.0, "{text}");
    } else {
        assert!(!text.contains("payframe_sqlite_writer"), "{text}");
    }
}

#[tokio::test]
async fn with_a_metrics_token_only_a_scraper_that_sends_it_gets_the_metrics() {
    let gw = Gateway::start_with(|settings| {
        settings.metrics_token = MetricsToken::new("scrape-me-7f3a".to_owned());
    })
    .await;
    for token in [
        None,
        Some("wrong-token-7f3"),
        Some("scrape-me-7f3a-and-more"),
    ] {
        let (status, text, _) = scrape(&gw, token).await;
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_error(
            &(status, body.clone()),
            StatusCode::UNAUTHORIZED,
            "invalid_metrics_token",
            None,
        );
        assert_eq!(body["error"]["type"], "authentication_error");
    }
    let (status, text, _) = scrape(&gw, Some("scrape-me-7f3a")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("payframe_http_requests_total"), "{text}");
    assert!(MetricsToken::new(String::new()).is_none());
    assert_eq!(
        format!("{:?}", MetricsToken::new("secret".into()).unwrap()),
        "MetricsToken(<redacted>)"
    );
}

fn ops_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ops/prometheus")
}

/// `promtool test rules`: each alert fires on the situation it is for, and not before.
#[test]
fn the_alert_rules_pass_their_unit_tests() {
    let promtool = std::env::var("PAYFRAME_PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let output = std::process::Command::new(&promtool)
        .args(["test", "rules", "alerts.test.yml"])
        .current_dir(ops_dir())
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run {promtool} ({err}): scripts/test.sh installs it; or set PAYFRAME_PROMTOOL"
            )
        });
    assert!(
        output.status.success(),
        "promtool test rules failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A rule on a metric the gateway does not export would never fire.
#[tokio::test]
async fn the_alert_rules_name_only_metrics_the_gateway_exports() {
    let rules = std::fs::read_to_string(ops_dir().join("alerts.yml")).unwrap();
    let named: BTreeSet<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("payframe_"))
        .collect();
    assert!(named.len() >= 4, "{named:?}");

    let gw = Gateway::start().await;
    let key = gw.merchant("Shop", &[SHOP]).await;
    let checkout = gw.create_session(&key).await;
    let (status, _) = gw.pay(&checkout, PAN).await;
    assert_eq!(status, StatusCode::OK);
    let (_, text, _) = scrape(&gw, None).await;
    for name in named {
        if name.starts_with("payframe_sqlite_")
            && payframe_server::testing::backend() != Backend::Sqlite
        {
            continue;
        }
        assert!(
            text.lines().any(|line| line.starts_with(name)),
            "alerts.yml uses {name}, which /metrics does not export:\n{text}"
        );
    }
}
