//! `payframe`: the gateway binary. `serve` runs it; `merchant create`, `webhooks create`,
//! `keys rotate` and `migrate` administer the same database with the same settings.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;
use payframe_server::api::rate_limit::{Limit, RateLimitSettings};
use payframe_server::master_key::MasterKey;
use payframe_server::metrics::MetricsToken;
use payframe_server::store::{PoolSettings, Store};
use payframe_server::{Settings, build_state, system_clock};
use std::path::PathBuf;
use std::time::Duration;

/// The gateway allocates per request (JSON, ids, rows): mimalloc's per-thread free lists
/// cost less than glibc's arenas on the confirm path (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "payframe", version, about = "Payframe payment gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Common {
    /// Directory for the SQLite database and the master key file.
    #[arg(long, env = "PAYFRAME_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Database URL, `sqlite://…` or `postgres://…`; default: SQLite in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Database connections this instance may hold (with several instances on one
    /// PostgreSQL, keep instances × this under the server's max_connections).
    #[arg(long, env = "PAYFRAME_DB_MAX_CONNECTIONS", default_value_t = 8)]
    db_max_connections: u32,
    /// PostgreSQL cancels statements (and lock waits) that run longer than this.
    #[arg(
        long,
        env = "PAYFRAME_DB_STATEMENT_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    db_statement_timeout_ms: u64,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "PAYFRAME_LOG_JSON")]
    log_json: bool,
}

/// Rate limits: `0` (or `off`) switches one off; otherwise `COUNT/UNIT[:BURST]`, UNIT `s`,
/// `m` or `h` (`20/m:10`: 20 a minute, 10 at once). Limits are per instance.
#[derive(Args, Clone)]
struct RateLimitArgs {
    /// Every `/v1/frame/…` request, per client IP.
    #[arg(long, env = "PAYFRAME_RATE_LIMIT_FRAME_IP", default_value = "120/m:60")]
    rate_limit_frame_ip: Limit,
    /// Confirms per client IP (card testing).
    #[arg(
        long,
        env = "PAYFRAME_RATE_LIMIT_CONFIRM_IP",
        default_value = "20/m:10"
    )]
    rate_limit_confirm_ip: Limit,
    /// Confirms per session.
    #[arg(
        long,
        env = "PAYFRAME_RATE_LIMIT_CONFIRM_SESSION",
        default_value = "10/m:5"
    )]
    rate_limit_confirm_session: Limit,
    /// Live-mode confirms per card (fingerprint), across all sessions and merchants.
    #[arg(long, env = "PAYFRAME_RATE_LIMIT_CARD", default_value = "10/h:10")]
    rate_limit_card: Limit,
    /// Merchant API requests per API key.
    #[arg(long, env = "PAYFRAME_RATE_LIMIT_API_KEY", default_value = "100/s:200")]
    rate_limit_api_key: Limit,
    /// Dashboard sign-in attempts per client IP.
    #[arg(
        long,
        env = "PAYFRAME_RATE_LIMIT_DASHBOARD_SIGN_IN",
        default_value = "10/m:10"
    )]
    rate_limit_dashboard_sign_in: Limit,
    /// A proxy or load balancer (IP or CIDR, repeatable; env: comma-separated) whose
    /// `X-Forwarded-For` names the client. Only for proxies you run: without this the
    /// header is ignored, since any client could send one to dodge its per-IP limits.
    #[arg(long = "trusted-proxy", env = "PAYFRAME_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    trusted_proxies: Vec<IpNet>,
}

/// `10.0.0.0/8`, or a single address.
fn parse_net(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is neither an IP address nor a CIDR"))
}

