-- WebSub subscriptions: one per polled source whose feed names a hub. The secret checks the
-- HMAC of deliveries, so it is stored as generated; it is never shown.
CREATE TABLE websub_subscriptions (
    source TEXT PRIMARY KEY REFERENCES sources (name) ON DELETE CASCADE,
    hub TEXT NOT NULL,
    topic TEXT NOT NULL,
    secret TEXT NOT NULL,
    state TEXT NOT NULL,            -- requested | active | failed
    requested_at TEXT NOT NULL,
    lease_seconds INTEGER,
    lease_until TEXT,
    last_error TEXT,
    deliveries INTEGER NOT NULL DEFAULT 0,
    last_delivery TEXT
);
