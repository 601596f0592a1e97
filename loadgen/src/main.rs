//! `loadgen`: drives a running gateway's confirm path and measures it.
//!
//! Load mode (the default): creates one checkout session per confirm with the merchant's
//! secret key and fetches the encryption key once (setup, not timed), seals a fresh
//! Envelope v1 per session (`--seal ahead`: all before the clock starts, on every core;
//! `--seal inline`: inside the timed loop, just before each request, outside its latency),
//! runs `--warmup` confirms, then times `--requests` confirms at `--concurrency` over
//! keep-alive HTTP/1.1 connections (hyper-util's pooled client, one connection per
//! in-flight request). Prints throughput, errors by status and p50/p90/p99/max latency of
//! the successful confirms, where the CPU went meanwhile (`--gateway-pid`), and how busy the
//! gateway's SQLite writer thread was (from its `/metrics`).
//!
//! `--crypto-ceiling`: Envelope v1 opens per second on `--threads` threads, the server-side
//! crypto of one confirm, no HTTP. `--wait-healthz SECS` and `--free-port` are helpers for
//! scripts/loadtest.sh. `--kv` adds `key=value` lines for scripts.
//!
//! The gateway refuses envelopes sealed more than 10 minutes ago, so with `--seal ahead` the
//! warm-up and timed confirms must finish within that after sealing (20,000 confirms take
//! well under a minute at the rates in BENCHMARKS.md); late ones show as 400 errors.

mod cpu;
mod crypto;
mod stats;
mod writer;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use payframe_core::api::{ConfirmRequest, FrameSession};
use payframe_core::envelope::seal;
use serde::Deserialize;
use stats::{Outcome, Summary};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "loadgen",
    about = "Load generator for Payframe's confirm path, and the HPKE open ceiling"
)]
struct Cli {
    /// The gateway's base URL (plain HTTP).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A test-mode merchant secret key, for creating the sessions.
    #[arg(long, env = "PAYFRAME_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Confirms in the timed phase (each on its own session).
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Confirms before the timed phase, at the same concurrency; not counted.
    #[arg(long, default_value_t = 0)]
    warmup: usize,
    /// Requests in flight at once (and the connection pool's size).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// When each envelope is sealed.
    #[arg(long, value_enum, default_value_t = SealWhen::Ahead)]
    seal: SealWhen,
    /// Tokio worker threads of the HTTP client (the gateway needs the other core).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// The gateway's process id, to report its CPU use during the timed phase.
    #[arg(long)]
    gateway_pid: Option<u32>,
    /// Session amount in minor units.
    #[arg(long, default_value_t = 2000)]
    amount: i64,
    #[arg(long, default_value = "brl")]
    currency: String,
    /// Measure Envelope v1 opens per second instead of driving a gateway.
    #[arg(long)]
    crypto_ceiling: bool,
    /// Threads opening envelopes at once (--crypto-ceiling).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Opens per thread (--crypto-ceiling).
    #[arg(long, default_value_t = 20_000)]
    iterations: u64,
    /// Poll `--url`/healthz until it answers 200, for at most this many seconds, then exit.
    #[arg(long, value_name = "SECS")]
    wait_healthz: Option<u64>,
    /// Print a free loopback TCP port and exit.
    #[arg(long)]
    free_port: bool,
    /// Also print the figures as `key=value` lines.
    #[arg(long)]
    kv: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SealWhen {
    /// Before the timed phase: the clock measures the gateway, not client-side HPKE.
    Ahead,
    /// In the timed loop, before each request: the client's sealing shares the cores.
    Inline,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.free_port {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding :0")?;
        println!("{}", listener.local_addr()?.port());
        return Ok(());
    }
    if cli.crypto_ceiling {
        return crypto_ceiling(&cli);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.client_threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = client(cli.concurrency);
        if let Some(secs) = cli.wait_healthz {
            return wait_healthz(&client, &cli.url, Duration::from_secs(secs)).await;
        }
        load(&cli, client).await
    })
}

fn client(concurrency: usize) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build(connector)
}

