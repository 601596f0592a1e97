//! Payments in storage: the row of each payment's current state, its transitions (appended,
//! never rewritten), refunds, the session's state after a confirm and the webhook events the
//! change causes, with the audit entry and the idempotent response of the request that made
//! it — what belongs together is written in one transaction, guarded by the payment's version.

use super::exec::{Columns, Exec, args, run_ready};
use super::{Store, StoreError, Tx, WriteAlong, get_u32};
use crate::payments::{
    Actor, CaptureMethod, OperationKind, Payment, PaymentParts, Status, Transition,
};
use crate::processors::DeclineCode;
use payframe_core::{Amount, Currency};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A payment with what the API shows beside its state.
#[derive(Debug, Clone)]
pub struct PaymentRecord {
    pub id: String,
    pub merchant_id: String,
    pub session_id: Option<String>,
    pub card_token: Option<String>,
    pub brand: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
    pub livemode: bool,
    /// The customer the payment is for, if any.
    pub customer_id: Option<String>,
    /// The saved payment method (`pm_…`) that paid, or that the card was saved as.
    pub payment_method_id: Option<String>,
    /// The merchant's reference for a merchant-initiated payment.
    pub reference: Option<String>,
    /// 0 for a payment not stored yet; the stored version otherwise.
    pub version: i64,
    pub payment: Payment,
}

/// What a confirm did to its session.
#[derive(Debug, Clone, Copy)]
pub enum SessionOutcome {
    /// Paid (or awaiting the processor's word): the session takes no other card.
    Complete,
    /// Declined: the session opens again, or locks after `max_attempts` declines.
    Declined { max_attempts: i64 },
}

#[derive(Debug, Clone)]
pub struct NewRefund {
    pub id: String,
    pub amount: i64,
    pub created_at: i64,
}

pub struct RefundRow {
    pub id: String,
    pub payment_id: String,
    pub amount: i64,
    pub status: String,
    pub created_at: i64,
}

fn corrupt(what: &'static str) -> StoreError {
    StoreError::Corrupt(what)
}

fn transition_from_row(r: &AnyRow) -> Result<Transition, StoreError> {
    let status =
        |col: &str| Status::parse(r.get::<&str, _>(col)).ok_or(corrupt("transition status"));
    Ok(Transition {
        from: status("from_status")?,
        to: status("to_status")?,
        operation: OperationKind::parse(r.get("operation"))
            .ok_or(corrupt("transition operation"))?,
        actor: Actor::parse(r.get("actor")).ok_or(corrupt("transition actor"))?,
        at: r.get("at"),
        amount: r
            .get::<Option<i64>, _>("amount")
            .map(|a| Amount::new(a).map_err(|_| corrupt("transition amount")))
            .transpose()?,
    })
}

