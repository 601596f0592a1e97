//! What the merchant dashboard reads and writes: its sign-in sessions (by the hash of the
//! browser's token, tied to the API key that signed in) and its read-only summaries of one
//! merchant's payments in one mode (test or live), computed by the database.

use super::exec::Columns;
use super::{Merchant, Store, StoreError, audit, json_list};
use crate::payments::Status;
use sqlx::Row;
use std::collections::BTreeMap;

/// A signed-in dashboard session, found by its token's hash.
#[derive(Debug, Clone)]
pub struct DashboardSession {
    pub merchant: Merchant,
    pub api_key_id: String,
    pub livemode: bool,
    pub created_at: i64,
    pub last_seen_at: i64,
}

/// One currency's payments created since the summary's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyTotals {
    pub currency: String,
    pub payments: i64,
    /// Payments the processor answered: authorized at some point, or declined (`failed`).
    pub decided: i64,
    /// Of those, the ones it authorized (whatever happened to them after).
    pub approved: i64,
    /// Minor units captured.
    pub captured: i64,
}

/// Refunds made since the summary's start, in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundTotals {
    pub currency: String,
    pub refunds: i64,
    pub amount: i64,
}

/// One UTC day's payments in one currency (days are 86,400 s: Unix time has no leap seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayTotals {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub currency: String,
    pub payments: i64,
    pub captured: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub by_currency: Vec<CurrencyTotals>,
    pub refunds: Vec<RefundTotals>,
    /// (decline code, payments), most frequent first.
    pub declines: Vec<(String, i64)>,
    pub days: Vec<DayTotals>,
}

/// Payments of one day, currency, status and decline code: what the database counts.
#[derive(Debug, Clone)]
pub struct Group {
    pub day: i64,
    pub currency: String,
    pub status: String,
    pub decline_code: Option<String>,
    pub payments: i64,
    pub captured: i64,
}

impl Summary {
    /// The totals of `groups`: by currency (ordered by code), declines by code (most
    /// frequent first; a failure without a code counts as `unknown`), and by day and currency.
    pub fn of(groups: &[Group], refunds: Vec<RefundTotals>) -> Summary {
        let mut currencies: BTreeMap<&str, CurrencyTotals> = BTreeMap::new();
        let mut declines: BTreeMap<&str, i64> = BTreeMap::new();
        let mut days: BTreeMap<(i64, &str), (i64, i64)> = BTreeMap::new();
        for g in groups {
            let c = currencies
                .entry(&g.currency)
                .or_insert_with(|| CurrencyTotals {
                    currency: g.currency.clone(),
                    payments: 0,
                    decided: 0,
                    approved: 0,
                    captured: 0,
                });
            c.payments += g.payments;
            c.captured += g.captured;
            match Status::parse(&g.status) {
                Some(Status::Failed) => {
                    c.decided += g.payments;
                    *declines
                        .entry(g.decline_code.as_deref().unwrap_or("unknown"))
                        .or_insert(0) += g.payments;
                }
                // Authorized at some point, whatever happened after.
                Some(
                    Status::Authorized
                    | Status::Captured
                    | Status::PartiallyRefunded
                    | Status::Refunded
                    | Status::Canceled,
                ) => {
                    c.decided += g.payments;
                    c.approved += g.payments;
                }
                // Not answered yet.
                Some(Status::RequiresPaymentMethod | Status::Processing) | None => {}
            }
            let day = days.entry((g.day, &g.currency)).or_insert((0, 0));
            day.0 += g.payments;
            day.1 += g.captured;
        }
        let mut declines: Vec<(String, i64)> = declines
            .into_iter()
            .map(|(code, n)| (code.to_owned(), n))
            .collect();
        // Stable: equal counts stay in code order.
        declines.sort_by_key(|d| std::cmp::Reverse(d.1));
        Summary {
            by_currency: currencies.into_values().collect(),
            refunds,
            declines,
            days: days
                .into_iter()
                .map(|((day, currency), (payments, captured))| DayTotals {
                    day,
                    currency: currency.to_owned(),
                    payments,
                    captured,
                })
                .collect(),
        }
    }
}

/// A row of the dashboard's refund list.
#[derive(Debug, Clone)]
pub struct RefundLine {
    pub id: String,
    pub payment_id: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub created_at: i64,
}

/// A row of the dashboard's payment list.
#[derive(Debug, Clone)]
pub struct PaymentLine {
    pub id: String,
    pub status: String,
    pub amount: i64,
    pub currency: String,
    pub brand: String,
    pub last4: String,
    pub decline_code: Option<String>,
    pub amount_refunded: i64,
    pub created_at: i64,
}

