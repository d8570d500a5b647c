-- Routing rules, the quality gate, the held queue and exact duplicates (the operator's desk).
-- The language the operator declares for a source (the quality gate compares with it).
ALTER TABLE sources ADD COLUMN language TEXT;
-- The body's length in characters (a source's usual length, for the teaser check).
ALTER TABLE versions ADD COLUMN body_chars INTEGER;
-- Rights: this version is published as headline and link only.
ALTER TABLE versions ADD COLUMN link_only INTEGER NOT NULL DEFAULT 0;
-- The held queue: an operator released the held version (it counts as publishable) or
-- dropped it (it stays held, out of the queue).
ALTER TABLE versions ADD COLUMN review TEXT CHECK (review IN ('released', 'dropped'));
ALTER TABLE versions ADD COLUMN reviewed_by TEXT;
ALTER TABLE versions ADD COLUMN reviewed_at TEXT;
CREATE INDEX versions_held_queue ON versions (id) WHERE hold_reasons IS NOT NULL AND review IS NULL;
-- The sections a story is published in (from the routing rules, over every feed it came by).
CREATE TABLE story_sections (
    section TEXT NOT NULL,
    story_id TEXT NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    PRIMARY KEY (section, story_id)
);
CREATE INDEX story_sections_story ON story_sections (story_id);
-- One agency story that arrived through a second feed: that feed's (source, guid) is an alias
-- of the story, and its versions are the story's.
CREATE TABLE story_aliases (
    source TEXT NOT NULL,
    guid TEXT NOT NULL,
    story_id TEXT NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    PRIMARY KEY (source, guid)
);
CREATE INDEX stories_guid ON stories (guid);
CREATE INDEX stories_source_time ON stories (source, state, sort_time DESC);
