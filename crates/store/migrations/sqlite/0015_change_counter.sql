-- A store-wide change counter, bumped by triggers in the same transaction as every change to
-- what a page shows: a story (state, current version, cluster, last change), a version, a
-- headline override, a source (its notice). Caches of rendered pages compare it to know whether
-- anything changed since they rendered, whatever the writers' clocks say (`changed_at` comes
-- from the writer's clock, so MAX(changed_at) can miss a change stamped by a slow clock). One row,
-- created by the first change (an empty store copies to an empty PostgreSQL store).
CREATE TABLE change_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
CREATE TRIGGER stories_insert_counted AFTER INSERT ON stories
BEGIN
    INSERT INTO change_counter (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER stories_update_counted AFTER UPDATE ON stories
BEGIN
    INSERT INTO change_counter (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER stories_delete_counted AFTER DELETE ON stories
BEGIN
    INSERT INTO change_counter (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER versions_insert_counted AFTER INSERT ON versions
BEGIN
    INSERT INTO change_counter (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER versions_update_counted AFTER UPDATE ON versions
BEGIN
    INSERT INTO change_counter (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER versions_delete_counted AFTER DELETE ON versions
BEGIN
    INSERT INTO change_counter (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER headline_overrides_insert_counted AFTER INSERT ON headline_overrides
BEGIN
    INSERT INTO change_counter (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER headline_overrides_update_counted AFTER UPDATE ON headline_overrides
BEGIN
    INSERT INTO change_counter (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER headline_overrides_delete_counted AFTER DELETE ON headline_overrides
BEGIN
    INSERT INTO change_counter (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER sources_insert_counted AFTER INSERT ON sources
BEGIN
    INSERT INTO change_counter (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER sources_notice_counted AFTER UPDATE OF notice ON sources
BEGIN
    INSERT INTO change_counter (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER sources_delete_counted AFTER DELETE ON sources
BEGIN
    INSERT INTO change_counter (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1;
END;
