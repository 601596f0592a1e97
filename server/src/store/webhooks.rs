//! Webhooks in storage: endpoints, events and the outbox of deliveries with their attempts.
//! Events and their deliveries are written inside the payment's own transaction
//! (`insert_events`, called by `save_payment`), so a committed payment change always has its
//! events queued and a rolled-back one never does. Workers claim due deliveries with a
//! lease: on PostgreSQL `FOR UPDATE SKIP LOCKED` lets instances claim side by side; SQLite
//! serialises writers, so its plain `UPDATE … WHERE id IN (…)` is already exclusive.

use super::exec::{Columns, Exec, args};
use super::{Backend, Store, StoreError, Tx, json_list};
use crate::webhooks::events::{NewEvent, subscribed};
use sqlx::Row;
use sqlx::any::AnyRow;

/// An endpoint about to be stored; its secret is already wrapped.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub id: String,
    pub merchant_id: String,
    pub url: String,
    pub enabled_events: Vec<String>,
    pub secret_wrapped: Vec<u8>,
    pub master_key_id: String,
    pub livemode: bool,
    pub created_at: i64,
}

impl NewEndpoint {
    pub fn into_row(self) -> EndpointRow {
        EndpointRow {
            id: self.id,
            merchant_id: self.merchant_id,
            url: self.url,
            enabled_events: self.enabled_events,
            livemode: self.livemode,
            created_at: self.created_at,
        }
    }
}

/// A stored endpoint, without its secret.
#[derive(Debug, Clone)]
pub struct EndpointRow {
    pub id: String,
    pub merchant_id: String,
    pub url: String,
    pub enabled_events: Vec<String>,
    pub livemode: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: String,
    pub merchant_id: String,
    pub kind: String,
    pub livemode: bool,
    /// The JSON document as delivered.
    pub body: String,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct AttemptRow {
    /// 1 for the first attempt.
    pub number: i64,
    pub attempted_at: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub latency_ms: i64,
}

#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub id: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub url: String,
    /// `pending`, `delivered`, `failed` or `canceled`.
    pub status: String,
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub attempts: Vec<AttemptRow>,
}

/// A delivery a worker holds the lease of, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub url: String,
    pub secret_wrapped: Vec<u8>,
    pub livemode: bool,
    pub body: String,
    /// Attempts made before this one.
    pub attempts: i64,
}

