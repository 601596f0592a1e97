//! The audit log in storage: entries are appended (inside the transaction of the change they
//! record, where there is one) and read; nothing here updates or deletes them, and the
//! database refuses it too (triggers in the customers migration).

use super::exec::{Exec, args};
use super::{Store, StoreError};
use sqlx::Row;
use sqlx::any::AnyRow;

/// One entry to append. `details` is a JSON object of ids, counts and field names, never a
/// field's value: the log outlives erasure, so it must hold nothing personal or card data.
#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    pub merchant_id: Option<String>,
    /// `api_key:key_…`, `frame`, `system` or `cli`.
    pub actor: String,
    pub action: &'static str,
    pub object_type: &'static str,
    pub object_id: String,
    pub customer_id: Option<String>,
    pub request_id: Option<String>,
    pub details: serde_json::Value,
    pub at: i64,
}

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub id: String,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub customer_id: Option<String>,
    pub request_id: Option<String>,
    pub details: serde_json::Value,
    pub at: i64,
}

/// Appends `entry` within the caller's transaction.
pub(crate) async fn append(ex: &mut impl Exec, entry: &NewAuditEntry) -> Result<(), StoreError> {
    let (id, details) = (crate::ids::new_id("aud"), entry.details.to_string());
    ex.execute(
        "INSERT INTO audit_log (id, merchant_id, actor, action, object_type, object_id, customer_id,
                                request_id, details, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &args![
            &id,
            &entry.merchant_id,
            &entry.actor,
            entry.action,
            entry.object_type,
            &entry.object_id,
            &entry.customer_id,
            &entry.request_id,
            &details,
            entry.at,
        ],
    )
    .await?;
    Ok(())
}

fn entry_from_row(r: &AnyRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: r.get("id"),
        actor: r.get("actor"),
        action: r.get("action"),
        object_type: r.get("object_type"),
        object_id: r.get("object_id"),
        customer_id: r.get("customer_id"),
        request_id: r.get("request_id"),
        details: serde_json::from_str(r.get("details"))
            .map_err(|_| StoreError::Corrupt("audit details"))?,
        at: r.get("at"),
    })
}

impl Store {
    /// Appends one entry in a transaction of its own, for an action that changes nothing
    /// else (an export); a change's entry goes in the change's transaction (`WriteAlong`).
    pub async fn append_audit(&self, entry: &NewAuditEntry) -> Result<(), StoreError> {
        let (_write, mut tx) = self.begin().await?;
        append(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The merchant's entries, newest first; `starting_after` is the id of the last entry
    /// of the previous page.
    pub async fn audit_entries(
        &self,
        merchant_id: &str,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM audit_log WHERE merchant_id = $1
               AND ($2 IS NULL OR seq < (SELECT seq FROM audit_log WHERE id = $2 AND merchant_id = $1))
             ORDER BY seq DESC LIMIT $3",
        )
        .bind(merchant_id)
        .bind(starting_after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Every entry about one customer, oldest first (for the export).
    pub async fn customer_audit_entries(
        &self,
        merchant_id: &str,
        customer_id: &str,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM audit_log WHERE merchant_id = $1 AND customer_id = $2 ORDER BY seq",
        )
        .bind(merchant_id)
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry_from_row).collect()
    }
}
