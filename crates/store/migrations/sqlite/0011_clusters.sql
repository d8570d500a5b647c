-- Story clusters: stories about one event, across agencies and feeds, grouped by serve's
-- follower (crates/cluster). The signature is kept so the clusterer can be rebuilt at start.
ALTER TABLE stories ADD COLUMN cluster_id INTEGER;
CREATE INDEX stories_cluster ON stories (cluster_id) WHERE cluster_id IS NOT NULL;
CREATE TABLE story_signatures (
    story_id TEXT PRIMARY KEY REFERENCES stories (id) ON DELETE CASCADE,
    signature BLOB NOT NULL,
    story_time TEXT NOT NULL
);
CREATE INDEX story_signatures_time ON story_signatures (story_time);
