-- The signed provenance record of each version (JSON, verbatim-provenance/1) and its Ed25519
-- signature (base64). NULL for versions stored before provenance existed; `verbatim audit`
-- reports them.
ALTER TABLE versions ADD COLUMN provenance TEXT;
ALTER TABLE versions ADD COLUMN signature TEXT;

-- An operator's headline shown instead of the agency's. The body can never be changed.
CREATE TABLE headline_overrides (
    story_id TEXT PRIMARY KEY REFERENCES stories (id),
    headline TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TEXT NOT NULL
);