/// One attempt's result, as recorded.
#[derive(Debug, Clone)]
pub struct NewAttempt {
    pub attempted_at: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub latency_ms: i64,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryNext {
    Delivered { at: i64 },
    Retry { at: i64 },
    Failed { at: i64 },
}

fn endpoint_from_row(r: &AnyRow) -> Result<EndpointRow, StoreError> {
    Ok(EndpointRow {
        id: r.get("id"),
        merchant_id: r.get("merchant_id"),
        url: r.get("url"),
        enabled_events: json_list(r.get("enabled_events"))?,
        livemode: r.flag("livemode")?,
        created_at: r.get("created_at"),
    })
}

fn event_from_row(r: &AnyRow) -> Result<EventRow, StoreError> {
    Ok(EventRow {
        id: r.get("id"),
        merchant_id: r.get("merchant_id"),
        kind: r.get("type"),
        livemode: r.flag("livemode")?,
        body: r.get("body"),
        created_at: r.get("created_at"),
    })
}

pub(super) async fn insert_endpoint(tx: &mut Tx<'_>, e: &NewEndpoint) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, merchant_id, url, enabled_events, secret_wrapped, master_key_id, livemode, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&e.id)
    .bind(&e.merchant_id)
    .bind(&e.url)
    .bind(serde_json::to_string(&e.enabled_events).expect("strings serialize"))
    .bind(&e.secret_wrapped)
    .bind(&e.master_key_id)
    .bind(e.livemode)
    .bind(e.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queues `event`'s deliveries: one per enabled endpoint of its merchant and mode that
/// subscribes to its type, due at `due`. An endpoint with a
/// delivery of this event still pending gets that one moved to `due` instead of a second.
async fn queue_deliveries(
    ex: &mut impl Exec,
    event_id: &str,
    merchant_id: &str,
    kind: &str,
    livemode: bool,
    due: i64,
) -> Result<u64, StoreError> {
    let endpoints = endpoints_of(ex, merchant_id, livemode).await?;
    queue_to(ex, &endpoints, event_id, kind, due).await
}

/// An endpoint's id and the event types it subscribes to.
type Subscriber = (String, Vec<String>);

/// The endpoints of a merchant in one mode.
async fn endpoints_of(
    ex: &mut impl Exec,
    merchant_id: &str,
    livemode: bool,
) -> Result<Vec<Subscriber>, StoreError> {
    ex.fetch_text(
        "SELECT id, enabled_events FROM webhook_endpoints
         WHERE merchant_id = $1 AND livemode = $2 AND deleted_at IS NULL ORDER BY created_at, id",
        &args![merchant_id, livemode],
    )
    .await?
    .into_iter()
    .map(|row| match <[String; 2]>::try_from(row) {
        Ok([id, events]) => Ok((id, json_list(&events)?)),
        Err(_) => Err(StoreError::Corrupt("webhook endpoint row")),
    })
    .collect()
}

/// The part of [`queue_deliveries`] after the endpoints are known.
async fn queue_to(
    ex: &mut impl Exec,
    endpoints: &[Subscriber],
    event_id: &str,
    kind: &str,
    due: i64,
) -> Result<u64, StoreError> {
    let mut queued = 0;
    for (endpoint_id, enabled_events) in endpoints {
        if !subscribed(enabled_events, kind) {
            continue;
        }
        let moved = ex
            .execute(
                "UPDATE webhook_deliveries SET next_attempt_at = $1
                 WHERE event_id = $2 AND endpoint_id = $3 AND status = 'pending'",
                &args![due, event_id, endpoint_id],
            )
            .await?;
        if moved == 0 {
            let id = crate::ids::new_id("whd");
            ex.execute(
                "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, status, attempts, next_attempt_at, created_at)
                 VALUES ($1, $2, $3, 'pending', 0, $4, $4)",
                &args![&id, event_id, endpoint_id, due],
            )
            .await?;
        }
        queued += 1;
    }
    Ok(queued)
}

/// Writes `events` and queues their deliveries, inside the caller's transaction: the events
/// with [`Exec::insert_rows`] and one look-up of the endpoints for each merchant and mode,
/// since every statement here is spent holding the write lock.
pub(super) async fn insert_events(
    ex: &mut impl Exec,
    events: &[NewEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut values = Vec::with_capacity(events.len() * 7);
    for e in events {
        values.extend(args![
            &e.id,
            &e.merchant_id,
            e.kind.as_str(),
            &e.payment_id,
            e.livemode,
            &e.body,
            e.created,
        ]);
    }
    ex.insert_rows(
        "INSERT INTO events (id, merchant_id, type, payment_id, livemode, body, created_at) VALUES ",
        7,
        &values,
    )
    .await?;
    let mut endpoints: Option<(&str, bool, Vec<Subscriber>)> = None;
    for e in events {
        let same = matches!(&endpoints, Some((m, l, _)) if *m == e.merchant_id && *l == e.livemode);
        if !same {
            let found = endpoints_of(ex, &e.merchant_id, e.livemode).await?;
            endpoints = Some((&e.merchant_id, e.livemode, found));
        }
        let (_, _, found) = endpoints.as_ref().expect("set above");
        queue_to(ex, found, &e.id, e.kind.as_str(), e.created).await?;
    }
    Ok(())
}

impl Store {
    /// Stores an endpoint unless the merchant already has `max` in that mode (then false).
    pub async fn insert_webhook_endpoint(
        &self,
        e: &NewEndpoint,
        max: i64,
    ) -> Result<bool, StoreError> {
        let (_write, mut tx) = self.begin().await?;
        // Insert, then count (a write first, see `finish_attempt`); over the limit rolls back.
        insert_endpoint(&mut tx, e).await?;
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM webhook_endpoints WHERE merchant_id = $1 AND livemode = $2 AND deleted_at IS NULL",
        )
        .bind(&e.merchant_id)
        .bind(e.livemode)
        .fetch_one(&mut *tx)
        .await?;
        if count > max {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Newest first; `starting_after` is the last endpoint id of the previous page.
    pub async fn webhook_endpoints(
        &self,
        merchant_id: &str,
        livemode: bool,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Vec<EndpointRow>, StoreError> {
        sqlx::query(
            "SELECT * FROM webhook_endpoints WHERE merchant_id = $1 AND livemode = $2 AND deleted_at IS NULL
               AND ($3 IS NULL OR (created_at, id) < (SELECT created_at, id FROM webhook_endpoints WHERE id = $3 AND merchant_id = $1))
             ORDER BY created_at DESC, id DESC LIMIT $4",
        )
        .bind(merchant_id)
        .bind(livemode)
        .bind(starting_after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(endpoint_from_row)
        .collect()
    }

    /// An endpoint of this merchant and mode that is not deleted.
    pub async fn webhook_endpoint(
        &self,
        merchant_id: &str,
        livemode: bool,
        id: &str,
    ) -> Result<Option<EndpointRow>, StoreError> {
        sqlx::query(
            "SELECT * FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2 AND livemode = $3 AND deleted_at IS NULL",
        )
        .bind(id)
        .bind(merchant_id)
        .bind(livemode)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(endpoint_from_row)
        .transpose()
    }

    /// Deletes an endpoint (kept for its delivery history) and cancels its pending
    /// deliveries. False if there is no such endpoint.
    pub async fn delete_webhook_endpoint(
        &self,
        merchant_id: &str,
        livemode: bool,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (_write, mut tx) = self.begin().await?;
        let deleted = sqlx::query(
            "UPDATE webhook_endpoints SET deleted_at = $1
             WHERE id = $2 AND merchant_id = $3 AND livemode = $4 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(merchant_id)
        .bind(livemode)
        .execute(&mut *tx)
        .await?;
        if deleted.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'canceled', next_attempt_at = NULL, finished_at = $1,
                lease_owner = NULL, lease_until = NULL
             WHERE endpoint_id = $2 AND status = 'pending'",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Newest first; `starting_after` is the last event id of the previous page.
    pub async fn events(
        &self,
        merchant_id: &str,
        livemode: bool,
        kind: Option<&str>,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Vec<EventRow>, StoreError> {
        sqlx::query(
            "SELECT * FROM events WHERE merchant_id = $1 AND livemode = $2
               AND ($3 IS NULL OR type = $3)
               AND ($4 IS NULL OR seq < (SELECT seq FROM events WHERE id = $4 AND merchant_id = $1))
             ORDER BY seq DESC LIMIT $5",
        )
        .bind(merchant_id)
        .bind(livemode)
        .bind(kind)
        .bind(starting_after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(event_from_row)
        .collect()
    }

    pub async fn event(
        &self,
        merchant_id: &str,
        livemode: bool,
        id: &str,
    ) -> Result<Option<EventRow>, StoreError> {
        sqlx::query("SELECT * FROM events WHERE id = $1 AND merchant_id = $2 AND livemode = $3")
            .bind(id)
            .bind(merchant_id)
            .bind(livemode)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(event_from_row)
            .transpose()
    }

    /// An event's deliveries, oldest first, each with its attempts in order.
    pub async fn event_deliveries(&self, event_id: &str) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.*, w.url FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
             WHERE d.event_id = $1 ORDER BY d.created_at, d.id",
        )
        .bind(event_id)
        .fetch_all(&self.pool)
        .await?;
        let attempts = sqlx::query(
            "SELECT a.* FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
             WHERE d.event_id = $1 ORDER BY a.delivery_id, a.seq",
        )
        .bind(event_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let id: String = r.get("id");
                DeliveryRow {
                    attempts: attempts
                        .iter()
                        .filter(|a| a.get::<&str, _>("delivery_id") == id)
                        .map(|a| AttemptRow {
                            number: a.get("seq"),
                            attempted_at: a.get("attempted_at"),
                            status_code: a.get("status_code"),
                            error: a.get("error"),
                            latency_ms: a.get("latency_ms"),
                        })
                        .collect(),
                    id,
                    event_id: r.get("event_id"),
                    endpoint_id: r.get("endpoint_id"),
                    url: r.get("url"),
                    status: r.get("status"),
                    next_attempt_at: r.get("next_attempt_at"),
                    created_at: r.get("created_at"),
                    finished_at: r.get("finished_at"),
                }
            })
            .collect())
    }

    /// Queues a fresh delivery of `event` to each endpoint that subscribes to it now, due
    /// at `now`; returns how many endpoints it goes to.
    pub async fn redeliver_event(&self, event: &EventRow, now: i64) -> Result<u64, StoreError> {
        let (_write, mut tx) = self.begin().await?;
        // Pending deliveries of the event become due now (and this write comes first, see
        // `finish_attempt`); finished ones get a fresh delivery below.
        sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE event_id = $2 AND status = 'pending'",
        )
        .bind(now)
        .bind(&event.id)
        .execute(&mut *tx)
        .await?;
        let queued = queue_deliveries(
            &mut tx,
            &event.id,
            &event.merchant_id,
            &event.kind,
            event.livemode,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(queued)
    }

    /// Takes the lease of up to `limit` deliveries due at `now` (pending, not leased or
    /// lease expired) for `owner` until `lease_until`, and returns them. Several instances
    /// can call this at once: each delivery goes to one.
    pub async fn claim_due_deliveries(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        // PostgreSQL: rows another instance is claiming are skipped instead of waited for.
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let due = "status = 'pending' AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)";
        sqlx::query(&format!(
            "UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2
             WHERE id IN (SELECT id FROM webhook_deliveries WHERE {due}
                          ORDER BY next_attempt_at, created_at, id LIMIT $4 {lock})
               AND {due}"
        ))
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        let rows = sqlx::query(
            "SELECT d.id, d.event_id, d.endpoint_id, d.attempts, e.body, w.url, w.secret_wrapped, w.livemode
             FROM webhook_deliveries d
             JOIN events e ON e.id = d.event_id
             JOIN webhook_endpoints w ON w.id = d.endpoint_id
             WHERE d.lease_owner = $1 AND d.status = 'pending'
             ORDER BY d.next_attempt_at, d.created_at, d.id",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ClaimedDelivery {
                    id: r.get("id"),
                    event_id: r.get("event_id"),
                    endpoint_id: r.get("endpoint_id"),
                    url: r.get("url"),
                    secret_wrapped: r.get("secret_wrapped"),
                    livemode: r.flag("livemode")?,
                    body: r.get("body"),
                    attempts: r.get("attempts"),
                })
            })
            .collect()
    }

    /// Records an attempt of a delivery `owner` holds and what becomes of the delivery, and
    /// gives the lease back. The attempt is recorded even if the lease was lost meanwhile
    /// (it happened); the delivery then stays as the new holder leaves it: returns false.
    pub async fn finish_attempt(
        &self,
        delivery_id: &str,
        owner: &str,
        attempt: &NewAttempt,
        next: DeliveryNext,
    ) -> Result<bool, StoreError> {
        let (status, next_at, finished_at) = match next {
            DeliveryNext::Delivered { at } => ("delivered", None, Some(at)),
            DeliveryNext::Retry { at } => ("pending", Some(at), None),
            DeliveryNext::Failed { at } => ("failed", None, Some(at)),
        };
        let (_write, mut tx) = self.begin().await?;
        // The write comes first: on SQLite a transaction that reads before it writes cannot
        // wait for another writer (SQLITE_BUSY at once), one that writes first can.
        let updated = sqlx::query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, status = $1, next_attempt_at = $2,
                finished_at = $3, lease_owner = NULL, lease_until = NULL
             WHERE id = $4 AND lease_owner = $5 AND status = 'pending'",
        )
        .bind(status)
        .bind(next_at)
        .bind(finished_at)
        .bind(delivery_id)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        let seq: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM webhook_attempts WHERE delivery_id = $1",
        )
        .bind(delivery_id)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, seq, attempted_at, status_code, error, latency_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(delivery_id)
        .bind(seq)
        .bind(attempt.attempted_at)
        .bind(attempt.status_code)
        .bind(&attempt.error)
        .bind(attempt.latency_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(updated.rows_affected() == 1)
    }

    /// How many deliveries of all merchants are still pending (not yet delivered, failed
    /// for good or canceled), and the earliest time one of them was due to be attempted.
    pub async fn webhook_backlog(&self) -> Result<(i64, Option<i64>), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS pending, MIN(next_attempt_at) AS first_due
             FROM webhook_deliveries WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("pending")?, row.try_get("first_due")?))
    }

    /// Gives back the leases of every unfinished delivery whose owner starts with
    /// `owner_prefix` (an instance shutting down), so another instance takes them at once
    /// instead of after the lease expires.
    pub async fn release_delivery_leases(&self, owner_prefix: &str) -> Result<u64, StoreError> {
        let released = sqlx::query(
            "UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL
             WHERE lease_owner LIKE $1 AND status = 'pending'",
        )
        .bind(format!("{owner_prefix}%"))
        .execute(&self.pool)
        .await?;
        Ok(released.rows_affected())
    }
}
