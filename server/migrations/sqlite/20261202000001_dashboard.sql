-- The merchant dashboard. Its sign-ins: one row per signed-in browser. The browser holds a random
-- token in a cookie; only its SHA-256 is stored, so a copy of the database signs nobody
-- in. The row names the API key that signed in: rolling that key ends the session (its
-- lookup joins the key and requires it unrevoked). Idle and absolute limits are checked
-- against the two times on every request.
CREATE TABLE dashboard_sessions (
    token_hash BLOB PRIMARY KEY,
    api_key_id TEXT NOT NULL REFERENCES api_keys (id),
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX dashboard_sessions_key ON dashboard_sessions (api_key_id);

-- The dashboard counts the refunds made in a period (whatever the payment's age): found by
-- their time, not by scanning all of a merchant's payments.
CREATE INDEX refunds_created ON refunds (created_at);
