-- A store-wide change counter, bumped by triggers in the same transaction as every change to
-- what a page shows: a story (state, current version, cluster, last change), a version, a headline
-- override, a source (its notice). Caches of rendered pages compare it to know whether anything
-- changed since they rendered, whatever the nodes' clocks say (`changed_at` comes from the
-- writer's clock, so MAX(changed_at) can miss a change stamped by a node whose clock is behind).
--
-- The row is written by a deferred constraint trigger, so at COMMIT, after every other lock the
-- transaction takes: its row lock is the last one taken and is held only while the commit
-- completes, so it can never close a deadlock cycle with story row locks. Once per transaction
-- (a transaction-local setting marks it). The row is created by the first change, so a new
-- database stays empty for `migrate-store`, which copies SQLite's row here.
CREATE TABLE change_counter (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);

CREATE FUNCTION count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('verbatim.change_counted', true) IS DISTINCT FROM 'yes' THEN
        PERFORM set_config('verbatim.change_counted', 'yes', true);
        INSERT INTO change_counter (id, n) VALUES (1, 1)
            ON CONFLICT (id) DO UPDATE SET n = change_counter.n + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER stories_counted AFTER INSERT OR UPDATE OR DELETE ON stories
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_change();
CREATE CONSTRAINT TRIGGER versions_counted AFTER INSERT OR UPDATE OR DELETE ON versions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_change();
CREATE CONSTRAINT TRIGGER headline_overrides_counted
    AFTER INSERT OR UPDATE OR DELETE ON headline_overrides
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_change();
CREATE CONSTRAINT TRIGGER sources_counted AFTER INSERT OR UPDATE OF notice OR DELETE ON sources
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_change();
