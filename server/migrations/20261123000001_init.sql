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
    status TEXT NOT NULL CHECK (status IN ('open', 'complete', 'expired')),
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
