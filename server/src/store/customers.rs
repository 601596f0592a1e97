//! Customers in storage: profiles, their saved payment methods, their transaction history,
//! and erasure — personal fields cleared, cards crypto-shredded (ciphertext and wrapped data
//! key overwritten), payment records anonymised but kept — in one transaction with its audit
//! entry. Every change here appends its audit entry in the same transaction.

use super::audit::{self, NewAuditEntry};
use super::exec::Columns;
use super::{Store, StoreError, get_u32};
use crate::customers::{Address, CountryCode, Email, Metadata, Phone, Profile};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

/// A customer as stored. An erased customer keeps its id and times; its profile is empty.
#[derive(Debug, Clone)]
pub struct CustomerRow {
    pub id: String,
    pub merchant_id: String,
    pub profile: Profile,
    pub livemode: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub erased_at: Option<i64>,
}

/// A saved card of a customer: what may be shown, never the number.
#[derive(Debug, Clone)]
pub struct PaymentMethodRow {
    pub id: String,
    pub merchant_id: String,
    pub customer_id: String,
    pub card_token: String,
    /// Empty once erased.
    pub fingerprint: Vec<u8>,
    pub brand: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
    /// `active`, `detached` or `erased`.
    pub status: String,
    pub created_at: i64,
    pub detached_at: Option<i64>,
}

/// A card confirmed for a session that asked to save it.
pub struct SaveCard<'a> {
    pub merchant_id: &'a str,
    pub customer_id: &'a str,
    pub card_token: &'a str,
    pub payment_id: &'a str,
    pub fingerprint: &'a [u8],
    pub brand: &'a str,
    pub last4: &'a str,
    pub exp_month: u32,
    pub exp_year: u32,
    pub now: i64,
}

/// What saving a card did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// A new payment method.
    New(String),
    /// The customer already had this card (same fingerprint): that payment method.
    Existing(String),
    /// The customer was erased meanwhile: nothing saved.
    CustomerErased,
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erasure {
    NotFound,
    /// Erased now, with counts for the audit log.
    Erased {
        payment_methods: u64,
        cards_shredded: u64,
        payments_anonymised: u64,
    },
    /// Erased before, at that time: nothing left to do.
    AlreadyErased {
        at: i64,
    },
}

/// One line of a customer's history: a payment or a refund.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    /// `payment` or `refund`.
    pub kind: String,
    pub id: String,
    pub payment_id: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub created_at: i64,
}

/// Written over the last four digits of cards and payments of an erased customer.
pub const ERASED_LAST4: &str = "****";

fn corrupt(what: &'static str) -> StoreError {
    StoreError::Corrupt(what)
}

fn customer_from_row(r: &AnyRow) -> Result<CustomerRow, StoreError> {
    let text = |col: &str| r.get::<Option<String>, _>(col);
    let metadata = match text("metadata") {
        None => Metadata::default(),
        Some(json) => Metadata::from_stored(
            serde_json::from_str::<BTreeMap<String, String>>(&json)
                .map_err(|_| corrupt("customer metadata"))?,
        ),
    };
    let profile = Profile {
        name: text("name"),
        email: text("email")
            .map(|e| Email::parse(&e).map_err(|_| corrupt("customer email")))
            .transpose()?,
        phone: text("phone")
            .map(|p| Phone::parse(&p).map_err(|_| corrupt("customer phone")))
            .transpose()?,
        address: Address {
            line1: text("address_line1"),
            line2: text("address_line2"),
            city: text("address_city"),
            state: text("address_state"),
            postal_code: text("address_postal_code"),
            country: text("address_country")
                .map(|c| CountryCode::parse("country", &c).map_err(|_| corrupt("country")))
                .transpose()?,
        },
        metadata,
    };
    Ok(CustomerRow {
        id: r.get("id"),
        merchant_id: r.get("merchant_id"),
        profile,
        livemode: r.flag("livemode")?,
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        erased_at: r.get("erased_at"),
    })
}

fn payment_method_from_row(r: &AnyRow) -> Result<PaymentMethodRow, StoreError> {
    Ok(PaymentMethodRow {
        id: r.get("id"),
        merchant_id: r.get("merchant_id"),
        customer_id: r.get("customer_id"),
        card_token: r.get("card_token"),
        fingerprint: r.get("fingerprint"),
        brand: r.get("brand"),
        last4: r.get("last4"),
        exp_month: get_u32(r, "exp_month")?,
        exp_year: get_u32(r, "exp_year")?,
        status: r.get("status"),
        created_at: r.get("created_at"),
        detached_at: r.get("detached_at"),
    })
}

