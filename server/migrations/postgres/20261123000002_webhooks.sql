-- Webhooks (PostgreSQL; the same tables and meaning as migrations/sqlite): merchants'
-- endpoints, the events payments cause (written in the same
-- transaction as the payment change), and the outbox of deliveries with every attempt.

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,                   -- we_…
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    url TEXT NOT NULL,
    enabled_events TEXT NOT NULL,          -- JSON array of event types, or ["*"] for all
    secret_wrapped BYTEA NOT NULL,          -- the whsec_… signing secret, sealed under the master key
    master_key_id TEXT NOT NULL,
    livemode BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT                     -- deleted endpoints keep their delivery history
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id, livemode, created_at, id);

CREATE TABLE events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- creation order, also within one transaction
    id TEXT NOT NULL UNIQUE,               -- evt_…, what merchants de-duplicate on
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    type TEXT NOT NULL,
    payment_id TEXT REFERENCES payments (id),
    livemode BOOLEAN NOT NULL,
    body TEXT NOT NULL,                    -- the JSON delivered, byte for byte
    created_at BIGINT NOT NULL
);
CREATE INDEX events_merchant ON events (merchant_id, livemode, seq);

-- The outbox: one row per (event, endpoint) to deliver. Workers claim due rows with a lease
-- (lease_owner, lease_until) so that one instance delivers each, and a crashed instance's
-- claims expire.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,                   -- whd_…
    event_id TEXT NOT NULL REFERENCES events (id),
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'canceled')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,               -- set while pending
    lease_owner TEXT,
    lease_until BIGINT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT                    -- when it was delivered, failed for good or canceled
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id),
    seq BIGINT NOT NULL,                  -- 1 for the first attempt
    attempted_at BIGINT NOT NULL,
    status_code BIGINT,                   -- the HTTP status, if the endpoint answered
    error TEXT,                            -- why it failed: timeout, connection, redirect, …
    latency_ms BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, seq)
);
