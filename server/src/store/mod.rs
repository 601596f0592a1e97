//! Storage: the gateway's tables behind a small set of typed operations, on SQLite (the
//! embedded default: WAL and `synchronous = FULL`, since these rows are money and cards) or
//! PostgreSQL, chosen by the URL. Both run the same SQL through sqlx's `Any` driver, so the
//! two backends cannot drift apart; each has its own migrations with the same meaning.
//! Handlers never write SQL; what must change together is written in one transaction here.

pub mod audit;
pub mod customers;
pub mod dashboard;
mod idempotency;
mod payments;
mod sweeps;
mod webhooks;

pub use audit::{AuditEntry, NewAuditEntry};
pub use customers::{CustomerRow, Erasure, HistoryRow, PaymentMethodRow, SaveCard, Saved};
pub use idempotency::{IdempotencyClaim, IdempotentResponse};
pub use sweeps::SweepReport;

pub use payments::{NewRefund, PaymentRecord, RefundRow, SessionOutcome};
pub use webhooks::{
    AttemptRow, ClaimedDelivery, DeliveryNext, DeliveryRow, EndpointRow, EventRow, NewAttempt,
    NewEndpoint,
};

mod connect;
pub(crate) mod exec;
mod readers;
mod wal_vfs;
mod writer;

pub use connect::{Backend, PoolSettings};

use exec::{Columns, Exec, args, run_ready};
use readers::Readers;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Row};
use std::sync::Arc;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use writer::Writer;
pub use writer::WriterStats;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// An error of the SQLite writer thread's own connection.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The SQLite writer thread could not commit a write's group, or is gone.
    #[error("database writer: {0}")]
    Writer(String),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("DATABASE_URL must start with sqlite: or postgres://")]
    UnsupportedUrl,
    #[error("stored data is corrupt: {0}")]
    Corrupt(&'static str),
    /// The request's idempotency key was forgotten (or answered) while the request ran, so
    /// its effect is not committed: nothing would stop a retry from repeating it.
    #[error("the request's idempotency key is no longer held")]
    IdempotencyKeyLost,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Signalled after a commit that queued webhook deliveries, so this instance's delivery
    /// worker sends them at once instead of at its next poll.
    outbox: Arc<Notify>,
    /// SQLite only: its transactions wait here, in turn, for the database's single write
    /// lock. Left to SQLite, the writers that lose the lock poll it from its busy handler,
    /// sleeping a millisecond or more a try while a commit takes a few hundred µs.
    write_gate: Option<Arc<Semaphore>>,
    /// SQLite only: the group-commit thread that runs the hot path's writes.
    writer: Option<Arc<Writer>>,
    /// SQLite only: connections for the hot path's point reads.
    readers: Option<Arc<Readers>>,
}

/// A transaction on either backend.
type Tx<'a> = sqlx::Transaction<'a, Any>;

/// What a request writes in the same transaction as the change it makes: the audit entry
/// for the change and, under a fresh Idempotency-Key, its response — so neither can be
/// missing for a change that was committed, nor exist for one that was not. The default
/// writes nothing.
#[derive(Debug, Default)]
pub struct WriteAlong {
    pub audit: Option<NewAuditEntry>,
    pub response: Option<IdempotentResponse>,
}

impl WriteAlong {
    async fn write(&self, ex: &mut impl Exec) -> Result<(), StoreError> {
        if let Some(entry) = &self.audit {
            audit::append(ex, entry).await?;
        }
        if let Some(response) = &self.response {
            idempotency::record_in(ex, response).await?;
        }
        Ok(())
    }
}

