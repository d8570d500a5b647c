-- The newest change anywhere (Last-Modified on every response, feeds' <updated>) is read per
-- request; an index makes it a lookup instead of a scan.
CREATE INDEX stories_changed_at ON stories (changed_at);
