-- Webhooks: every publish, update, correction and kill becomes one event; each configured
-- endpoint gets one delivery of it, retried with backoff. Together they are the delivery log.
CREATE TABLE webhook_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    story_id TEXT NOT NULL,
    kind TEXT NOT NULL,              -- publish | update | correction | kill | withhold
    changed_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (story_id, changed_at)
);
CREATE INDEX webhook_events_story ON webhook_events (story_id, id);
CREATE TABLE webhook_deliveries (
    event_id INTEGER NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint TEXT NOT NULL,
    state TEXT NOT NULL,             -- pending | delivered | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    delivered_at TEXT,
    PRIMARY KEY (event_id, endpoint)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt) WHERE state = 'pending';