async fn transitions(tx: &mut Tx<'_>, payment_id: &str) -> Result<Vec<Transition>, StoreError> {
    sqlx::query("SELECT * FROM payment_transitions WHERE payment_id = $1 ORDER BY seq")
        .bind(payment_id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(transition_from_row)
        .collect()
}

async fn record_from_row(tx: &mut Tx<'_>, r: &AnyRow) -> Result<PaymentRecord, StoreError> {
    let id: String = r.get("id");
    let parts = PaymentParts {
        amount: Amount::new(r.get("amount")).map_err(|_| corrupt("payment amount"))?,
        currency: Currency::parse(r.get("currency")).map_err(|_| corrupt("payment currency"))?,
        capture_method: CaptureMethod::parse(r.get("capture_method"))
            .ok_or(corrupt("capture method"))?,
        status: Status::parse(r.get("status")).ok_or(corrupt("payment status"))?,
        amount_captured: r.get("amount_captured"),
        amount_refunded: r.get("amount_refunded"),
        decline_code: r
            .get::<Option<&str>, _>("decline_code")
            .map(|c| DeclineCode::parse(c).ok_or(corrupt("decline code")))
            .transpose()?,
        processor_reference: r.get("processor_reference"),
        created: r.get("created_at"),
        transitions: transitions(tx, &id).await?,
    };
    Ok(PaymentRecord {
        merchant_id: r.get("merchant_id"),
        session_id: r.get("session_id"),
        card_token: r.get("card_token"),
        brand: r.get("brand"),
        last4: r.get("last4"),
        exp_month: get_u32(r, "exp_month")?,
        exp_year: get_u32(r, "exp_year")?,
        livemode: r.flag("livemode")?,
        customer_id: r.get("customer_id"),
        payment_method_id: r.get("payment_method_id"),
        reference: r.get("reference"),
        version: r.get("version"),
        payment: Payment::from_parts(parts).map_err(|_| corrupt("payment invariants"))?,
        id,
    })
}

/// Appends `transitions`, numbered from `first_seq` ([`Exec::insert_rows`]: one statement
/// on PostgreSQL, where each is a round trip).
async fn insert_transitions(
    ex: &mut impl Exec,
    payment_id: &str,
    first_seq: usize,
    transitions: &[Transition],
) -> Result<(), StoreError> {
    if transitions.is_empty() {
        return Ok(());
    }
    let actors: Vec<String> = transitions.iter().map(|t| t.actor.to_string()).collect();
    let mut values = Vec::with_capacity(transitions.len() * 8);
    for (i, (t, actor)) in transitions.iter().zip(&actors).enumerate() {
        values.extend(args![
            payment_id,
            (first_seq + i) as i64,
            t.from.as_str(),
            t.to.as_str(),
            t.operation.as_str(),
            actor,
            t.amount.map(Amount::minor_units),
            t.at,
        ]);
    }
    ex.insert_rows(
        "INSERT INTO payment_transitions (payment_id, seq, from_status, to_status, operation, actor, amount, at) VALUES ",
        8,
        &values,
    )
    .await
}

/// What [`save_in`] wrote: whether it queued webhook events.
struct SavedPayment {
    events: bool,
}

/// The body of [`Store::save_payment`], inside the caller's transaction. `None`, having
/// written nothing, if another writer saved the payment since `record` was read.
async fn save_in(
    ex: &mut impl Exec,
    record: &PaymentRecord,
    outcome: Option<SessionOutcome>,
    refund: Option<&NewRefund>,
    along: &WriteAlong,
) -> Result<Option<SavedPayment>, StoreError> {
    let p = &record.payment;
    let saved = if record.version == 0 {
        let currency = p.currency().code();
        ex.execute(
            "INSERT INTO payments (id, merchant_id, session_id, card_token, brand, last4, exp_month, exp_year,
                amount, currency, capture_method, status, amount_captured, amount_refunded, decline_code,
                processor_reference, livemode, version, created_at, customer_id, payment_method_id, reference)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 1, $18, $19, $20, $21)",
            &args![
                &record.id,
                &record.merchant_id,
                &record.session_id,
                &record.card_token,
                &record.brand,
                &record.last4,
                i64::from(record.exp_month),
                i64::from(record.exp_year),
                p.amount().minor_units(),
                &currency,
                p.capture_method().as_str(),
                p.status().as_str(),
                p.amount_captured(),
                p.amount_refunded(),
                p.decline_code().map(DeclineCode::as_str),
                p.processor_reference(),
                record.livemode,
                p.created(),
                &record.customer_id,
                &record.payment_method_id,
                &record.reference,
            ],
        )
        .await?
    } else {
        ex.execute(
            "UPDATE payments SET status = $1, amount_captured = $2, amount_refunded = $3, decline_code = $4,
                processor_reference = $5, version = version + 1
             WHERE id = $6 AND version = $7",
            &args![
                p.status().as_str(),
                p.amount_captured(),
                p.amount_refunded(),
                p.decline_code().map(DeclineCode::as_str),
                p.processor_reference(),
                &record.id,
                record.version,
            ],
        )
        .await?
    };
    if saved != 1 {
        return Ok(None);
    }
    // A new payment has none stored yet; otherwise the version guard above means the
    // stored ones are still those this record was read with, counted here.
    let stored = if record.version == 0 {
        0
    } else {
        let count = ex
            .fetch_i64(
                "SELECT COUNT(*) FROM payment_transitions WHERE payment_id = $1",
                &args![&record.id],
            )
            .await?;
        usize::try_from(count).map_err(|_| corrupt("transition count"))?
    };
    let new_transitions = p.transitions().get(stored..).unwrap_or_default();
    insert_transitions(ex, &record.id, stored, new_transitions).await?;
    if let Some(refund) = refund {
        ex.execute(
            "INSERT INTO refunds (id, payment_id, amount, status, created_at) VALUES ($1, $2, $3, 'succeeded', $4)",
            &args![&refund.id, &record.id, refund.amount, refund.created_at],
        )
        .await?;
    }
    if let (Some(outcome), Some(session_id)) = (outcome, &record.session_id) {
        let sql = match outcome {
            SessionOutcome::Complete => {
                "UPDATE sessions SET status = 'complete' WHERE id = $1".to_owned()
            }
            SessionOutcome::Declined { max_attempts } => format!(
                "UPDATE sessions SET declined_attempts = declined_attempts + 1,
                    status = CASE WHEN declined_attempts + 1 >= {max_attempts} THEN 'locked' ELSE 'open' END
                 WHERE id = $1"
            ),
        };
        ex.execute(&sql, &args![session_id]).await?;
    }
    // The merchant hears of the change exactly when it is committed: its events and their
    // deliveries are part of this transaction.
    let events = crate::webhooks::events::for_transitions(record, new_transitions);
    super::webhooks::insert_events(ex, &events).await?;
    along.write(ex).await?;
    Ok(Some(SavedPayment {
        events: !events.is_empty(),
    }))
}

