//! Idempotency keys in storage: claiming a key (first writer wins, atomically), finding
//! what an earlier request with the key answered, and recording the answer — inside the
//! transaction of the request's effect where there is one (`record_in`), so the effect is
//! never committed without its answer.

use super::exec::{Exec, args};
use super::{Store, StoreError};
use sqlx::Row;

/// What a request carrying an idempotency key should do.
#[derive(Debug, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// First use of the key: run the request and record its response.
    Owner,
    /// The same request ran before: answer what it answered (the body as sealed).
    Replay { status: u16, sealed_body: Vec<u8> },
    /// The key was used for a different request.
    Mismatch,
    /// The first request with this key has not finished yet.
    InProgress,
}

/// A response to record under the idempotency key its request claimed.
#[derive(Debug, Clone)]
pub struct IdempotentResponse {
    pub merchant_id: String,
    pub key: String,
    pub status: u16,
    /// The body exactly as sent, wrapped by the master key `master_key_id` (it may hold a
    /// session's client secret).
    pub sealed_body: Vec<u8>,
    pub master_key_id: String,
}

/// Fills in the answer of a claimed key that has none yet; returns the rows changed.
async fn record(ex: &mut impl Exec, r: &IdempotentResponse) -> Result<u64, StoreError> {
    ex.execute(
        "UPDATE idempotency_keys SET response_status = $1, response_body = $2, master_key_id = $3
         WHERE merchant_id = $4 AND key = $5 AND response_status IS NULL",
        &args![
            i64::from(r.status),
            &r.sealed_body,
            &r.master_key_id,
            &r.merchant_id,
            &r.key,
        ],
    )
    .await
}

/// Records `response` within the transaction of the request's effect. Fails — rolling
/// the effect back — unless the key is still claimed and unanswered: an effect committed
/// without its answer is what a retry could repeat.
pub(crate) async fn record_in(
    ex: &mut impl Exec,
    response: &IdempotentResponse,
) -> Result<(), StoreError> {
    if record(ex, response).await? != 1 {
        return Err(StoreError::IdempotencyKeyLost);
    }
    Ok(())
}

impl Store {
    /// Claims `key` for a request whose hash is `request_hash`; keys older than
    /// `ttl_seconds` are forgotten first.
    pub async fn claim_idempotency_key(
        &self,
        merchant_id: &str,
        key: &str,
        request_hash: &[u8],
        now: i64,
        ttl_seconds: i64,
    ) -> Result<IdempotencyClaim, StoreError> {
        let (_write, mut tx) = self.begin().await?;
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE merchant_id = $1 AND key = $2 AND created_at <= $3",
        )
        .bind(merchant_id)
        .bind(key)
        .bind(now - ttl_seconds)
        .execute(&mut *tx)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (merchant_id, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (merchant_id, key) DO NOTHING",
        )
        .bind(merchant_id)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let claim = if inserted.rows_affected() == 1 {
            IdempotencyClaim::Owner
        } else {
            let row = sqlx::query(
                "SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE merchant_id = $1 AND key = $2",
            )
            .bind(merchant_id)
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
            let stored: Vec<u8> = row.get("request_hash");
            match row.get::<Option<i64>, _>("response_status") {
                _ if stored != request_hash => IdempotencyClaim::Mismatch,
                None => IdempotencyClaim::InProgress,
                Some(status) => IdempotencyClaim::Replay {
                    status: u16::try_from(status)
                        .map_err(|_| StoreError::Corrupt("idempotent status"))?,
                    sealed_body: row
                        .get::<Option<Vec<u8>>, _>("response_body")
                        .unwrap_or_default(),
                },
            }
        };
        tx.commit().await?;
        Ok(claim)
    }

    /// Records the response of a request that had no effect to record it with (a refusal,
    /// a failure, an endpoint whose work is not one transaction). An answer already
    /// recorded with the effect is never overwritten.
    pub async fn record_idempotent_response(
        &self,
        response: &IdempotentResponse,
    ) -> Result<(), StoreError> {
        let (_write, mut tx) = self.begin().await?;
        record(&mut tx, response).await?;
        tx.commit().await?;
        Ok(())
    }
}