fn crypto_ceiling(cli: &Cli) -> anyhow::Result<()> {
    anyhow::ensure!(cli.threads > 0 && cli.iterations > 0, "nothing to measure");
    let ceiling = crypto::measure(cli.threads, cli.iterations)?;
    println!(
        "crypto ceiling: {} Envelope v1 opens on {} threads in {:.3} s: {:.0} opens/s ({} µs per open per thread)",
        ceiling.opens,
        ceiling.threads,
        ceiling.wall.as_secs_f64(),
        ceiling.opens_per_second(),
        ceiling.micros_per_open_per_thread(),
    );
    if let Some(steal) = ceiling.steal {
        println!("  stolen by the hypervisor meanwhile: {steal:.2} cores");
    }
    if cli.kv {
        println!("ceiling_threads={}", ceiling.threads);
        println!("ceiling_opens={}", ceiling.opens);
        println!("ceiling_wall_ms={}", ceiling.wall.as_millis());
        println!("ceiling_opens_per_s={:.0}", ceiling.opens_per_second());
        println!(
            "ceiling_us_per_open={}",
            ceiling.micros_per_open_per_thread()
        );
        println!("ceiling_cpu_steal={}", or_na(ceiling.steal));
    }
    Ok(())
}

/// A figure to two decimals, or "n/a" where it could not be read.
fn or_na(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2}"))
}

async fn wait_healthz(client: &HttpClient, url: &str, limit: Duration) -> anyhow::Result<()> {
    let uri: Uri = format!("{url}/healthz").parse()?;
    let deadline = Instant::now() + limit;
    loop {
        let request = Request::get(uri.clone()).body(Full::new(Bytes::new()))?;
        if let Ok(response) = client.request(request).await
            && response.status() == StatusCode::OK
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("{uri} did not answer 200 within {} s", limit.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One request of the setup phase: status and body, or an error naming the call.
async fn call(
    client: &HttpClient,
    method: Method,
    uri: &str,
    bearer: Option<&str>,
    body: Bytes,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(key) = bearer {
        request = request.header(AUTHORIZATION, format!("Bearer {key}"));
    }
    if !body.is_empty() {
        request = request.header(CONTENT_TYPE, "application/json");
    }
    let response = client
        .request(request.body(Full::new(body))?)
        .await
        .with_context(|| format!("calling {uri}"))?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

#[derive(Deserialize)]
struct CreatedSession {
    id: String,
    client_secret: String,
}

/// A confirm to send: its session, and its body once sealed.
struct Confirm {
    uri: Uri,
    session_id: String,
    client_secret: String,
    body: Option<Bytes>,
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn create_sessions(
    cli: &Cli,
    client: &HttpClient,
    count: usize,
) -> anyhow::Result<Vec<Confirm>> {
    let secret_key = cli
        .secret_key
        .clone()
        .context("--secret-key (or PAYFRAME_SECRET_KEY) is required")?;
    let body = Bytes::from(serde_json::to_vec(&serde_json::json!({
        "amount": cli.amount,
        "currency": cli.currency,
    }))?);
    let next = Arc::new(AtomicUsize::new(0));
    let uri = Arc::new(format!("{}/v1/sessions", cli.url));
    let secret_key = Arc::new(secret_key);
    let mut tasks = Vec::new();
    for _ in 0..cli.concurrency.max(1) {
        let (client, next, uri, key, body) = (
            client.clone(),
            next.clone(),
            uri.clone(),
            secret_key.clone(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut created = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let (status, reply) =
                    call(&client, Method::POST, &uri, Some(&key), body.clone()).await?;
                if !status.is_success() {
                    bail!(
                        "POST /v1/sessions answered {status}: {}",
                        String::from_utf8_lossy(&reply)
                    );
                }
                created.push(serde_json::from_slice::<CreatedSession>(&reply)?);
            }
            anyhow::Ok(created)
        }));
    }
    let mut confirms = Vec::with_capacity(count);
    for task in tasks {
        for session in task.await?? {
            confirms.push(Confirm {
                uri: format!("{}/v1/frame/sessions/{}/confirm", cli.url, session.id).parse()?,
                session_id: session.id,
                client_secret: session.client_secret,
                body: None,
            });
        }
    }
    Ok(confirms)
}

/// The gateway's current encryption key, as the frame gets it: `(public_key, kid)`.
async fn fetch_key(
    cli: &Cli,
    client: &HttpClient,
    any: &Confirm,
) -> anyhow::Result<(String, String)> {
    let uri = format!(
        "{}/v1/frame/sessions/{}?client_secret={}",
        cli.url,
        any.session_id,
        query_escape(&any.client_secret)
    );
    let (status, body) = call(client, Method::GET, &uri, None, Bytes::new()).await?;
    if status != StatusCode::OK {
        bail!(
            "GET /v1/frame/sessions/… answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let view: FrameSession = serde_json::from_slice(&body)?;
    Ok((view.encryption_key.public_key, view.encryption_key.kid))
}

/// The body of one confirm, with a card sealed now to `key` for its session.
fn sealed_body(confirm: &Confirm, key: &(String, String)) -> anyhow::Result<Bytes> {
    let envelope = seal(
        &key.0,
        &key.1,
        &confirm.session_id,
        &crypto::test_card(unix_now()),
    )
    .map_err(|e| anyhow::anyhow!("sealing: {e}"))?;
    let request = ConfirmRequest {
        client_secret: confirm.client_secret.clone(),
        envelope,
    };
    Ok(Bytes::from(serde_json::to_vec(&request)?))
}

/// Seals every confirm's envelope on all cores; returns how long that took.
fn seal_all(confirms: &mut [Confirm], key: &(String, String)) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = confirms.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = confirms
            .chunks_mut(chunk)
            .map(|part| {
                scope.spawn(move || {
                    for confirm in part {
                        confirm.body = Some(sealed_body(confirm, key)?);
                    }
                    anyhow::Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("sealing thread panicked"))
    })?;
    Ok(started.elapsed())
}

/// Sends `confirms[range]` with `concurrency` requests in flight; returns each outcome and
/// latency (request sent to response body read) and the phase's wall time.
async fn run_confirms(
    client: &HttpClient,
    confirms: &Arc<Vec<Confirm>>,
    range: std::ops::Range<usize>,
    concurrency: usize,
    key: &Arc<(String, String)>,
) -> (Vec<(Outcome, Duration)>, Duration) {
    let (start, end) = (range.start, range.end);
    let next = Arc::new(AtomicUsize::new(start));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.max(1) {
        let (client, confirms, next, key) =
            (client.clone(), confirms.clone(), next.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::with_capacity((end - start) / concurrency.max(1) + 1);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    break;
                }
                let confirm = &confirms[i];
                let body = match &confirm.body {
                    Some(body) => body.clone(),
                    None => match sealed_body(confirm, &key) {
                        Ok(body) => body,
                        Err(_) => {
                            results.push((Outcome::SealFailed, Duration::ZERO));
                            continue;
                        }
                    },
                };
                let request = Request::post(confirm.uri.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(Full::new(body))
                    .expect("a valid request");
                let sent = Instant::now();
                let outcome = match client.request(request).await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        match response.into_body().collect().await {
                            Ok(_) => Outcome::Status(status),
                            Err(_) => Outcome::Transport,
                        }
                    }
                    Err(_) => Outcome::Transport,
                };
                results.push((outcome, sent.elapsed()));
            }
            results
        }));
    }
    let mut results = Vec::with_capacity(end - start);
    for task in tasks {
        results.extend(task.await.expect("confirm task panicked"));
    }
    (results, started.elapsed())
}