impl Store {
    /// Saves `record` (insert at version 1, or update if nobody saved it since it was read),
    /// appends its new transitions, and writes `refund`, the session's `outcome`, the
    /// events and what the request writes `along` — one transaction (on SQLite, committed
    /// in a group with other requests' writes). Returns false, writing nothing, if another
    /// writer got there first.
    pub async fn save_payment(
        &self,
        record: &mut PaymentRecord,
        outcome: Option<SessionOutcome>,
        refund: Option<&NewRefund>,
        along: WriteAlong,
    ) -> Result<bool, StoreError> {
        let saved = if let Some(writer) = &self.writer {
            let (copy, refund) = (record.clone(), refund.cloned());
            writer
                .submit(move |db| run_ready(save_in(db, &copy, outcome, refund.as_ref(), &along)))
                .await?
        } else {
            let (_write, mut tx) = self.begin().await?;
            let saved = save_in(&mut tx, record, outcome, refund, &along).await?;
            if saved.is_some() {
                tx.commit().await?;
            }
            saved
        };
        let Some(saved) = saved else {
            return Ok(false);
        };
        record.version += 1;
        if saved.events {
            self.outbox.notify_one();
        }
        Ok(true)
    }

    /// A payment of `merchant_id` (another merchant's payment is as good as missing).
    pub async fn payment(
        &self,
        merchant_id: &str,
        id: &str,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        // A read-only snapshot (the row with its transitions): no need to queue at the
        // write gate.
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT * FROM payments WHERE id = $1 AND merchant_id = $2")
            .bind(id)
            .bind(merchant_id)
            .fetch_optional(&mut *tx)
            .await?;
        let record = match row {
            Some(r) => Some(record_from_row(&mut tx, &r).await?),
            None => None,
        };
        tx.commit().await?;
        Ok(record)
    }

    /// Newest first; `starting_after` is the id of the last payment of the previous page.
    pub async fn payments(
        &self,
        merchant_id: &str,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        // Read-only, as `payment` above.
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT * FROM payments WHERE merchant_id = $1
               AND ($2 IS NULL OR (created_at, id) < (SELECT created_at, id FROM payments WHERE id = $2 AND merchant_id = $1))
             ORDER BY created_at DESC, id DESC LIMIT $3",
        )
        .bind(merchant_id)
        .bind(starting_after)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut records = Vec::with_capacity(rows.len());
        for r in &rows {
            records.push(record_from_row(&mut tx, r).await?);
        }
        tx.commit().await?;
        Ok(records)
    }

    pub async fn refunds(&self, payment_id: &str) -> Result<Vec<RefundRow>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM refunds WHERE payment_id = $1 ORDER BY created_at, id")
                .bind(payment_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|r| RefundRow {
                id: r.get("id"),
                payment_id: r.get("payment_id"),
                amount: r.get("amount"),
                status: r.get("status"),
                created_at: r.get("created_at"),
            })
            .collect())
    }
}
