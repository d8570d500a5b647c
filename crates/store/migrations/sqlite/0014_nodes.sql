-- Several nodes on one store: leases (one node polls a source, one node clusters), payload
-- bytes kept in the database, and which node fetched a source last.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    node TEXT NOT NULL,
    until TEXT NOT NULL
);
CREATE INDEX leases_node ON leases (node);
CREATE TABLE raw_blobs (
    sha256 TEXT PRIMARY KEY,
    bytes BLOB NOT NULL
);
ALTER TABLE sources ADD COLUMN last_node TEXT;