impl RateLimitArgs {
    fn settings(self) -> RateLimitSettings {
        RateLimitSettings {
            frame_ip: self.rate_limit_frame_ip,
            confirm_ip: self.rate_limit_confirm_ip,
            confirm_session: self.rate_limit_confirm_session,
            card_fingerprint: self.rate_limit_card,
            api_key: self.rate_limit_api_key,
            dashboard_sign_in_ip: self.rate_limit_dashboard_sign_in,
            trusted_proxies: self.trusted_proxies,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on.
        #[arg(long, env = "PAYFRAME_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// The origin the frame is served from (as shoppers' browsers reach it).
        #[arg(long, env = "PAYFRAME_PUBLIC_URL")]
        public_url: Option<String>,
        /// Trunk's release output.
        #[arg(long, env = "PAYFRAME_FRAME_DIR", default_value = "./dist")]
        frame_dir: PathBuf,
        /// Static files (embed.js).
        #[arg(long, env = "PAYFRAME_PUBLIC_DIR", default_value = "./public")]
        public_dir: PathBuf,
        /// How long a rotated-out encryption key still opens envelopes.
        #[arg(long, env = "PAYFRAME_KEY_GRACE_SECONDS", default_value_t = 24 * 60 * 60)]
        key_grace_seconds: i64,
        /// A shared test-mode processor (`payframe simulator`), so that several instances
        /// see the same authorizations; default: a simulator inside this process.
        #[arg(long, env = "PAYFRAME_TEST_PROCESSOR_URL")]
        test_processor_url: Option<String>,
        /// The processor service for live mode (https, or http to a loopback address only);
        /// without it, live payments are refused.
        #[arg(long, env = "PAYFRAME_LIVE_PROCESSOR_URL")]
        live_processor_url: Option<String>,
        /// A bearer token that `/metrics` requires (Prometheus' `authorization` setting);
        /// without it, `/metrics` answers whoever reaches the listen address.
        #[arg(long, env = "PAYFRAME_METRICS_TOKEN", hide_env_values = true)]
        metrics_token: Option<String>,
        /// Boxed: the serve variant would otherwise dwarf the others.
        #[command(flatten)]
        rate_limits: Box<RateLimitArgs>,
    },
    /// Run the card-network simulator as a service that several gateway instances share.
    Simulator {
        /// Address to listen on.
        #[arg(
            long,
            env = "PAYFRAME_SIMULATOR_LISTEN",
            default_value = "127.0.0.1:9090"
        )]
        listen: String,
        /// Added to every call, as a network round trip would.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Log as JSON lines instead of text.
        #[arg(long, env = "PAYFRAME_LOG_JSON")]
        log_json: bool,
    },
    /// Manage merchants.
    Merchant {
        #[command(subcommand)]
        command: MerchantCommand,
    },
    /// Manage merchants' webhook endpoints.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// Manage the frame's encryption keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum MerchantCommand {
    /// Create a merchant; prints its secret key and webhook secret once.
    Create {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        name: String,
        /// An origin allowed to embed the frame (repeatable), e.g. https://shop.example
        #[arg(long = "origin", required = true)]
        origins: Vec<String>,
        #[arg(long)]
        webhook_url: Option<String>,
        /// Create a live-mode key instead of a test-mode one.
        #[arg(long)]
        live: bool,
        /// Print `{"id","secret_key","webhook_secret"}`.
        #[arg(long)]
        json: bool,
    },
    /// Replace a merchant's secret key; the old one stops working at once.
    RollKey {
        #[command(flatten)]
        common: Common,
        /// The merchant's id (mer_…).
        #[arg(long)]
        merchant: String,
        /// Roll the live-mode key instead of the test-mode one.
        #[arg(long)]
        live: bool,
        /// Print `{"id","secret_key"}`.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// Add a webhook endpoint to a merchant; prints its signing secret once.
    Create {
        #[command(flatten)]
        common: Common,
        /// The merchant's id (mer_…).
        #[arg(long)]
        merchant: String,
        /// Where events are POSTed (http:// or https://; live mode: https:// to a public host).
        #[arg(long)]
        url: String,
        /// An event type to deliver (repeatable), e.g. payment.captured; default: all.
        #[arg(long = "event")]
        events: Vec<String>,
        /// A live-mode endpoint (live events) instead of a test-mode one.
        #[arg(long)]
        live: bool,
        /// Print `{"id","url","enabled_events","livemode","secret"}`.
        #[arg(long)]
        json: bool,
    },
    /// List a merchant's webhook endpoints of one mode.
    List {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        live: bool,
    },
    /// Delete a webhook endpoint; its pending deliveries are canceled.
    Delete {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        merchant: String,
        /// The endpoint's id (we_…).
        #[arg(long)]
        id: String,
        #[arg(long)]
        live: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new current encryption key; the previous one is accepted for the grace period.
    Rotate {
        #[command(flatten)]
        common: Common,
    },
    /// Re-wrap everything under a new master key, without decrypting any card number. With a
    /// key file, a new one replaces it; with PAYFRAME_MASTER_KEY, pass the new key in
    /// PAYFRAME_NEW_MASTER_KEY and switch the variable afterwards.
    RotateMaster {
        #[command(flatten)]
        common: Common,
    },
}

impl Common {
    fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("payframe.db").display()))
    }

    fn pool_settings(&self) -> PoolSettings {
        PoolSettings {
            max_connections: self.db_max_connections,
            statement_timeout: Duration::from_millis(self.db_statement_timeout_ms),
            ..PoolSettings::default()
        }
    }

    async fn store(&self) -> anyhow::Result<Store> {
        Ok(Store::connect_with(&self.database_url(), &self.pool_settings()).await?)
    }

    fn master_key(&self) -> anyhow::Result<MasterKey> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating data directory {}", self.data_dir.display()))?;
        let from_env = std::env::var("PAYFRAME_MASTER_KEY").ok();
        Ok(MasterKey::load(from_env.as_deref(), &self.data_dir)?)
    }

    async fn state(&self, mut settings: Settings) -> anyhow::Result<payframe_server::AppState> {
        settings.pool = self.pool_settings();
        build_state(
            &self.database_url(),
            self.master_key()?,
            settings,
            system_clock(),
        )
        .await
    }
}