async fn load(cli: &Cli, client: HttpClient) -> anyhow::Result<()> {
    anyhow::ensure!(cli.requests > 0, "--requests must be at least 1");
    let total = cli.warmup + cli.requests;
    let setup = Instant::now();
    eprintln!("setup: creating {total} sessions (not timed)");
    let mut confirms = create_sessions(cli, &client, total).await?;
    let key = fetch_key(cli, &client, &confirms[0]).await?;
    eprintln!(
        "setup: {total} sessions in {:.1} s; encryption key {}",
        setup.elapsed().as_secs_f64(),
        key.1
    );
    let seal_note = match cli.seal {
        SealWhen::Ahead => {
            let took = seal_all(&mut confirms, &key)?;
            eprintln!(
                "setup: sealed {total} envelopes in {:.2} s (not timed)",
                took.as_secs_f64()
            );
            format!(
                "sealed ahead ({total} fresh envelopes in {:.2} s, before the clock)",
                took.as_secs_f64()
            )
        }
        SealWhen::Inline => "sealed inline (in the timed loop, outside each latency)".to_owned(),
    };
    let confirms = Arc::new(confirms);
    let key = Arc::new(key);
    if cli.warmup > 0 {
        let (results, wall) =
            run_confirms(&client, &confirms, 0..cli.warmup, cli.concurrency, &key).await;
        let warm = stats::summarize(results, 200);
        eprintln!(
            "warm-up: {} confirms in {:.2} s, errors: {}",
            warm.requests,
            wall.as_secs_f64(),
            warm.errors_label()
        );
    }
    let writer_before = writer_counters(cli, &client).await;
    let sched_before = cli.gateway_pid.and_then(writer::sched);
    let before = cpu::snapshot(cli.gateway_pid);
    let (results, wall) =
        run_confirms(&client, &confirms, cli.warmup..total, cli.concurrency, &key).await;
    let after = cpu::snapshot(cli.gateway_pid);
    let sched_after = cli.gateway_pid.and_then(writer::sched);
    let writer_after = writer_counters(cli, &client).await;
    let summary = stats::summarize(results, 200);
    let usage = cpu::usage(&before, &after, wall, cli.gateway_pid);
    let writer = writer_before.zip(writer_after).map(|(before, after)| {
        let sched = sched_before.zip(sched_after);
        writer::Usage::between(before, after, sched, wall)
    });
    report(cli, &summary, wall, usage, writer, &seal_note);
    Ok(())
}

