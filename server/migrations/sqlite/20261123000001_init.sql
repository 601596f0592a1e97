-- Payframe schema v1. Card numbers are never stored in the clear: `cards` holds the PAN
-- encrypted under a per-card data key, itself wrapped by the master key.

CREATE TABLE merchants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    origins TEXT NOT NULL,                 -- JSON array of allowed embedding origins
    webhook_url TEXT,
    webhook_secret_wrapped BLOB NOT NULL,  -- sealed under the master key
    master_key_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    key_hash BLOB NOT NULL UNIQUE,         -- SHA-256 of the secret key; the key is shown once
    livemode INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE encryption_keys (
    kid TEXT PRIMARY KEY,
    public_key BLOB NOT NULL,
    private_key_wrapped BLOB NOT NULL,     -- sealed under the master key
    master_key_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER                     -- set when a newer key becomes current
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    client_secret_hash BLOB NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    reference TEXT,
    allowed_origins TEXT NOT NULL,         -- JSON array, a subset of the merchant's origins
    -- open → processing (a confirm holds it) → complete; back to open after a decline,
    -- locked after too many declines. `expired` is derived from expires_at.
    status TEXT NOT NULL CHECK (status IN ('open', 'processing', 'complete', 'locked', 'expired')),
    capture_method TEXT NOT NULL CHECK (capture_method IN ('automatic', 'manual')),
    declined_attempts INTEGER NOT NULL DEFAULT 0,
    livemode INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX sessions_merchant ON sessions (merchant_id, created_at);

CREATE TABLE cards (
    token TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    session_id TEXT REFERENCES sessions (id),
    brand TEXT NOT NULL,
    bin TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month INTEGER NOT NULL,
    exp_year INTEGER NOT NULL,
    fingerprint BLOB NOT NULL,             -- HMAC-SHA256 of the PAN under a derived key
    pan_ciphertext BLOB NOT NULL,          -- nonce || AES-256-GCM(PAN) under the data key
    data_key_wrapped BLOB NOT NULL,        -- sealed under the master key
    master_key_id TEXT NOT NULL,
    single_use INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX cards_fingerprint ON cards (merchant_id, fingerprint);

-- Long-lived secrets the gateway generates itself (e.g. the card fingerprint secret), each
-- wrapped by the master key so that a master-key rotation re-wraps rather than replaces them.
CREATE TABLE wrapped_secrets (
    name TEXT PRIMARY KEY,
    secret_wrapped BLOB NOT NULL,
    master_key_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Payments: the current state of each; every change also appends to payment_transitions
-- (written in the same transaction), so the history is complete and ordered.
CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    session_id TEXT REFERENCES sessions (id),
    card_token TEXT REFERENCES cards (token),
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month INTEGER NOT NULL,
    exp_year INTEGER NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    capture_method TEXT NOT NULL,
    status TEXT NOT NULL,
    amount_captured INTEGER NOT NULL CHECK (amount_captured >= 0 AND amount_captured <= amount),
    amount_refunded INTEGER NOT NULL CHECK (amount_refunded >= 0 AND amount_refunded <= amount_captured),
    decline_code TEXT,
    processor_reference TEXT,
    livemode INTEGER NOT NULL,
    version INTEGER NOT NULL,              -- optimistic concurrency: bumped on every save
    created_at INTEGER NOT NULL
);
CREATE INDEX payments_merchant ON payments (merchant_id, created_at, id);

CREATE TABLE payment_transitions (
    payment_id TEXT NOT NULL REFERENCES payments (id),
    seq INTEGER NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    operation TEXT NOT NULL,
    actor TEXT NOT NULL,
    amount INTEGER,
    at INTEGER NOT NULL,
    PRIMARY KEY (payment_id, seq)
);

CREATE TABLE refunds (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    amount INTEGER NOT NULL CHECK (amount > 0),
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id, created_at);

-- Idempotency-Key: the first request with a key owns it; its response (errors included)
-- is replayed to retries with the same request, and a different request is refused.
CREATE TABLE idempotency_keys (
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    key TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    response_status INTEGER,               -- NULL while the first request is running
    response_body BLOB,                    -- sealed under the master key: it may hold a client secret
    master_key_id TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, key)
);