fn admin_settings() -> Settings {
    Settings::new(String::new(), PathBuf::new(), PathBuf::new())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            common,
            listen,
            public_url,
            frame_dir,
            public_dir,
            key_grace_seconds,
            test_processor_url,
            live_processor_url,
            metrics_token,
            rate_limits,
        } => {
            payframe_server::telemetry::init(common.log_json);
            let public_url = public_url.unwrap_or_else(|| format!("http://{listen}"));
            let mut settings = Settings::new(public_url.clone(), frame_dir, public_dir);
            settings.key_grace_seconds = key_grace_seconds;
            settings.test_processor_url = test_processor_url;
            settings.live_processor_url = live_processor_url;
            settings.rate_limits = (*rate_limits).settings();
            settings.metrics_token = metrics_token.and_then(MetricsToken::new);
            let state = common.state(settings).await?;
            let background = payframe_server::spawn_background(&state);
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            tracing::info!(%listen, %public_url, "payframe gateway listening");
            // The peer address is what per-IP rate limits count by.
            let app = payframe_server::app(state.clone())
                .into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown_signal())
                .await?;
            // In-flight requests have finished; hand back held webhook deliveries, then give
            // the connections back cleanly.
            background.shutdown().await;
            state.store.close().await;
            tracing::info!("stopped");
        }
        Command::Simulator {
            listen,
            latency_ms,
            log_json,
        } => {
            use payframe_server::processors::{remote, simulator};
            payframe_server::telemetry::init(log_json);
            let config = simulator::SimulatorConfig {
                latency: Duration::from_millis(latency_ms),
                ..simulator::SimulatorConfig::default()
            };
            let service = remote::service(std::sync::Arc::new(simulator::Simulator::new(config)));
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            tracing::info!(%listen, "card-network simulator listening");
            axum::serve(listener, service)
                .with_graceful_shutdown(shutdown_signal())
                .await?;
        }
        Command::Merchant {
            command:
                MerchantCommand::Create {
                    common,
                    name,
                    origins,
                    webhook_url,
                    live,
                    json,
                },
        } => {
            let state = common.state(admin_settings()).await?;
            let created = payframe_server::merchants::create(
                &state.store,
                &state.master,
                &name,
                &origins,
                webhook_url.as_deref(),
                live,
                state.now(),
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string(&created)?);
            } else {
                println!("merchant:       {}", created.id);
                println!(
                    "secret key:     {}   (shown once; store it safely)",
                    created.secret_key
                );
                println!("webhook secret: {}", created.webhook_secret);
            }
        }
        Command::Merchant {
            command:
                MerchantCommand::RollKey {
                    common,
                    merchant,
                    live,
                    json,
                },
        } => {
            let store = common.store().await?;
            let now = payframe_server::system_clock()();
            let secret_key =
                payframe_server::merchants::roll_key(&store, &merchant, live, now).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "id": merchant, "secret_key": secret_key })
                );
            } else {
                println!(
                    "new secret key: {secret_key}   (shown once; the old key no longer works)"
                );
            }
        }
        Command::Webhooks { command } => webhooks_command(command).await?,
        Command::Keys {
            command: KeysCommand::Rotate { common },
        } => {
            let state = common.state(admin_settings()).await?;
            let kid = state
                .keyring
                .rotate(&state.store, &state.master, state.now())
                .await?;
            println!("new current encryption key: {kid}");
        }
        Command::Keys {
            command: KeysCommand::RotateMaster { common },
        } => {
            rotate_master(&common).await?;
        }
        Command::Migrate { common } => {
            let store = common.store().await?;
            println!("migrations applied ({})", store.backend().as_str());
        }
    }
    Ok(())
}

