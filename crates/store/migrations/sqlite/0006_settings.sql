-- Site-wide settings kept in the store, e.g. the SHA-256 of the admin token.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE INDEX versions_received ON versions (received_at);
