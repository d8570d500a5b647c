-- Sources the operator configured: polled URLs, push endpoints, and the inbox.
CREATE TABLE sources (
    name TEXT PRIMARY KEY,
    url TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('poll', 'push', 'inbox')),
    every_seconds INTEGER NOT NULL DEFAULT 300,
    push_token_sha256 TEXT,
    notice TEXT,
    paused INTEGER NOT NULL DEFAULT 0,
    etag TEXT,
    last_modified TEXT,
    last_attempt TEXT,
    last_success TEXT,
    last_status INTEGER,
    last_error TEXT,
    consecutive_errors INTEGER NOT NULL DEFAULT 0,
    next_due TEXT,
    created_at TEXT NOT NULL
);

-- Every payload received, by the SHA-256 of its bytes (the bytes live in DATA/raw/).
CREATE TABLE raw_payloads (
    sha256 TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    origin TEXT NOT NULL,
    received_at TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT,
    http_status INTEGER,
    etag TEXT,
    last_modified TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'processed', 'failed')),
    error TEXT
);
CREATE INDEX raw_payloads_state ON raw_payloads (state);

-- A story is (source, guid); `id` is Verbatim's stable id for it.
CREATE TABLE stories (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    guid TEXT NOT NULL,
    -- What outputs show: published | canceled | withheld | held | embargoed
    state TEXT NOT NULL,
    -- The version outputs show (NULL while nothing is visible).
    current_version INTEGER,
    -- Newest-first order of lists and feeds.
    sort_time TEXT NOT NULL,
    -- When the story last changed in any output (feeds' <updated>, ETags).
    changed_at TEXT NOT NULL,
    -- The earliest pending embargo among its versions.
    embargo_until TEXT,
    UNIQUE (source, guid)
);
CREATE INDEX stories_listing ON stories (state, sort_time DESC, id DESC);
CREATE INDEX stories_embargo ON stories (embargo_until) WHERE embargo_until IS NOT NULL;

-- Every version of every story, as normalized; never deleted (kills keep the record).
CREATE TABLE versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    story_id TEXT NOT NULL REFERENCES stories (id),
    agency_version INTEGER,
    versioncreated TEXT,
    received_at TEXT NOT NULL,
    pubstatus TEXT NOT NULL,
    embargoed_until TEXT,
    text_hash TEXT NOT NULL,
    -- SHA-256 of the item as normalized, without arrival data: equal means nothing changed.
    content_sha256 TEXT NOT NULL,
    raw_sha256 TEXT,
    hold_reasons TEXT,
    item_json TEXT NOT NULL
);
CREATE INDEX versions_story ON versions (story_id, id);
