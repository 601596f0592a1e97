//! Housekeeping that any instance may run: expiring stale sessions and forgetting old
//! idempotency keys. Work is claimed in small batches; on PostgreSQL with
//! `FOR UPDATE SKIP LOCKED`, so instances sweeping at once take disjoint rows instead of
//! waiting on each other (SQLite has one writer, so its batches never overlap anyway).

use super::{Backend, Store, StoreError};

/// What one sweep changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub sessions_expired: u64,
    pub idempotency_keys_forgotten: u64,
}

impl Store {
    fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }

    /// Marks up to `batch` open sessions past their expiry `expired`, and deletes up to
    /// `batch` idempotency keys created at or before `forget_before`.
    pub async fn sweep(
        &self,
        now: i64,
        forget_before: i64,
        batch: i64,
    ) -> Result<SweepReport, StoreError> {
        let skip_locked = self.skip_locked();
        let expired = sqlx::query(&format!(
            "UPDATE sessions SET status = 'expired' WHERE id IN (
                 SELECT id FROM sessions WHERE status = 'open' AND expires_at <= $1
                 ORDER BY expires_at LIMIT $2{skip_locked})
             AND status = 'open'"
        ))
        .bind(now)
        .bind(batch)
        .execute(&self.pool)
        .await?;
        let forgotten = sqlx::query(&format!(
            "DELETE FROM idempotency_keys WHERE (merchant_id, key) IN (
                 SELECT merchant_id, key FROM idempotency_keys WHERE created_at <= $1
                 ORDER BY created_at LIMIT $2{skip_locked})"
        ))
        .bind(forget_before)
        .bind(batch)
        .execute(&self.pool)
        .await?;
        Ok(SweepReport {
            sessions_expired: expired.rows_affected(),
            idempotency_keys_forgotten: forgotten.rows_affected(),
        })
    }
}