impl Store {
    /// Records a sign-in with `api_key_id` and, in the same transaction, its audit entry
    /// and the removal of the session it replaces (the browser's previous one, if any) and
    /// of every session no longer valid at `stale_before` (last seen earlier).
    pub async fn insert_dashboard_session(
        &self,
        token_hash: &[u8],
        replaces: Option<&[u8]>,
        api_key_id: &str,
        entry: &audit::NewAuditEntry,
        stale_before: i64,
    ) -> Result<(), StoreError> {
        let (_write, mut tx) = self.begin().await?;
        sqlx::query("DELETE FROM dashboard_sessions WHERE last_seen_at < $1 OR token_hash = $2")
            .bind(stale_before)
            .bind(replaces)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO dashboard_sessions (token_hash, api_key_id, created_at, last_seen_at)
             VALUES ($1, $2, $3, $3)",
        )
        .bind(token_hash)
        .bind(api_key_id)
        .bind(entry.at)
        .execute(&mut *tx)
        .await?;
        audit::append(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session of `token_hash`, if its API key is still active.
    pub async fn dashboard_session(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<DashboardSession>, StoreError> {
        let row = sqlx::query(
            "SELECT m.id, m.name, m.origins, k.id AS key_id, k.livemode, s.created_at, s.last_seen_at
             FROM dashboard_sessions s
             JOIN api_keys k ON k.id = s.api_key_id AND k.revoked_at IS NULL
             JOIN merchants m ON m.id = k.merchant_id
             WHERE s.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(DashboardSession {
                merchant: Merchant {
                    id: r.get("id"),
                    name: r.get("name"),
                    origins: json_list(r.get("origins"))?,
                },
                api_key_id: r.get("key_id"),
                livemode: r.flag("livemode")?,
                created_at: r.get("created_at"),
                last_seen_at: r.get("last_seen_at"),
            })
        })
        .transpose()
    }

    pub async fn touch_dashboard_session(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        let (_write, mut tx) = self.begin().await?;
        sqlx::query("UPDATE dashboard_sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends a session; with `entry`, records the sign-out in the same transaction.
    pub async fn delete_dashboard_session(
        &self,
        token_hash: &[u8],
        entry: Option<&audit::NewAuditEntry>,
    ) -> Result<(), StoreError> {
        let (_write, mut tx) = self.begin().await?;
        sqlx::query("DELETE FROM dashboard_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        if let Some(entry) = entry {
            audit::append(&mut tx, entry).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The merchant's payments in one mode created at or after `since` (Unix seconds),
    /// counted by the database in one pass over them (by day, currency, status and decline
    /// code) and summed up here; refunds are counted by when they were made.
    pub async fn dashboard_summary(
        &self,
        merchant_id: &str,
        livemode: bool,
        since: i64,
    ) -> Result<Summary, StoreError> {
        // PostgreSQL sums BIGINTs as NUMERIC, which the Any driver cannot read: the sums
        // are cast back (a no-op on SQLite).
        let groups = sqlx::query(
            "SELECT created_at / 86400 AS day, currency, status, decline_code,
                    COUNT(*) AS payments, CAST(SUM(amount_captured) AS BIGINT) AS captured
             FROM payments WHERE merchant_id = $1 AND livemode = $2 AND created_at >= $3
             GROUP BY created_at / 86400, currency, status, decline_code",
        )
        .bind(merchant_id)
        .bind(livemode)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        let refunds = sqlx::query(
            // CROSS JOIN makes SQLite start from the period's refunds (refunds_created):
            // otherwise it walks all of the merchant's payments, whose number only grows.
            // PostgreSQL plans it as the inner join it is.
            "SELECT p.currency, COUNT(*) AS refunds, CAST(SUM(r.amount) AS BIGINT) AS amount
             FROM refunds r CROSS JOIN payments p
             WHERE p.id = r.payment_id AND p.merchant_id = $1 AND p.livemode = $2 AND r.created_at >= $3
             GROUP BY p.currency ORDER BY p.currency",
        )
        .bind(merchant_id)
        .bind(livemode)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        let groups: Vec<Group> = groups
            .iter()
            .map(|r| Group {
                day: r.get("day"),
                currency: r.get("currency"),
                status: r.get("status"),
                decline_code: r.get("decline_code"),
                payments: r.get("payments"),
                captured: r.get("captured"),
            })
            .collect();
        let refunds = refunds
            .iter()
            .map(|r| RefundTotals {
                currency: r.get("currency"),
                refunds: r.get("refunds"),
                amount: r.get("amount"),
            })
            .collect();
        Ok(Summary::of(&groups, refunds))
    }

    /// The merchant's payments in one mode (and of one status, if given), newest first,
    /// `limit` of them after the payment `starting_after` (the last one of the previous page).
    pub async fn dashboard_payments(
        &self,
        merchant_id: &str,
        livemode: bool,
        status: Option<&str>,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Vec<PaymentLine>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, status, amount, currency, brand, last4, decline_code, amount_refunded, created_at
             FROM payments WHERE merchant_id = $1 AND livemode = $2 AND ($3 IS NULL OR status = $3)
               AND ($4 IS NULL OR (created_at, id) < (SELECT created_at, id FROM payments WHERE id = $4 AND merchant_id = $1))
             ORDER BY created_at DESC, id DESC LIMIT $5",
        )
        .bind(merchant_id)
        .bind(livemode)
        .bind(status)
        .bind(starting_after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| PaymentLine {
                id: r.get("id"),
                status: r.get("status"),
                amount: r.get("amount"),
                currency: r.get("currency"),
                brand: r.get("brand"),
                last4: r.get("last4"),
                decline_code: r.get("decline_code"),
                amount_refunded: r.get("amount_refunded"),
                created_at: r.get("created_at"),
            })
            .collect())
    }

    /// The refunds of the merchant's payments in one mode, newest first, `limit` of them
    /// after the refund `starting_after`.
    pub async fn dashboard_refunds(
        &self,
        merchant_id: &str,
        livemode: bool,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Vec<RefundLine>, StoreError> {
        // CROSS JOIN: SQLite walks the refunds newest first (refunds_created) and stops at
        // the limit, instead of gathering all of the merchant's payments first.
        let rows = sqlx::query(
            "SELECT r.id, r.payment_id, r.amount, p.currency, r.status, r.created_at
             FROM refunds r CROSS JOIN payments p
             WHERE p.id = r.payment_id AND p.merchant_id = $1 AND p.livemode = $2
               AND ($3 IS NULL OR (r.created_at, r.id) < (
                   SELECT r2.created_at, r2.id FROM refunds r2 JOIN payments p2 ON p2.id = r2.payment_id
                   WHERE r2.id = $3 AND p2.merchant_id = $1))
             ORDER BY r.created_at DESC, r.id DESC LIMIT $4",
        )
        .bind(merchant_id)
        .bind(livemode)
        .bind(starting_after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| RefundLine {
                id: r.get("id"),
                payment_id: r.get("payment_id"),
                amount: r.get("amount"),
                currency: r.get("currency"),
                status: r.get("status"),
                created_at: r.get("created_at"),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(
        day: i64,
        currency: &str,
        status: &str,
        code: Option<&str>,
        n: i64,
        captured: i64,
    ) -> Group {
        Group {
            day,
            currency: currency.into(),
            status: status.into(),
            decline_code: code.map(Into::into),
            payments: n,
            captured,
        }
    }

    #[test]
    fn groups_sum_to_currencies_declines_and_days() {
        let groups = [
            group(10, "usd", "captured", None, 3, 3_000),
            group(10, "brl", "captured", None, 2, 500),
            group(11, "brl", "refunded", None, 1, 100),
            group(11, "brl", "failed", Some("do_not_honor"), 2, 0),
            group(11, "brl", "failed", Some("insufficient_funds"), 2, 0),
            group(11, "usd", "failed", Some("insufficient_funds"), 1, 0),
            group(11, "usd", "failed", None, 1, 0),
            group(11, "brl", "processing", None, 1, 0),
            group(11, "brl", "requires_payment_method", None, 1, 0),
            group(11, "brl", "canceled", None, 1, 0),
            group(11, "brl", "authorized", None, 1, 0),
        ];
        let s = Summary::of(&groups, Vec::new());
        assert_eq!(
            s.by_currency,
            [
                CurrencyTotals {
                    currency: "brl".into(),
                    payments: 11,
                    decided: 9,
                    approved: 5,
                    captured: 600
                },
                CurrencyTotals {
                    currency: "usd".into(),
                    payments: 5,
                    decided: 5,
                    approved: 3,
                    captured: 3_000
                },
            ]
        );
        assert_eq!(
            s.declines,
            [
                ("insufficient_funds".to_owned(), 3),
                ("do_not_honor".to_owned(), 2),
                ("unknown".to_owned(), 1)
            ]
        );
        let days: Vec<(i64, &str, i64, i64)> = s
            .days
            .iter()
            .map(|d| (d.day, d.currency.as_str(), d.payments, d.captured))
            .collect();
        assert_eq!(
            days,
            [
                (10, "brl", 2, 500),
                (10, "usd", 3, 3_000),
                (11, "brl", 9, 100),
                (11, "usd", 2, 0)
            ]
        );
    }
}
