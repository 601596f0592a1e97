//! `demo-shop`: runs the demo merchant on its own origin (default http://127.0.0.1:3000).

use anyhow::Context;
use std::io::IsTerminal;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Colours only at a terminal, where the default also honours NO_COLOR (`with_ansi(true)`
    // would override it): `scripts/run.sh` piped to a file, or a log collector, would get
    // the escape codes as text.
    let log = tracing_subscriber::fmt().with_target(false);
    if std::io::stdout().is_terminal() {
        log.init();
    } else {
        log.with_ansi(false).init();
    }
    let listen = std::env::var("DEMO_SHOP_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let config = demo_shop::ShopConfig {
        gateway_url: std::env::var("PAYFRAME_URL")
            .unwrap_or_else(|_| "http://127.0.0.1:8080".into()),
        secret_key: std::env::var("DEMO_SHOP_SECRET_KEY")
            .context("DEMO_SHOP_SECRET_KEY is not set")?,
    };
    // Optional so the shop still runs without it, but then every webhook is refused and no
    // order becomes paid.
    let webhook_secret = std::env::var("DEMO_SHOP_WEBHOOK_SECRET").ok();
    if webhook_secret.is_none() {
        tracing::warn!("DEMO_SHOP_WEBHOOK_SECRET is not set: webhooks will be refused");
    }
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    tracing::info!(%listen, gateway = %config.gateway_url, "demo shop listening");
    axum::serve(
        listener,
        demo_shop::app_with_webhooks(config, webhook_secret),
    )
    .await?;
    Ok(())
}
