-- Payframe schema v1 (PostgreSQL; the same tables and meaning as migrations/sqlite). Card numbers are never stored in the clear: `cards` holds the PAN
-- encrypted under a per-card data key, itself wrapped by the master key.

CREATE TABLE merchants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    origins TEXT NOT NULL,                 -- JSON array of allowed embedding origins
    webhook_url TEXT,
    webhook_secret_wrapped BYTEA NOT NULL,  -- sealed under the master key
    master_key_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    key_hash BYTEA NOT NULL UNIQUE,         -- SHA-256 of the secret key; the key is shown once
    livemode BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE encryption_keys (
    kid TEXT PRIMARY KEY,
    public_key BYTEA NOT NULL,
    private_key_wrapped BYTEA NOT NULL,     -- sealed under the master key
    master_key_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT                     -- set when a newer key becomes current
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    client_secret_hash BYTEA NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    reference TEXT,
    allowed_origins TEXT NOT NULL,         -- JSON array, a subset of the merchant's origins
    -- open → processing (a confirm holds it) → complete; back to open after a decline,
    -- locked after too many declines. `expired` is derived from expires_at.
    status TEXT NOT NULL CHECK (status IN ('open', 'processing', 'complete', 'locked', 'expired')),
    capture_method TEXT NOT NULL CHECK (capture_method IN ('automatic', 'manual')),
    declined_attempts BIGINT NOT NULL DEFAULT 0,
    livemode BOOLEAN NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX sessions_merchant ON sessions (merchant_id, created_at);

CREATE TABLE cards (
    token TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    session_id TEXT REFERENCES sessions (id),
    brand TEXT NOT NULL,
    bin TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month BIGINT NOT NULL,
    exp_year BIGINT NOT NULL,
    fingerprint BYTEA NOT NULL,             -- HMAC-SHA256 of the PAN under a derived key
    pan_ciphertext BYTEA NOT NULL,          -- nonce || AES-256-GCM(PAN) under the data key
    data_key_wrapped BYTEA NOT NULL,        -- sealed under the master key
    master_key_id TEXT NOT NULL,
    single_use BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX cards_fingerprint ON cards (merchant_id, fingerprint);

-- Long-lived secrets the gateway generates itself (e.g. the card fingerprint secret), each
-- wrapped by the master key so that a master-key rotation re-wraps rather than replaces them.
CREATE TABLE wrapped_secrets (
    name TEXT PRIMARY KEY,
    secret_wrapped BYTEA NOT NULL,
    master_key_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
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
    exp_month BIGINT NOT NULL,
    exp_year BIGINT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    capture_method TEXT NOT NULL,
    status TEXT NOT NULL,
    amount_captured BIGINT NOT NULL CHECK (amount_captured >= 0 AND amount_captured <= amount),
    amount_refunded BIGINT NOT NULL CHECK (amount_refunded >= 0 AND amount_refunded <= amount_captured),
    decline_code TEXT,
    processor_reference TEXT,
    livemode BOOLEAN NOT NULL,
    version BIGINT NOT NULL,              -- optimistic concurrency: bumped on every save
    created_at BIGINT NOT NULL
);
CREATE INDEX payments_merchant ON payments (merchant_id, created_at, id);

CREATE TABLE payment_transitions (
    payment_id TEXT NOT NULL REFERENCES payments (id),
    seq BIGINT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    operation TEXT NOT NULL,
    actor TEXT NOT NULL,
    amount BIGINT,
    at BIGINT NOT NULL,
    PRIMARY KEY (payment_id, seq)
);

CREATE TABLE refunds (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id, created_at);

-- Idempotency-Key: the first request with a key owns it; its response (errors included)
-- is replayed to retries with the same request, and a different request is refused.
CREATE TABLE idempotency_keys (
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    key TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    response_status BIGINT,               -- NULL while the first request is running
    response_body BYTEA,                    -- sealed under the master key: it may hold a client secret
    master_key_id TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, key)
);