/// The `VALUES` list of a multi-row INSERT: `rows` tuples of `columns` placeholders,
/// numbered on from `$1` (`($1, $2), ($3, $4)` for 2 × 2).
fn values_rows(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let params: Vec<String> = (1..=columns)
                .map(|c| format!("${}", row * columns + c))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A multi-row INSERT: `head` (`INSERT INTO t (a, b) VALUES `) and `rows` tuples of
/// `columns` placeholders. Each shape is built once and kept: formatting the text on every
/// save showed in the writer thread's profile, and statements are cached by their text.
fn multi_insert(head: &'static str, rows: usize, columns: usize) -> Arc<str> {
    type Shapes = std::collections::HashMap<(&'static str, usize, usize), Arc<str>>;
    static SHAPES: std::sync::LazyLock<std::sync::Mutex<Shapes>> =
        std::sync::LazyLock::new(Default::default);
    let mut shapes = SHAPES.lock().unwrap_or_else(|e| e.into_inner());
    Arc::clone(
        shapes
            .entry((head, rows, columns))
            .or_insert_with(|| format!("{head}{}", values_rows(rows, columns)).into()),
    )
}

/// Reads a small non-negative integer column (a month, a year).
fn get_u32(r: &AnyRow, column: &'static str) -> Result<u32, StoreError> {
    u32::try_from(r.try_get::<i64, _>(column)?).map_err(|_| StoreError::Corrupt(column))
}

pub struct NewMerchant<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub origins: &'a [String],
    pub webhook_url: Option<&'a str>,
    pub webhook_secret_wrapped: &'a [u8],
    pub master_key_id: &'a str,
    /// The endpoint `--webhook-url` asks for, created in the same transaction.
    pub webhook_endpoint: Option<&'a NewEndpoint>,
}

#[derive(Debug, Clone)]
pub struct Merchant {
    pub id: String,
    pub name: String,
    pub origins: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub merchant_id: String,
    pub client_secret_hash: Vec<u8>,
    pub amount: i64,
    pub currency: String,
    pub reference: Option<String>,
    pub allowed_origins: Vec<String>,
    pub status: String,
    pub capture_method: String,
    pub declined_attempts: i64,
    pub livemode: bool,
    pub expires_at: i64,
    pub created_at: i64,
    /// The customer (`cus_…`) the session pays for, if any.
    pub customer_id: Option<String>,
    /// Whether a successful payment saves its card for `customer_id`.
    pub save_payment_method: bool,
}

impl Session {
    /// `open` turns into `expired` once `expires_at` has passed.
    pub fn effective_status(&self, now: i64) -> &str {
        if self.status == "open" && now >= self.expires_at {
            "expired"
        } else {
            &self.status
        }
    }
}

pub struct StoredKey {
    pub kid: String,
    pub private_key_wrapped: Vec<u8>,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// A vaulted card: only ciphertext, wrapped key and the fields PCI DSS lets us keep. No
/// `Debug`: nothing of a card row is for logs. No `Clone` either: it moves into the one
/// transaction that stores it.
pub struct NewCard {
    pub token: String,
    pub merchant_id: String,
    pub session_id: Option<String>,
    pub brand: String,
    pub bin: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
    pub fingerprint: Vec<u8>,
    pub pan_ciphertext: Vec<u8>,
    pub data_key_wrapped: Vec<u8>,
    pub master_key_id: String,
    pub single_use: bool,
    pub created_at: i64,
}

async fn insert_card(ex: &mut impl Exec, card: &NewCard) -> Result<(), StoreError> {
    ex.execute(
        "INSERT INTO cards (token, merchant_id, session_id, brand, bin, last4, exp_month, exp_year,
                            fingerprint, pan_ciphertext, data_key_wrapped, master_key_id, single_use, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        &args![
            &card.token,
            &card.merchant_id,
            &card.session_id,
            &card.brand,
            &card.bin,
            &card.last4,
            i64::from(card.exp_month),
            i64::from(card.exp_year),
            &card.fingerprint,
            &card.pan_ciphertext,
            &card.data_key_wrapped,
            &card.master_key_id,
            card.single_use,
            card.created_at,
        ],
    )
    .await?;
    Ok(())
}

/// The session claim of a confirm: `open → processing` if the session is open and
/// unexpired, with the confirm's card; false, writing nothing, if it is not.
async fn claim(ex: &mut impl Exec, id: &str, now: i64, card: &NewCard) -> Result<bool, StoreError> {
    let updated = ex
        .execute(
            "UPDATE sessions SET status = 'processing' WHERE id = $1 AND status = 'open' AND expires_at > $2",
            &args![id, now],
        )
        .await?;
    if updated != 1 {
        return Ok(false);
    }
    insert_card(ex, card).await?;
    Ok(true)
}

/// Stores a secret key's hash; the key itself is shown once and never stored.
async fn insert_api_key(
    tx: &mut Tx<'_>,
    key_id: &str,
    merchant_id: &str,
    key_hash: &[u8],
    livemode: bool,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO api_keys (id, merchant_id, key_hash, livemode, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(key_id)
        .bind(merchant_id)
        .bind(key_hash)
        .bind(livemode)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// An audit entry for what the `payframe` CLI did (merchants and their keys have no API).
fn cli_entry(
    merchant_id: &str,
    action: &'static str,
    object_type: &'static str,
    object_id: &str,
    details: serde_json::Value,
    now: i64,
) -> NewAuditEntry {
    NewAuditEntry {
        merchant_id: Some(merchant_id.to_owned()),
        actor: "cli".into(),
        action,
        object_type,
        object_id: object_id.to_owned(),
        customer_id: None,
        request_id: None,
        details,
        at: now,
    }
}

const SESSION_BY_ID: &str = "SELECT * FROM sessions WHERE id = $1";

fn session_from_row(r: &impl Columns) -> Result<Session, StoreError> {
    Ok(Session {
        id: r.text("id")?,
        merchant_id: r.text("merchant_id")?,
        client_secret_hash: r.blob("client_secret_hash")?,
        amount: r.int("amount")?,
        currency: r.text("currency")?,
        reference: r.opt_text("reference")?,
        allowed_origins: json_list(&r.text("allowed_origins")?)?,
        status: r.text("status")?,
        capture_method: r.text("capture_method")?,
        declined_attempts: r.int("declined_attempts")?,
        livemode: r.flag("livemode")?,
        expires_at: r.int("expires_at")?,
        created_at: r.int("created_at")?,
        customer_id: r.opt_text("customer_id")?,
        save_payment_method: r.flag("save_payment_method")?,
    })
}

fn json_list(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt("origin list"))
}

impl Store {
    /// Opens the database at `url` (`sqlite://…`, created if missing, or `postgres://…`)
    /// with default pool settings and applies migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, &PoolSettings::default()).await
    }

    pub async fn connect_with(url: &str, settings: &PoolSettings) -> Result<Store, StoreError> {
        let (pool, backend) = connect::open(url, settings).await?;
        let write_gate = (backend == Backend::Sqlite).then(|| Arc::new(Semaphore::new(1)));
        let mut store = Store {
            pool,
            backend,
            outbox: Arc::new(Notify::new()),
            write_gate,
            writer: None,
            readers: None,
        };
        store.migrate().await?;
        if let Some(gate) = &store.write_gate {
            // Started after the migrations: its connection finds the schema in place.
            let path = connect::sqlite_path(url)?;
            store.writer = Some(Arc::new(Writer::start(&path, Arc::clone(gate))?));
            store.readers = Some(Arc::new(Readers::open(&path)?));
        }
        Ok(store)
    }

    /// Begins a transaction, on SQLite once the write gate lets it in; the permit (held
    /// until it is dropped, after the commit) must live as long as the transaction.
    async fn begin(&self) -> Result<(Option<OwnedSemaphorePermit>, Tx<'static>), StoreError> {
        let permit = match &self.write_gate {
            Some(gate) => Some(
                Arc::clone(gate)
                    .acquire_owned()
                    .await
                    .expect("the write gate is never closed"),
            ),
            None => None,
        };
        Ok((permit, self.pool.begin().await?))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Notified when this instance has queued webhook deliveries.
    pub fn outbox_written(&self) -> &Notify {
        &self.outbox
    }

    /// Applies the backend's pending migrations (several instances starting at once are
    /// safe: sqlx takes a database lock while migrating).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.pool)
                    .await?
            }
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// Waits for checked-out connections to come back, then closes the pool.
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.stop().await;
            let stats = writer.stats();
            tracing::info!(
                writes = stats.writes.load(std::sync::atomic::Ordering::Relaxed),
                commits = stats.commits.load(std::sync::atomic::Ordering::Relaxed),
                "SQLite writer stopped"
            );
        }
        self.pool.close().await;
    }

    /// The SQLite writer thread's counters; `None` on PostgreSQL, which has no such thread.
    pub fn writer_stats(&self) -> Option<Arc<WriterStats>> {
        self.writer
            .as_ref()
            .map(|writer| Arc::clone(writer.stats()))
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn insert_merchant(
        &self,
        m: &NewMerchant<'_>,
        key_id: &str,
        key_hash: &[u8],
        livemode: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        let (_write, mut tx) = self.begin().await?;
        sqlx::query(
            "INSERT INTO merchants (id, name, origins, webhook_url, webhook_secret_wrapped, master_key_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(m.id)
        .bind(m.name)
        .bind(serde_json::to_string(m.origins).expect("strings serialize"))
        .bind(m.webhook_url)
        .bind(m.webhook_secret_wrapped)
        .bind(m.master_key_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_api_key(&mut tx, key_id, m.id, key_hash, livemode, now).await?;
        if let Some(endpoint) = m.webhook_endpoint {
            webhooks::insert_endpoint(&mut tx, endpoint).await?;
        }
        audit::append(
            &mut tx,
            &cli_entry(
                m.id,
                "merchant.created",
                "merchant",
                m.id,
                serde_json::json!({"api_key": key_id, "livemode": livemode}),
                now,
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the merchant's active key of that mode with a new one, in one transaction.
    /// Returns false (changing nothing) for an unknown merchant.
    pub async fn roll_api_key(
        &self,
        merchant_id: &str,
        key_id: &str,
        key_hash: &[u8],
        livemode: bool,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (_write, mut tx) = self.begin().await?;
        let known = sqlx::query("SELECT 1 FROM merchants WHERE id = $1")
            .bind(merchant_id)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Ok(false);
        }
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE merchant_id = $2 AND livemode = $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(merchant_id)
            .bind(livemode)
            .execute(&mut *tx)
            .await?;
        insert_api_key(&mut tx, key_id, merchant_id, key_hash, livemode, now).await?;
        audit::append(
            &mut tx,
            &cli_entry(
                merchant_id,
                "api_key.rolled",
                "api_key",
                key_id,
                serde_json::json!({"livemode": livemode}),
                now,
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The merchant owning an active secret key, found by the key's hash.
    pub async fn merchant_by_key_hash(
        &self,
        key_hash: &[u8],
    ) -> Result<Option<(Merchant, String, Vec<u8>, bool)>, StoreError> {
        let row = sqlx::query(
            "SELECT m.id, m.name, m.origins, k.id AS key_id, k.key_hash, k.livemode FROM api_keys k
             JOIN merchants m ON m.id = k.merchant_id
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok((
                Merchant {
                    id: r.get("id"),
                    name: r.get("name"),
                    origins: json_list(r.get("origins"))?,
                },
                r.get("key_id"),
                r.get("key_hash"),
                r.flag("livemode")?,
            ))
        })
        .transpose()
    }

    /// Inserts a new session with what its request writes along.
    pub async fn insert_session(&self, s: &Session, along: &WriteAlong) -> Result<(), StoreError> {
        let (_write, mut tx) = self.begin().await?;
        sqlx::query(
            "INSERT INTO sessions (id, merchant_id, client_secret_hash, amount, currency, reference,
                                   allowed_origins, status, capture_method, livemode, expires_at, created_at,
                                   customer_id, save_payment_method)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&s.id)
        .bind(&s.merchant_id)
        .bind(&s.client_secret_hash)
        .bind(s.amount)
        .bind(&s.currency)
        .bind(&s.reference)
        .bind(serde_json::to_string(&s.allowed_origins).expect("strings serialize"))
        .bind(&s.status)
        .bind(&s.capture_method)
        .bind(s.livemode)
        .bind(s.expires_at)
        .bind(s.created_at)
        .bind(s.customer_id.as_deref())
        .bind(s.save_payment_method)
        .execute(&mut *tx)
        .await?;
        along.write(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        if let Some(readers) = &self.readers {
            return readers
                .read(|db| db.fetch_optional(SESSION_BY_ID, &args![id], |r| session_from_row(r)));
        }
        let row = sqlx::query(SESSION_BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// Writes a vaulted card in a transaction of its own.
    pub async fn insert_card(&self, card: &NewCard) -> Result<(), StoreError> {
        let (_write, mut tx) = self.begin().await?;
        insert_card(&mut tx, card).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes an open, unexpired session for one confirm (`open → processing`) and vaults
    /// the confirm's card, in one transaction: only one of several concurrent confirms gets
    /// the session, so it is never charged twice, and the card is stored only for the one
    /// that does. On SQLite it is committed in a group with other requests' writes.
    pub async fn claim_session(
        &self,
        id: &str,
        now: i64,
        card: NewCard,
    ) -> Result<bool, StoreError> {
        if let Some(writer) = &self.writer {
            let id = id.to_owned();
            return writer
                .submit(move |db| run_ready(claim(db, &id, now, &card)))
                .await;
        }
        let (_write, mut tx) = self.begin().await?;
        let claimed = claim(&mut tx, id, now, &card).await?;
        if claimed {
            tx.commit().await?;
        }
        Ok(claimed)
    }

    /// Gives a claimed session back (`processing → open`) when its confirm failed before
    /// any processor answer was recorded.
    pub async fn release_session(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET status = 'open' WHERE id = $1 AND status = 'processing'")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The stored ciphertext of a vaulted card, for detokenisation inside the server.
    pub async fn card_secret(&self, token: &str) -> Result<Option<(Vec<u8>, Vec<u8>)>, StoreError> {
        let row =
            sqlx::query("SELECT pan_ciphertext, data_key_wrapped FROM cards WHERE token = $1")
                .bind(token)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| (r.get("pan_ciphertext"), r.get("data_key_wrapped"))))
    }

    /// Stores a generated secret unless one of that name exists (the first writer wins).
    pub async fn insert_stored_secret(
        &self,
        name: &str,
        wrapped: &[u8],
        master_key_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO wrapped_secrets (name, secret_wrapped, master_key_id, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(wrapped)
        .bind(master_key_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn stored_secret(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT secret_wrapped FROM wrapped_secrets WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get("secret_wrapped")))
    }

    /// Re-wraps every blob wrapped by the master key, in one transaction: `rewrap` gets the
    /// blob's purpose and bytes and returns the blob under the new key (or an error, which
    /// rolls everything back). Returns how many blobs were re-wrapped.
    pub async fn rewrap_all<E>(
        &self,
        new_master_key_id: &str,
        rewrap: impl Fn(&str, &[u8]) -> Result<Vec<u8>, E>,
    ) -> Result<Result<u64, E>, StoreError> {
        use crate::master_key::purpose;
        // (table, wrapped column, purpose, primary key columns, all text).
        const WRAPPED: &[(&str, &str, &str, &[&str])] = &[
            (
                "encryption_keys",
                "private_key_wrapped",
                purpose::HPKE_PRIVATE_KEY,
                &["kid"],
            ),
            (
                "cards",
                "data_key_wrapped",
                purpose::CARD_DATA_KEY,
                &["token"],
            ),
            (
                "merchants",
                "webhook_secret_wrapped",
                purpose::WEBHOOK_SECRET,
                &["id"],
            ),
            (
                "webhook_endpoints",
                "secret_wrapped",
                purpose::WEBHOOK_SECRET,
                &["id"],
            ),
            (
                "wrapped_secrets",
                "secret_wrapped",
                purpose::STORED_SECRET,
                &["name"],
            ),
            (
                "idempotency_keys",
                "response_body",
                purpose::IDEMPOTENT_RESPONSE,
                &["merchant_id", "key"],
            ),
        ];
        let (_write, mut tx) = self.begin().await?;
        let mut count = 0;
        for (table, column, purpose, key) in WRAPPED {
            let key_list = key.join(", ");
            let rows = sqlx::query(&format!(
                "SELECT {key_list}, {column} FROM {table} WHERE {column} IS NOT NULL"
            ))
            .fetch_all(&mut *tx)
            .await?;
            let matches: Vec<String> = (0..key.len())
                .map(|i| format!("{} = ${}", key[i], i + 3))
                .collect();
            let update = format!(
                "UPDATE {table} SET {column} = $1, master_key_id = $2 WHERE {}",
                matches.join(" AND ")
            );
            for row in rows {
                let blob: Vec<u8> = row.try_get(key.len())?;
                // A crypto-shredded card's data key is an empty blob: nothing to re-wrap.
                if blob.is_empty() {
                    continue;
                }
                let rewrapped = match rewrap(purpose, &blob) {
                    Ok(b) => b,
                    Err(e) => return Ok(Err(e)),
                };
                let mut query = sqlx::query(&update).bind(rewrapped).bind(new_master_key_id);
                for i in 0..key.len() {
                    query = query.bind(row.try_get::<String, _>(i)?);
                }
                query.execute(&mut *tx).await?;
                count += 1;
            }
        }
        tx.commit().await?;
        Ok(Ok(count))
    }

    pub async fn encryption_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, private_key_wrapped, created_at, retired_at FROM encryption_keys ORDER BY created_at, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| StoredKey {
                kid: r.get("kid"),
                private_key_wrapped: r.get("private_key_wrapped"),
                created_at: r.get("created_at"),
                retired_at: r.get("retired_at"),
            })
            .collect())
    }

    /// Makes `kid` the current encryption key, retiring the previous current one.
    pub async fn insert_current_key(
        &self,
        kid: &str,
        public_key: &[u8],
        private_key_wrapped: &[u8],
        master_key_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let (_write, mut tx) = self.begin().await?;
        sqlx::query("UPDATE encryption_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO encryption_keys (kid, public_key, private_key_wrapped, master_key_id, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(kid)
        .bind(public_key)
        .bind(private_key_wrapped)
        .bind(master_key_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::values_rows;

    /// The sessions' status check of `20261201000001`, as it upgrades a database holding
    /// a paid session: the rows and their references stay, the check keeps refusing an
    /// unknown status, and SQLite no longer needs a temporary index to run it.
    #[tokio::test]
    async fn the_status_check_rewrite_keeps_sessions_and_their_references() {
        const REWRITE: i64 = 20261201000001;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let url = format!("sqlite://{}", path.display());
        // The database as the releases before this migration left it.
        let mut before = sqlx::migrate!("./migrations/sqlite");
        before.migrations = before
            .migrations
            .iter()
            .filter(|m| m.version < REWRITE)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        before.run(&pool).await.unwrap();
        pool.close().await;
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             INSERT INTO merchants (id, name, origins, webhook_secret_wrapped, master_key_id, created_at)
                 VALUES ('mer_1', 'Shop', '[]', x'00', 'mk_1', 1);
             INSERT INTO sessions (id, merchant_id, client_secret_hash, amount, currency, allowed_origins,
                                   status, capture_method, livemode, expires_at, created_at)
                 VALUES ('cs_1', 'mer_1', x'00', 1999, 'BRL', '[]', 'complete', 'automatic', 0, 9, 1),
                        ('cs_2', 'mer_1', x'00', 500, 'BRL', '[]', 'open', 'manual', 0, 9, 1);
             INSERT INTO cards (token, merchant_id, session_id, brand, bin, last4, exp_month, exp_year,
                                fingerprint, pan_ciphertext, data_key_wrapped, master_key_id, single_use, created_at)
                 VALUES ('tok_1', 'mer_1', 'cs_1', 'visa', '424242', '4242', 12, 2030, x'01', x'02', x'03', 'mk_1', 1, 1);
             INSERT INTO payments (id, merchant_id, session_id, card_token, brand, last4, exp_month, exp_year,
                                   amount, currency, capture_method, status, amount_captured, amount_refunded,
                                   livemode, version, created_at)
                 VALUES ('pay_1', 'mer_1', 'cs_1', 'tok_1', 'visa', '4242', 12, 2030, 1999, 'BRL', 'automatic',
                         'captured', 1999, 0, 0, 1, 1);",
        )
        .unwrap();
        let schema = |conn: &rusqlite::Connection| -> String {
            conn.query_row(
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'sessions'",
                [],
                |row| row.get(0),
            )
            .unwrap()
        };
        assert!(schema(&conn).contains("status IN ("));
        drop(conn);

        let store = super::Store::connect_with(&url, &super::PoolSettings::default())
            .await
            .unwrap();
        store.close().await;

        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        let text = schema(&conn);
        assert!(!text.contains("status IN ("), "{text}");
        assert!(
            text.contains("status = 'open' OR status = 'processing'"),
            "{text}"
        );
        let rows: Vec<(String, String)> = conn
            .prepare("SELECT id, status FROM sessions ORDER BY id")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                ("cs_1".to_owned(), "complete".to_owned()),
                ("cs_2".to_owned(), "open".to_owned())
            ]
        );
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
        let orphans = conn
            .prepare("PRAGMA foreign_key_check")
            .unwrap()
            .query_map([], |_| Ok(()))
            .unwrap()
            .count();
        assert_eq!(orphans, 0);
        // The rule still holds, and the session still cannot go while a payment names it.
        let bad = conn.execute("UPDATE sessions SET status = 'paid' WHERE id = 'cs_2'", []);
        assert!(
            matches!(&bad, Err(e) if e.to_string().contains("CHECK constraint failed")),
            "{bad:?}"
        );
        assert!(
            conn.execute("DELETE FROM sessions WHERE id = 'cs_1'", [])
                .is_err()
        );
        assert_eq!(
            conn.execute(
                "UPDATE sessions SET status = 'processing' WHERE id = 'cs_2'",
                []
            )
            .unwrap(),
            1
        );
        // And it runs without a temporary index (`OpenEphemeral`) now.
        let ops: Vec<String> = conn
            .prepare("EXPLAIN UPDATE sessions SET status = 'complete' WHERE id = 'cs_2'")
            .unwrap()
            .query_map([], |row| row.get(1))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            ops.iter().any(|op| op == "Update" || op == "Insert"),
            "{ops:?}"
        );
        assert!(!ops.iter().any(|op| op == "OpenEphemeral"), "{ops:?}");
    }

    #[test]
    fn values_rows_numbers_placeholders_row_by_row() {
        assert_eq!(values_rows(1, 3), "($1, $2, $3)");
        assert_eq!(values_rows(2, 2), "($1, $2), ($3, $4)");
        let sql = super::multi_insert("INSERT INTO t (a, b) VALUES ", 2, 2);
        assert_eq!(&*sql, "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
        assert!(std::sync::Arc::ptr_eq(
            &sql,
            &super::multi_insert("INSERT INTO t (a, b) VALUES ", 2, 2)
        ));
    }
}
