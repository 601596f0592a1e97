//! Scale-out, end to end: two `payframe serve` processes on one PostgreSQL database and one
//! shared simulator process. Sessions, confirms, captures and refunds alternate between
//! the instances; concurrent retries with one idempotency key across both make one refund;
//! SIGTERM stops an instance cleanly while the other keeps serving. Also how a process's
//! log reads when it goes to a pipe rather than a terminal.

mod common;

use base64::Engine;
use payframe_core::api::EncryptionKey;
use payframe_server::testing::TestDatabase;
use serde_json::{Value, json};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_payframe");

/// A child process killed when the test ends, however it ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Starts `command` and waits until it logs `ready_line`; returns the process and that
/// line. Its output is drained after.
async fn spawn_until(mut command: Command, ready_line: &str) -> (Process, String) {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("start payframe");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let wait = async {
        while let Some(line) = lines.next_line().await.expect("read the log") {
            if line.contains(ready_line) {
                return Some(line);
            }
        }
        None
    };
    let ready = tokio::time::timeout(std::time::Duration::from_secs(60), wait)
        .await
        .ok()
        .flatten();
    let Some(line) = ready else {
        panic!("the process never logged {ready_line:?}");
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (Process(child), line)
}

struct Instance {
    url: String,
    process: Process,
}

async fn gateway(db: &str, master: &str, simulator: &str, data_dir: &std::path::Path) -> Instance {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(BIN);
    command
        .args([
            "serve",
            "--listen",
            &listen,
            "--test-processor-url",
            simulator,
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .env("DATABASE_URL", db)
        .env("PAYFRAME_MASTER_KEY", master)
        .env("PAYFRAME_DB_MAX_CONNECTIONS", "4");
    let (process, _) = spawn_until(command, "payframe gateway listening").await;
    Instance {
        url: format!("http://{listen}"),
        process,
    }
}

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    key: String,
}

impl Client {
    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.expect("the instance answers");
        let status = response.status().as_u16();
        let body = response.json().await.expect("a JSON body");
        (status, body)
    }

    async fn get(&self, base: &str, path: &str) -> (u16, Value) {
        self.send(
            self.http
                .get(format!("{base}{path}"))
                .bearer_auth(&self.key),
        )
        .await
    }

    async fn post(&self, base: &str, path: &str, key: &str, body: Value) -> (u16, Value) {
        self.send(
            self.http
                .post(format!("{base}{path}"))
                .bearer_auth(&self.key)
                .header("Idempotency-Key", key)
                .json(&body),
        )
        .await
    }

    /// Opens a session on `create_on`, seals a card with the key `seal_from` publishes and
    /// confirms on `confirm_on`: the frame and the merchant need not reach one instance.
    async fn pay(&self, create_on: &str, confirm_on: &str, capture: &str, key: &str) -> Value {
        let body = json!({"amount": 5000, "currency": "brl", "reference": key, "capture": capture});
        let (status, session) = self.post(create_on, "/v1/sessions", key, body).await;
        assert_eq!(status, 200, "{session}");
        let (id, secret) = (
            session["id"].as_str().unwrap(),
            session["client_secret"].as_str().unwrap(),
        );
        let (status, view) = self
            .send(self.http.get(format!(
                "{confirm_on}/v1/frame/sessions/{id}?client_secret={secret}"
            )))
            .await;
        assert_eq!(status, 200, "{view}");
        let key: EncryptionKey = serde_json::from_value(view["encryption_key"].clone()).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let card = common::card(common::PAN, 12, 2030, "123", now);
        let envelope = common::sealed(&key, id, &card);
        let (status, paid) = self
            .send(
                self.http
                    .post(format!("{confirm_on}/v1/frame/sessions/{id}/confirm"))
                    .json(&json!({"client_secret": secret, "envelope": envelope})),
            )
            .await;
        assert_eq!(status, 200, "{paid}");
        paid
    }
}

#[tokio::test]
async fn two_instances_on_one_postgresql_share_every_payment() {
    let db = TestDatabase::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let master = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);

    let sim_listen = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(BIN);
    command.args(["simulator", "--listen", &sim_listen]);
    let (_simulator, _) = spawn_until(command, "simulator listening").await;
    let simulator = format!("http://{sim_listen}");

    // Both start at once: migrations run under PostgreSQL's advisory lock.
    let (dir_a, dir_b) = (dir.path().join("a"), dir.path().join("b"));
    let (a, b) = tokio::join!(
        gateway(&db.url, &master, &simulator, &dir_a),
        gateway(&db.url, &master, &simulator, &dir_b),
    );
    let created = std::process::Command::new(BIN)
        .args(["merchant", "create", "--json", "--name", "Shop"])
        .args(["--origin", "https://shop.example", "--data-dir"])
        .arg(dir.path().join("cli"))
        .env("DATABASE_URL", &db.url)
        .env("PAYFRAME_MASTER_KEY", &master)
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let merchant: Value = serde_json::from_slice(&created.stdout).unwrap();
    let client = Client {
        http: reqwest::Client::new(),
        key: merchant["secret_key"].as_str().unwrap().to_owned(),
    };
    let (a, b) = (a.url.clone(), b);
    let b_url = b.url.clone();

    // Authorized through A, captured through B, refunded through A then B.
    let paid = client.pay(&a, &b_url, "manual", "s1").await;
    let id = paid["payment"]["id"]
        .as_str()
        .expect("a payment id")
        .to_owned();
    let (status, payment) = client.get(&b_url, &format!("/v1/payments/{id}")).await;
    assert_eq!(
        (status, payment["status"].as_str()),
        (200, Some("authorized"))
    );
    let capture = client
        .post(
            &b_url,
            &format!("/v1/payments/{id}/capture"),
            "c1",
            json!({"amount": 4000}),
        )
        .await;
    assert_eq!(capture.0, 200, "{}", capture.1);
    let refunds = format!("/v1/payments/{id}/refunds");
    assert_eq!(
        client
            .post(&a, &refunds, "r1", json!({"amount": 1000}))
            .await
            .0,
        200
    );
    assert_eq!(
        client
            .post(&b_url, &refunds, "r2", json!({"amount": 500}))
            .await
            .0,
        200
    );

    // Eight concurrent retries of one refund, alternating instances: one refund.
    let mut retries = tokio::task::JoinSet::new();
    for i in 0..8 {
        let base = if i % 2 == 0 { a.clone() } else { b_url.clone() };
        let (client, refunds) = (client.clone(), refunds.clone());
        retries.spawn(async move {
            client
                .post(&base, &refunds, "r3", json!({"amount": 700}))
                .await
        });
    }
    let mut refund_ids = std::collections::BTreeSet::new();
    while let Some(answer) = retries.join_next().await {
        let (status, body) = answer.unwrap();
        match status {
            200 => {
                refund_ids.insert(body["id"].as_str().unwrap().to_owned());
            }
            409 => assert_eq!(body["error"]["code"], "idempotency_key_in_use", "{body}"),
            _ => panic!("{status}: {body}"),
        }
    }
    assert_eq!(refund_ids.len(), 1, "every answer names the one refund");
    let (_, payment) = client.get(&a, &format!("/v1/payments/{id}")).await;
    assert_eq!(payment["amount_captured"], 4000);
    assert_eq!(payment["amount_refunded"], 1000 + 500 + 700, "{payment}");
    assert_eq!(payment["status"], "partially_refunded");

    // An automatic capture through B, refunded in full through A.
    let paid = client.pay(&b_url, &a, "automatic", "s2").await;
    let id = paid["payment"]["id"].as_str().unwrap().to_owned();
    let refunded = client
        .post(&a, &format!("/v1/payments/{id}/refunds"), "r4", json!({}))
        .await;
    assert_eq!(refunded.0, 200, "{}", refunded.1);
    let (_, payment) = client.get(&b_url, &format!("/v1/payments/{id}")).await;
    assert_eq!(payment["status"], "refunded", "{payment}");

    // SIGTERM: B finishes and exits cleanly; A keeps answering.
    let Instance { mut process, .. } = b;
    let pid = process.0.id().expect("B is running");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = process.0.wait().await.unwrap();
    assert!(exit.success(), "B exits cleanly on SIGTERM: {exit:?}");
    let (status, _) = client.get(&a, &format!("/v1/payments/{id}")).await;
    assert_eq!(status, 200);
}

/// An operator's log file or collector gets plain text: no colour escape codes when the
/// output is not a terminal.
#[tokio::test]
async fn a_process_writing_its_log_to_a_pipe_writes_plain_text() {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(BIN);
    command
        .args(["simulator", "--listen", &listen])
        .env_remove("NO_COLOR");
    let (_simulator, line) = spawn_until(command, "simulator listening").await;
    assert!(
        line.contains(&format!("card-network simulator listening listen={listen}")),
        "{line:?}"
    );
    assert!(
        !line.contains('\u{1b}'),
        "escape codes in the log: {line:?}"
    );
}