/// The gateway's SQLite writer counters from its `/metrics`; `None` without a writer
/// thread (PostgreSQL) or when they cannot be read.
async fn writer_counters(cli: &Cli, client: &HttpClient) -> Option<writer::Counters> {
    let uri = format!("{}/metrics", cli.url);
    match call(client, Method::GET, &uri, None, Bytes::new()).await {
        Ok((StatusCode::OK, body)) => writer::parse(&String::from_utf8_lossy(&body)),
        _ => None,
    }
}

fn report(
    cli: &Cli,
    s: &Summary,
    wall: Duration,
    usage: Option<cpu::Usage>,
    writer: Option<writer::Usage>,
    seal_note: &str,
) {
    let rps = s.ok as f64 / wall.as_secs_f64();
    let l = s.latency;
    println!(
        "confirm path: {} requests at concurrency {}, {seal_note}",
        s.requests, cli.concurrency
    );
    println!("  ok:          {}", s.ok);
    println!("  errors:      {} ({})", s.error_count(), s.errors_label());
    println!("  wall:        {:.3} s", wall.as_secs_f64());
    println!("  throughput:  {rps:.0} confirms/s (successful confirms / wall)");
    println!(
        "  latency:     p50 {} µs, p90 {} µs, p99 {} µs, max {} µs (successful confirms)",
        l.p50, l.p90, l.p99, l.max
    );
    if let Some(u) = &usage {
        println!(
            "  cpu (cores of {}): gateway {}, loadgen {:.2}, other {}; machine busy {:.2}, iowait {:.2}, stolen by the hypervisor {:.2}",
            u.cores,
            or_na(u.gateway),
            u.loadgen,
            or_na(u.other),
            u.machine_busy,
            u.machine_iowait,
            u.machine_steal
        );
        println!("  top others:  {}", others_label(&u.top_others));
    }
    if let Some(w) = &writer {
        println!(
            "  sqlite writer: busy {:.0} % of the wall time; {:.0} writes in {:.0} group commits ({:.1} a commit, {:.3} commits a confirm)",
            w.busy * 100.0,
            w.writes,
            w.commits,
            w.writes_per_commit(),
            w.commits / s.ok.max(1) as f64
        );
        if let Some(sched) = &w.sched {
            println!(
                "  sqlite writer thread (scheduler): on a core {:.0} %, runnable but waiting for a core {:.0} % of the wall time",
                sched.on_cpu * 100.0,
                sched.waiting_for_cpu * 100.0
            );
        }
    }
    if cli.kv {
        println!("requests={}", s.requests);
        println!("ok={}", s.ok);
        println!("errors={}", s.error_count());
        println!("errors_by_status={}", s.errors_label().replace(' ', ","));
        println!("wall_ms={}", wall.as_millis());
        println!("throughput_rps={rps:.0}");
        println!("p50_us={}", l.p50);
        println!("p90_us={}", l.p90);
        println!("p99_us={}", l.p99);
        println!("max_us={}", l.max);
        if let Some(u) = &usage {
            println!("cores={}", u.cores);
            println!("cpu_gateway={}", or_na(u.gateway));
            println!("cpu_loadgen={:.2}", u.loadgen);
            println!("cpu_other={}", or_na(u.other));
            println!("cpu_busy={:.2}", u.machine_busy);
            println!("cpu_iowait={:.2}", u.machine_iowait);
            println!("cpu_steal={:.2}", u.machine_steal);
            println!("top_others={}", others_label(&u.top_others));
        }
        if let Some(w) = &writer {
            println!("writer_busy={:.3}", w.busy);
            println!("writer_writes_per_commit={:.1}", w.writes_per_commit());
            println!("writer_on_cpu={}", or_na(w.sched.map(|s| s.on_cpu)));
            println!(
                "writer_waiting_for_cpu={}",
                or_na(w.sched.map(|s| s.waiting_for_cpu))
            );
        }
    }
}

/// `rustc 0.80, jbd2/vda-8 0.05` (cores), or `none`.
fn others_label(others: &[(String, f64)]) -> String {
    if others.is_empty() {
        return "none".to_owned();
    }
    others
        .iter()
        .map(|(name, cores)| format!("{name} {cores:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_escape_keeps_unreserved_and_encodes_the_rest() {
        assert_eq!(
            super::query_escape("cs_1_secret_aZ9-.~"),
            "cs_1_secret_aZ9-.~"
        );
        assert_eq!(super::query_escape("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