async fn webhooks_command(command: WebhooksCommand) -> anyhow::Result<()> {
    use payframe_server::webhooks::endpoints;
    match command {
        WebhooksCommand::Create {
            common,
            merchant,
            url,
            events,
            live,
            json,
        } => {
            let state = common.state(admin_settings()).await?;
            let created = endpoints::create(
                &state.store,
                &state.master,
                &merchant,
                &url,
                &events,
                live,
                None,
                state.now(),
            )
            .await?;
            let e = &created.endpoint;
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "id": e.id, "url": e.url, "enabled_events": e.enabled_events,
                        "livemode": e.livemode, "secret": created.secret,
                    })
                );
            } else {
                println!("endpoint:       {}", e.id);
                println!("url:            {}", e.url);
                println!("events:         {}", e.enabled_events.join(", "));
                println!(
                    "signing secret: {}   (shown once; store it safely)",
                    created.secret
                );
            }
        }
        WebhooksCommand::List {
            common,
            merchant,
            live,
        } => {
            let store = common.store().await?;
            for e in store.webhook_endpoints(&merchant, live, 100, None).await? {
                println!("{}  {}  {}", e.id, e.url, e.enabled_events.join(","));
            }
        }
        WebhooksCommand::Delete {
            common,
            merchant,
            id,
            live,
        } => {
            let store = common.store().await?;
            let now = system_clock()();
            if !store
                .delete_webhook_endpoint(&merchant, live, &id, now)
                .await?
            {
                anyhow::bail!("no webhook endpoint {id} for merchant {merchant}");
            }
            println!("deleted {id}");
        }
    }
    Ok(())
}

async fn rotate_master(common: &Common) -> anyhow::Result<()> {
    use payframe_server::master_key::{KEY_FILE, NEXT_KEY_FILE};
    let old = common.master_key()?;
    let store = common.store().await?;
    let from_env = std::env::var_os("PAYFRAME_MASTER_KEY").is_some();
    let new = match std::env::var("PAYFRAME_NEW_MASTER_KEY") {
        Ok(text) => MasterKey::from_base64(&text)?,
        Err(_) if from_env => {
            anyhow::bail!(
                "PAYFRAME_MASTER_KEY is set: give the new key (base64, 32 bytes) in PAYFRAME_NEW_MASTER_KEY"
            )
        }
        Err(_) => MasterKey::generate(),
    };
    // The new key reaches disk before the database depends on it.
    let next = common.data_dir.join(NEXT_KEY_FILE);
    if !from_env {
        new.write_new_file(&next)?;
    }
    let moved = match payframe_server::rotation::rotate_master(&store, &old, &new).await {
        Ok(moved) => moved,
        Err(err) => {
            if !from_env {
                let _ = std::fs::remove_file(&next);
            }
            return Err(err.into());
        }
    };
    if from_env {
        println!(
            "re-wrapped {moved} secrets under {}; set PAYFRAME_MASTER_KEY to the new key now",
            new.id()
        );
    } else {
        std::fs::rename(&next, common.data_dir.join(KEY_FILE)).context("replacing master.key")?;
        println!(
            "re-wrapped {moved} secrets; master.key now holds the new key {}",
            new.id()
        );
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}
