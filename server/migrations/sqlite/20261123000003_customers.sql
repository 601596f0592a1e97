-- Customers (issue #8): profiles, saved payment methods, the link from sessions and
-- payments to their customer, and the append-only audit log. Same meaning as
-- migrations/postgres/20261123000003_customers.sql.

-- A customer's personal data lives in these columns only; erasure sets them to NULL and
-- stamps `erased_at`, keeping the row (and its id) so accounting records still point at it.
CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    name TEXT,
    email TEXT,
    phone TEXT,
    address_line1 TEXT,
    address_line2 TEXT,
    address_city TEXT,
    address_state TEXT,
    address_postal_code TEXT,
    address_country TEXT,
    metadata TEXT,                          -- JSON object of strings; NULL once erased
    livemode INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    erased_at INTEGER
);
CREATE INDEX customers_merchant ON customers (merchant_id, created_at, id);
CREATE INDEX customers_email ON customers (merchant_id, LOWER(email));

-- A vaulted card made reusable for one customer. The card itself stays in `cards`
-- (encrypted); this row holds what may be shown and the per-merchant dedupe key.
CREATE TABLE payment_methods (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    customer_id TEXT NOT NULL REFERENCES customers (id),
    card_token TEXT NOT NULL REFERENCES cards (token),
    fingerprint BLOB NOT NULL,              -- the card's fingerprint; emptied on erasure
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month INTEGER NOT NULL,
    exp_year INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'detached', 'erased')),
    created_at INTEGER NOT NULL,
    detached_at INTEGER
);
CREATE INDEX payment_methods_customer ON payment_methods (customer_id, created_at, id);
-- The same card saved twice for a customer is one payment method.
CREATE UNIQUE INDEX payment_methods_one_per_card ON payment_methods (merchant_id, customer_id, fingerprint)
    WHERE status = 'active';

ALTER TABLE sessions ADD COLUMN customer_id TEXT REFERENCES customers (id);
ALTER TABLE sessions ADD COLUMN save_payment_method INTEGER NOT NULL DEFAULT 0;

ALTER TABLE payments ADD COLUMN customer_id TEXT REFERENCES customers (id);
ALTER TABLE payments ADD COLUMN payment_method_id TEXT REFERENCES payment_methods (id);
ALTER TABLE payments ADD COLUMN reference TEXT;
CREATE INDEX payments_customer ON payments (customer_id, created_at, id);

-- Crypto-shredding: SQLite cannot drop NOT NULL, so a shredded card keeps empty blobs in
-- pan_ciphertext, data_key_wrapped and fingerprint, and the time it was shredded here.
ALTER TABLE cards ADD COLUMN shredded_at INTEGER;

-- Who did what to which object, append-only. Never card data and never personal data:
-- ids, action names and field names only, so erasure has nothing to rewrite here.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    merchant_id TEXT REFERENCES merchants (id),
    actor TEXT NOT NULL,                    -- api_key:key_…, frame, system or cli
    action TEXT NOT NULL,                   -- e.g. customer.created, payment.captured
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    customer_id TEXT,                       -- the customer the entry concerns, if any
    request_id TEXT,
    details TEXT NOT NULL,                  -- JSON object, ids and field names only
    at INTEGER NOT NULL
);
CREATE INDEX audit_log_merchant ON audit_log (merchant_id, seq);
CREATE INDEX audit_log_customer ON audit_log (customer_id, seq);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