fn metadata_json(profile: &Profile) -> String {
    serde_json::to_string(profile.metadata.as_map()).expect("strings serialize")
}

/// Takes the customer's row for this transaction before reading anything: on PostgreSQL a
/// row lock, so saves and an erasure of one customer run one after the other; on SQLite the
/// write lock, since a transaction that reads first cannot become a writer once another has
/// committed (SQLITE_BUSY, which no busy timeout waits out).
async fn lock_customer(
    tx: &mut super::Tx<'_>,
    merchant_id: &str,
    customer_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE customers SET updated_at = updated_at WHERE id = $1 AND merchant_id = $2")
        .bind(customer_id)
        .bind(merchant_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    pub async fn insert_customer(
        &self,
        c: &CustomerRow,
        audit_entry: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let p = &c.profile;
        let (_write, mut tx) = self.begin().await?;
        sqlx::query(
            "INSERT INTO customers (id, merchant_id, name, email, phone, address_line1, address_line2,
                address_city, address_state, address_postal_code, address_country, metadata, livemode,
                created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(&c.id)
        .bind(&c.merchant_id)
        .bind(p.name.as_deref())
        .bind(p.email.as_ref().map(Email::as_str))
        .bind(p.phone.as_ref().map(Phone::as_str))
        .bind(p.address.line1.as_deref())
        .bind(p.address.line2.as_deref())
        .bind(p.address.city.as_deref())
        .bind(p.address.state.as_deref())
        .bind(p.address.postal_code.as_deref())
        .bind(p.address.country.as_ref().map(CountryCode::as_str))
        .bind(metadata_json(p))
        .bind(c.livemode)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await?;
        audit::append(&mut tx, audit_entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A customer of `merchant_id` (another merchant's is as good as missing), erased or not.
    pub async fn customer(
        &self,
        merchant_id: &str,
        id: &str,
    ) -> Result<Option<CustomerRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM customers WHERE id = $1 AND merchant_id = $2")
            .bind(id)
            .bind(merchant_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(customer_from_row).transpose()
    }

    /// Replaces the profile of a customer that is not erased; false if there is none.
    pub async fn update_customer(
        &self,
        merchant_id: &str,
        id: &str,
        profile: &Profile,
        now: i64,
        audit_entry: &NewAuditEntry,
    ) -> Result<bool, StoreError> {
        let (_write, mut tx) = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE customers SET name = $1, email = $2, phone = $3, address_line1 = $4, address_line2 = $5,
                address_city = $6, address_state = $7, address_postal_code = $8, address_country = $9,
                metadata = $10, updated_at = $11
             WHERE id = $12 AND merchant_id = $13 AND erased_at IS NULL",
        )
        .bind(profile.name.as_deref())
        .bind(profile.email.as_ref().map(Email::as_str))
        .bind(profile.phone.as_ref().map(Phone::as_str))
        .bind(profile.address.line1.as_deref())
        .bind(profile.address.line2.as_deref())
        .bind(profile.address.city.as_deref())
        .bind(profile.address.state.as_deref())
        .bind(profile.address.postal_code.as_deref())
        .bind(profile.address.country.as_ref().map(CountryCode::as_str))
        .bind(metadata_json(profile))
        .bind(now)
        .bind(id)
        .bind(merchant_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Ok(false);
        }
        audit::append(&mut tx, audit_entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The merchant's customers that are not erased, newest first, optionally only those with
    /// `email` (compared case-insensitively); `starting_after` is the previous page's last id.
    pub async fn customers(
        &self,
        merchant_id: &str,
        email: Option<&str>,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Vec<CustomerRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM customers WHERE merchant_id = $1 AND erased_at IS NULL
               AND ($2 IS NULL OR LOWER(email) = $2)
               AND ($3 IS NULL OR (created_at, id) < (SELECT created_at, id FROM customers WHERE id = $3 AND merchant_id = $1))
             ORDER BY created_at DESC, id DESC LIMIT $4",
        )
        .bind(merchant_id)
        .bind(email.map(str::to_lowercase))
        .bind(starting_after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(customer_from_row).collect()
    }

    /// Makes the card of a successful payment a reusable payment method of the customer,
    /// unless the customer already has that card (same fingerprint): then that one is used.
    /// Either way the payment records which payment method paid it.
    pub async fn save_card(
        &self,
        card: &SaveCard<'_>,
        audit_entry: impl FnOnce(&str) -> NewAuditEntry,
    ) -> Result<Saved, StoreError> {
        let (_write, mut tx) = self.begin().await?;
        lock_customer(&mut tx, card.merchant_id, card.customer_id).await?;
        let erased =
            sqlx::query("SELECT erased_at FROM customers WHERE id = $1 AND merchant_id = $2")
                .bind(card.customer_id)
                .bind(card.merchant_id)
                .fetch_optional(&mut *tx)
                .await?;
        match erased {
            Some(r) if r.get::<Option<i64>, _>("erased_at").is_none() => {}
            _ => return Ok(Saved::CustomerErased),
        }
        let existing = sqlx::query(
            "SELECT id FROM payment_methods
             WHERE merchant_id = $1 AND customer_id = $2 AND fingerprint = $3 AND status = 'active'",
        )
        .bind(card.merchant_id)
        .bind(card.customer_id)
        .bind(card.fingerprint)
        .fetch_optional(&mut *tx)
        .await?;
        let saved = match existing {
            // The new vaulted copy stays single-use: the customer's card is saved once.
            Some(r) => Saved::Existing(r.get("id")),
            None => {
                let id = crate::ids::new_id("pm");
                sqlx::query("UPDATE cards SET single_use = $1 WHERE token = $2")
                    .bind(false)
                    .bind(card.card_token)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO payment_methods (id, merchant_id, customer_id, card_token, fingerprint, brand,
                        last4, exp_month, exp_year, status, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', $10)",
                )
                .bind(&id)
                .bind(card.merchant_id)
                .bind(card.customer_id)
                .bind(card.card_token)
                .bind(card.fingerprint)
                .bind(card.brand)
                .bind(card.last4)
                .bind(i64::from(card.exp_month))
                .bind(i64::from(card.exp_year))
                .bind(card.now)
                .execute(&mut *tx)
                .await?;
                audit::append(&mut tx, &audit_entry(&id)).await?;
                Saved::New(id)
            }
        };
        let pm = match &saved {
            Saved::New(id) | Saved::Existing(id) => id.as_str(),
            Saved::CustomerErased => unreachable!("returned above"),
        };
        sqlx::query("UPDATE payments SET payment_method_id = $1 WHERE id = $2")
            .bind(pm)
            .bind(card.payment_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(saved)
    }

    /// A payment method of `merchant_id`, in any status.
    pub async fn payment_method(
        &self,
        merchant_id: &str,
        id: &str,
    ) -> Result<Option<PaymentMethodRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM payment_methods WHERE id = $1 AND merchant_id = $2")
            .bind(id)
            .bind(merchant_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(payment_method_from_row).transpose()
    }

    /// A customer's payment methods, newest first; only active ones unless `all`.
    pub async fn payment_methods(
        &self,
        merchant_id: &str,
        customer_id: &str,
        all: bool,
    ) -> Result<Vec<PaymentMethodRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM payment_methods WHERE merchant_id = $1 AND customer_id = $2
               AND ($3 OR status = 'active')
             ORDER BY created_at DESC, id DESC",
        )
        .bind(merchant_id)
        .bind(customer_id)
        .bind(all)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(payment_method_from_row).collect()
    }

    /// Detaches an active payment method of the customer: it can no longer be charged, and
    /// its card's data key is destroyed (nothing else may use that vaulted card). Returns the
    /// row as it is now, or None if the customer has no such payment method.
    pub async fn detach_payment_method(
        &self,
        merchant_id: &str,
        customer_id: &str,
        id: &str,
        now: i64,
        audit_entry: &NewAuditEntry,
    ) -> Result<Option<PaymentMethodRow>, StoreError> {
        let (_write, mut tx) = self.begin().await?;
        lock_customer(&mut tx, merchant_id, customer_id).await?;
        let row = sqlx::query(
            "SELECT * FROM payment_methods WHERE id = $1 AND merchant_id = $2 AND customer_id = $3",
        )
        .bind(id)
        .bind(merchant_id)
        .bind(customer_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row.as_ref().map(payment_method_from_row).transpose()? else {
            return Ok(None);
        };
        if row.status != "active" {
            return Ok(Some(row));
        }
        sqlx::query(
            "UPDATE payment_methods SET status = 'detached', detached_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        shred_cards(
            &mut tx,
            "token = (SELECT card_token FROM payment_methods WHERE id = $2)",
            id,
            now,
        )
        .await?;
        audit::append(&mut tx, audit_entry).await?;
        tx.commit().await?;
        Ok(Some(PaymentMethodRow {
            status: "detached".into(),
            detached_at: Some(now),
            ..row
        }))
    }

    /// A customer's payments and refunds, newest first; `starting_after` is the id of the
    /// last line (`pay_…` or `re_…`) of the previous page.
    pub async fn customer_history(
        &self,
        merchant_id: &str,
        customer_id: &str,
        limit: i64,
        starting_after: Option<&str>,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        const LINES: &str =
            "SELECT 'payment' AS kind, p.id AS id, p.id AS payment_id, p.amount AS amount,
                    p.currency AS currency, p.status AS status, p.created_at AS created_at
                FROM payments p WHERE p.merchant_id = $1 AND p.customer_id = $2
             UNION ALL
             SELECT 'refund' AS kind, r.id AS id, r.payment_id AS payment_id, r.amount AS amount,
                    p.currency AS currency, r.status AS status, r.created_at AS created_at
                FROM refunds r JOIN payments p ON p.id = r.payment_id
                WHERE p.merchant_id = $1 AND p.customer_id = $2";
        // The cursor's time, looked up first: the lines come from two tables.
        let cursor_at: Option<i64> = match starting_after {
            None => None,
            Some(cursor) => {
                let row = sqlx::query(&format!(
                    "SELECT created_at FROM ({LINES}) lines WHERE id = $3"
                ))
                .bind(merchant_id)
                .bind(customer_id)
                .bind(cursor)
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    Some(r) => Some(r.get("created_at")),
                    // An unknown cursor has nothing after it.
                    None => return Ok(Vec::new()),
                }
            }
        };
        let rows = sqlx::query(&format!(
            "SELECT * FROM ({LINES}) lines
             WHERE ($3 IS NULL OR created_at < $3 OR (created_at = $3 AND id < $4))
             ORDER BY created_at DESC, id DESC LIMIT $5"
        ))
        .bind(merchant_id)
        .bind(customer_id)
        .bind(cursor_at)
        .bind(starting_after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| HistoryRow {
                kind: r.get("kind"),
                id: r.get("id"),
                payment_id: r.get("payment_id"),
                amount: r.get("amount"),
                currency: r.get("currency"),
                status: r.get("status"),
                created_at: r.get("created_at"),
            })
            .collect())
    }

    /// The ids of every payment of the customer, oldest first (for the export).
    pub async fn customer_payment_ids(
        &self,
        merchant_id: &str,
        customer_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM payments WHERE merchant_id = $1 AND customer_id = $2 ORDER BY created_at, id",
        )
        .bind(merchant_id)
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| r.get("id")).collect())
    }

    /// The merchant's stored idempotent responses (sealed), by key: erasure unseals them to
    /// find those that repeat the customer's data.
    pub async fn sealed_idempotent_responses(
        &self,
        merchant_id: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT key, response_body FROM idempotency_keys WHERE merchant_id = $1 AND response_body IS NOT NULL",
        )
        .bind(merchant_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("key"), r.get("response_body")))
            .collect())
    }

    /// Erases a customer (GDPR art. 17, LGPD art. 18): clears every personal field, marks
    /// their payment methods erased, crypto-shreds every card vaulted for them (saved cards,
    /// cards of their payments and of their sessions), anonymises the card details of their
    /// payments (amounts, statuses and refunds stay for accounting), forgets the idempotent
    /// responses listed in `idempotency_keys` (they repeat the customer's data) and appends
    /// the audit entry — one transaction. Erasing again changes nothing.
    pub async fn erase_customer(
        &self,
        merchant_id: &str,
        customer_id: &str,
        idempotency_keys: &[String],
        now: i64,
        audit_entry: impl FnOnce(&Erasure) -> NewAuditEntry,
    ) -> Result<Erasure, StoreError> {
        let (_write, mut tx) = self.begin().await?;
        lock_customer(&mut tx, merchant_id, customer_id).await?;
        let row = sqlx::query("SELECT erased_at FROM customers WHERE id = $1 AND merchant_id = $2")
            .bind(customer_id)
            .bind(merchant_id)
            .fetch_optional(&mut *tx)
            .await?;
        match row.map(|r| r.get::<Option<i64>, _>("erased_at")) {
            None => return Ok(Erasure::NotFound),
            Some(Some(at)) => return Ok(Erasure::AlreadyErased { at }),
            Some(None) => {}
        }
        sqlx::query(
            "UPDATE customers SET name = NULL, email = NULL, phone = NULL, address_line1 = NULL,
                address_line2 = NULL, address_city = NULL, address_state = NULL, address_postal_code = NULL,
                address_country = NULL, metadata = NULL, erased_at = $1, updated_at = $1
             WHERE id = $2",
        )
        .bind(now)
        .bind(customer_id)
        .execute(&mut *tx)
        .await?;
        let cards_shredded = shred_cards(
            &mut tx,
            "token IN (SELECT card_token FROM payment_methods WHERE customer_id = $2)
             OR token IN (SELECT card_token FROM payments WHERE customer_id = $2)
             OR session_id IN (SELECT id FROM sessions WHERE customer_id = $2)",
            customer_id,
            now,
        )
        .await?;
        let payment_methods = sqlx::query(
            "UPDATE payment_methods SET status = 'erased', fingerprint = $1, last4 = $2, exp_month = 0,
                exp_year = 0, detached_at = COALESCE(detached_at, $3)
             WHERE customer_id = $4",
        )
        .bind(Vec::<u8>::new())
        .bind(ERASED_LAST4)
        .bind(now)
        .bind(customer_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let payments_anonymised = sqlx::query(
            "UPDATE payments SET last4 = $1, exp_month = 0, exp_year = 0 WHERE customer_id = $2",
        )
        .bind(ERASED_LAST4)
        .bind(customer_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        anonymise_events(&mut tx, merchant_id, customer_id).await?;
        for key in idempotency_keys {
            sqlx::query("DELETE FROM idempotency_keys WHERE merchant_id = $1 AND key = $2")
                .bind(merchant_id)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        let erasure = Erasure::Erased {
            payment_methods,
            cards_shredded,
            payments_anonymised,
        };
        audit::append(&mut tx, &audit_entry(&erasure)).await?;
        tx.commit().await?;
        Ok(erasure)
    }
}

/// Crypto-shreds the cards `condition` selects (`$2` is bound to `param`): the wrapped data
/// key and the ciphertext are overwritten with empty blobs, so no key — the master key
/// included — can open that card again; the fingerprint, BIN, last four and expiry go too.
/// Returns how many cards were shredded now.
async fn shred_cards(
    tx: &mut super::Tx<'_>,
    condition: &str,
    param: &str,
    now: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(&format!(
        "UPDATE cards SET pan_ciphertext = $1, data_key_wrapped = $1, fingerprint = $1, bin = '',
            last4 = $3, exp_month = 0, exp_year = 0, single_use = $4, shredded_at = $5
         WHERE shredded_at IS NULL AND ({condition})"
    ))
    .bind(Vec::<u8>::new())
    .bind(param)
    .bind(ERASED_LAST4)
    .bind(true)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

const CUSTOMER_EVENTS: &str =
    "SELECT e.id, e.body FROM events e JOIN payments p ON p.id = e.payment_id
     WHERE e.merchant_id = $1 AND p.customer_id = $2 ORDER BY e.seq";

/// Events about the customer's payments, oldest first, for the export.
pub async fn customer_events(
    store: &Store,
    merchant_id: &str,
    customer_id: &str,
) -> Result<Vec<serde_json::Value>, StoreError> {
    sqlx::query(CUSTOMER_EVENTS)
        .bind(merchant_id)
        .bind(customer_id)
        .fetch_all(&store.pool)
        .await?
        .iter()
        .map(|r| {
            serde_json::from_str(r.try_get::<&str, _>("body")?)
                .map_err(|_| StoreError::Corrupt("event body"))
        })
        .collect()
}

/// Events kept for the merchant's records carry the payment as it was; on erasure their
/// card fields are anonymised like the payment rows themselves.
async fn anonymise_events(
    tx: &mut super::Tx<'_>,
    merchant_id: &str,
    customer_id: &str,
) -> Result<(), StoreError> {
    let rows = sqlx::query(CUSTOMER_EVENTS)
        .bind(merchant_id)
        .bind(customer_id)
        .fetch_all(&mut **tx)
        .await?;
    for row in rows {
        let id: String = row.try_get("id")?;
        let mut body: serde_json::Value = serde_json::from_str(row.try_get::<&str, _>("body")?)
            .map_err(|_| StoreError::Corrupt("event body"))?;
        if let Some(card) = body.pointer_mut("/data/object/payment_method") {
            *card = serde_json::json!({
                "brand": card["brand"].clone(),
                "last4": ERASED_LAST4,
                "exp_month": 0,
                "exp_year": 0,
            });
        }
        sqlx::query("UPDATE events SET body = $1 WHERE id = $2")
            .bind(body.to_string())
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
