//! The SQLite store's busy writes: storing versions and recomputing stories (commit, embargo
//! release, review of held versions) and recording the search follower's cluster assignments
//! run on one rusqlite connection, a whole batch per trip to a blocking thread. sqlx hands every
//! statement to its worker thread and back; at ingest rates those hand-offs cost more CPU than
//! the statements, and a version takes five of them.
//!
//! That connection runs with SQLite's triggers off and bumps the store's change counter itself,
//! once per transaction that changed a row: the counter's triggers (migration 0015) fired per row
//! and made every statement keep a statement journal, a quarter to two fifths of a commit's CPU.
//! Every other connection (sqlx's pool, the `sqlite3` shell, another process) keeps the triggers.

use crate::lifecycle::{StoryState, resolve};
use crate::rows::{
    content_hash, content_hash_as, facts_from_row, serialized_columns, sort_time_from_row,
};
use crate::{
    COMMIT_BATCH, ClusterAssignment, CommitKind, Committed, NewVersion, Review, StoreError,
    format_time, parse_time, story_id,
};
use chrono::{DateTime, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use verbatim_item::Item;

/// The one connection the store's commits go through, shared by clones of the store.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    connection: Arc<Mutex<Connection>>,
    /// The store's count of page-changing writes, bumped after each transaction commits.
    changes: Arc<AtomicU64>,
}

/// Runs `work` on a blocking thread with `connection` to itself (the store's rusqlite
/// connections, `Writer` and `sqlite_reader::Reader`, are each used a whole batch at a time).
pub(crate) async fn on_blocking_thread<T: Send + 'static>(
    connection: &Arc<Mutex<Connection>>,
    work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let connection = Arc::clone(connection);
    tokio::task::spawn_blocking(move || {
        // A panic inside `work` rolled its transaction back when the transaction dropped; the
        // connection itself is still good.
        let mut connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
        work(&mut connection)
    })
    .await
    .map_err(|error| StoreError::Corrupt(format!("a store task failed: {error}")))?
}

impl Writer {
    /// Opens the (already migrated, WAL-mode) database file with the pool's settings.
    pub(crate) fn open(path: &Path, changes: Arc<AtomicU64>) -> Result<Writer, StoreError> {
        let connection = Connection::open(path)?;
        connection.busy_timeout(Duration::from_secs(10))?;
        connection.pragma_update(None, "foreign_keys", true)?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        // Off for this connection alone: `write_transaction` does the triggers' one job.
        connection.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)?;
        // Every statement below stays prepared (about 20; the default keeps 16).
        connection.set_prepared_statement_cache_capacity(32);
        Ok(Writer {
            connection: Arc::new(Mutex::new(connection)),
            changes,
        })
    }

    /// Runs `work` on a blocking thread with the connection to itself.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection, &AtomicU64) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let changes = self.changes.clone();
        on_blocking_thread(&self.connection, move |connection| {
            work(connection, &changes)
        })
        .await
    }

    /// `Store::commit_all`: transactions of up to `COMMIT_BATCH` versions.
    pub(crate) async fn commit_all(
        &self,
        versions: Vec<NewVersion>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Committed>, StoreError> {
        self.run(move |connection, changes| {
            let mut committed = Vec::with_capacity(versions.len());
            for chunk in versions.chunks(COMMIT_BATCH) {
                write_transaction(connection, changes, |transaction| {
                    let stamp = change_stamp(transaction, now)?;
                    for version in chunk {
                        committed.push(commit_in(transaction, version, now, stamp)?);
                    }
                    Ok(())
                })?;
            }
            Ok(committed)
        })
        .await
    }

    /// `Store::release_due`: each due story recomputed in a transaction of its own.
    pub(crate) async fn release_due(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        self.run(move |connection, changes| {
            let now_text = format_time(now);
            let due: Vec<String> = connection
                .prepare_cached("SELECT id FROM stories WHERE embargo_until <= ?1")?
                .query_map([&now_text], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            let mut released = Vec::with_capacity(due.len());
            for id in due {
                write_transaction(connection, changes, |transaction| {
                    // Another process on the same data folder may have released it since the
                    // query above; holding the write lock, check again, so each release happens
                    // exactly once.
                    let still_due: Option<String> = transaction
                        .prepare_cached(
                            "SELECT id FROM stories WHERE id = ?1 AND embargo_until <= ?2",
                        )?
                        .query_row(params![id, now_text], |row| row.get(0))
                        .optional()?;
                    if still_due.is_some() {
                        let stamp = change_stamp(transaction, now)?;
                        resolve_story(transaction, &id, now, stamp)?;
                        released.push(id);
                    }
                    Ok(())
                })?;
            }
            Ok(released)
        })
        .await
    }

    /// `Store::set_clusters`: a follower's page of cluster assignments in one transaction.
    pub(crate) async fn set_clusters(
        &self,
        assignments: Vec<ClusterAssignment>,
    ) -> Result<(), StoreError> {
        self.run(move |connection, changes| {
            write_transaction(connection, changes, |transaction| {
                for assignment in &assignments {
                    transaction
                        .prepare_cached("UPDATE stories SET cluster_id = ?1 WHERE id = ?2")?
                        .execute(params![assignment.cluster_id, assignment.story_id])?;
                    transaction
                        .prepare_cached(
                            "INSERT INTO story_signatures (story_id, signature, story_time) \
                             VALUES (?1, ?2, ?3) ON CONFLICT (story_id) DO UPDATE SET \
                             signature = excluded.signature, story_time = excluded.story_time",
                        )?
                        .execute(params![
                            assignment.story_id,
                            assignment.signature,
                            format_time(assignment.story_time)
                        ])?;
                }
                Ok(())
            })
        })
        .await
    }

    /// `Store::review_held`: the story's undecided held versions released or dropped.
    pub(crate) async fn review_held(
        &self,
        story_id: String,
        review: Review,
        by: String,
        now: DateTime<Utc>,
    ) -> Result<(usize, StoryState), StoreError> {
        self.run(move |connection, changes| {
            write_transaction(connection, changes, |transaction| {
                let decided = transaction
                    .prepare_cached(
                        "UPDATE versions SET review = ?1, reviewed_by = ?2, reviewed_at = ?3 \
                     WHERE story_id = ?4 AND hold_reasons IS NOT NULL AND review IS NULL",
                    )?
                    .execute(params![review.as_str(), by, format_time(now), story_id])?;
                let state: Option<String> = transaction
                    .prepare_cached("SELECT state FROM stories WHERE id = ?1")?
                    .query_row([&story_id], |row| row.get(0))
                    .optional()?;
                let Some(state) = state else {
                    return Err(StoreError::NotFound(story_id));
                };
                let state = if decided > 0 {
                    let stamp = change_stamp(transaction, now)?;
                    resolve_story(transaction, &story_id, now, stamp)?
                } else {
                    StoryState::parse(&state)
                };
                Ok((decided, state))
            })
        })
        .await
    }
}

/// Runs `work` in one write transaction (IMMEDIATE: the write lock from the start), bumps the
/// store's change counter once if `work` changed any row, commits, and counts the commit in
/// `changes`. The bump is what migration 0015's triggers do on every other connection, where
/// they fire per row; in the same transaction, so a cache never sees the change without it.
fn write_transaction<T>(
    connection: &mut Connection,
    changes: &AtomicU64,
    work: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed_before = transaction.total_changes();
    let outcome = work(&transaction)?;
    if transaction.total_changes() != changed_before {
        transaction
            .prepare_cached(
                "INSERT INTO change_counter (id, n) VALUES (1, 1) \
                 ON CONFLICT (id) DO UPDATE SET n = n + 1",
            )?
            .execute([])?;
    }
    transaction.commit()?;
    changes.fetch_add(1, Ordering::Release);
    Ok(outcome)
}

/// Where an item's version goes, from what the store already holds.
enum StoryTarget {
    /// The item's own (source, guid) story exists.
    Own,
    /// No story yet: the version creates its own.
    New,
    /// Another feed's story of the same agency story (an alias recorded earlier, or found
    /// now by guid and text): `(story id, that story's source)`.
    Folded(String, String),
}

/// The story another feed already created for this agency story: an alias recorded earlier,
/// or (first time) a story of another source with the same guid and a version with the same
/// text. Never a story of this item's own (source, guid), which is simply its story; never a
/// different text, so two agencies' stories are never merged. One statement asks all three.
fn story_target(
    connection: &Connection,
    item: &Item,
    own_id: &str,
    text_hash: &str,
) -> Result<StoryTarget, StoreError> {
    let may_fold_by_text =
        !text_hash.is_empty() && !item.guid.trim().is_empty() && !item.body_text.trim().is_empty();
    let mut statement = connection.prepare_cached(
        "SELECT 0 AS found, id, source FROM stories WHERE id = ?1 \
         UNION ALL \
         SELECT 1, s.id, s.source FROM story_aliases a JOIN stories s ON s.id = a.story_id \
         WHERE a.source = ?2 AND a.guid = ?3 \
         UNION ALL \
         SELECT * FROM (SELECT 2, s.id, s.source FROM stories s JOIN versions v ON v.story_id = s.id \
         WHERE ?5 AND s.guid = ?3 AND s.source <> ?2 AND v.text_hash = ?4 ORDER BY s.id LIMIT 1)",
    )?;
    let mut found: [Option<(String, String)>; 3] = [None, None, None];
    let mut rows = statement.query(params![
        own_id,
        item.source,
        item.guid,
        text_hash,
        may_fold_by_text
    ])?;
    while let Some(row) = rows.next()? {
        let kind: i64 = row.get(0)?;
        if let Some(slot) = usize::try_from(kind)
            .ok()
            .and_then(|kind| found.get_mut(kind))
        {
            slot.get_or_insert((row.get(1)?, row.get(2)?));
        }
    }
    let [own, alias, same_text] = found;
    if own.is_some() {
        return Ok(StoryTarget::Own);
    }
    if let Some((target, source)) = alias {
        return Ok(StoryTarget::Folded(target, source));
    }
    let Some((target, source)) = same_text else {
        return Ok(StoryTarget::New);
    };
    connection
        .prepare_cached(
            "INSERT INTO story_aliases (source, guid, story_id) VALUES (?1, ?2, ?3) \
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![item.source, item.guid, target])?;
    Ok(StoryTarget::Folded(target, source))
}

/// The time a transaction stamps its changes with (`changed_at`): `now`, or the latest stamp
/// already stored when that is later. Read under the write lock, so stamps never go back in
/// commit order: a batch that waited for the lock longer than the followers' overlap (their
/// 2 s re-read) would otherwise be stamped behind changes a follower has already passed, and
/// its stories would never reach the search index.
fn change_stamp(connection: &Connection, now: DateTime<Utc>) -> Result<DateTime<Utc>, StoreError> {
    let latest: Option<String> = connection
        .prepare_cached("SELECT MAX(changed_at) FROM stories")?
        .query_row([], |row| row.get(0))?;
    Ok(match latest {
        Some(latest) => now.max(parse_time(&latest)?),
        None => now,
    })
}

/// Recomputes a story's state from its versions at `now` and records it, stamped `stamp`.
/// The versions and the story's previous state come in one statement.
fn resolve_story(
    connection: &Connection,
    id: &str,
    now: DateTime<Utc>,
    stamp: DateTime<Utc>,
) -> Result<StoryState, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT s.state AS story_state, s.current_version AS story_current, v.id AS id, \
         v.agency_version AS agency_version, v.versioncreated AS versioncreated, \
         v.received_at AS received_at, v.pubstatus AS pubstatus, v.hold_reasons AS hold_reasons, \
         v.embargoed_until AS embargoed_until, v.review AS review \
         FROM stories s LEFT JOIN versions v ON v.story_id = s.id WHERE s.id = ?1 ORDER BY v.id",
    )?;
    let mut rows = statement.query([id])?;
    let mut previous: Option<(String, Option<i64>)> = None;
    let mut facts = Vec::new();
    // Each version's list time (the agency's time, never later than arrival), by arrival.
    let mut sort_times = Vec::new();
    while let Some(row) = rows.next()? {
        if previous.is_none() {
            previous = Some((row.get("story_state")?, row.get("story_current")?));
        }
        let Some(arrival) = row.get::<_, Option<i64>>("id")? else {
            continue;
        };
        facts.push(facts_from_row(row)?);
        sort_times.push((arrival, sort_time_from_row(row)?));
    }
    drop(rows);
    let resolution = resolve(&facts, now);
    let changed = match &previous {
        Some((state, current)) => {
            state != resolution.state.as_str() || *current != resolution.current
        }
        None => true,
    };
    if changed {
        let sort_time = resolution.current.and_then(|current| {
            sort_times
                .iter()
                .find(|(arrival, _)| *arrival == current)
                .map(|(_, time)| *time)
        });
        connection
            .prepare_cached(
                "UPDATE stories SET state = ?1, current_version = ?2, changed_at = ?3, \
                 sort_time = COALESCE(?4, sort_time), embargo_until = ?5 WHERE id = ?6",
            )?
            .execute(params![
                resolution.state.as_str(),
                resolution.current,
                format_time(stamp),
                sort_time.map(format_time),
                resolution.embargo_until.map(format_time),
                id
            ])?;
    } else {
        connection
            .prepare_cached("UPDATE stories SET embargo_until = ?1 WHERE id = ?2")?
            .execute(params![resolution.embargo_until.map(format_time), id])?;
    }
    Ok(resolution.state)
}

/// Stores one version and recomputes what outputs show for its story, inside the caller's
/// transaction; changes are stamped `stamp` (see [`change_stamp`]).
fn commit_in(
    connection: &Connection,
    version: &NewVersion,
    now: DateTime<Utc>,
    stamp: DateTime<Utc>,
) -> Result<Committed, StoreError> {
    let item = &version.item;
    let own_id = story_id(&item.source, &item.guid);
    let (item_json, hold_reasons) = serialized_columns(version)?;
    let text_hash = item.text_hash.as_deref().unwrap_or_default();
    // Which story: its own; or, for the same agency story arriving through a second feed
    // (same guid, same text), the story the first feed created.
    let target = story_target(connection, item, &own_id, text_hash)?;
    let is_new = matches!(target, StoryTarget::New);
    let (id, story_source, folded) = match target {
        StoryTarget::Folded(target, target_source) => (target, target_source, true),
        StoryTarget::Own | StoryTarget::New => (own_id, item.source.clone(), false),
    };
    let created = is_new
        && connection
            .prepare_cached(
                "INSERT INTO stories (id, source, guid, state, sort_time, changed_at) \
                 VALUES (?1, ?2, ?3, 'held', ?4, ?5) ON CONFLICT (id) DO NOTHING",
            )?
            .execute(params![
                id,
                item.source,
                item.guid,
                format_time(item.received_at.unwrap_or(now)),
                format_time(stamp)
            ])?
            == 1;
    let mut added_sections = 0;
    for section in &version.sections {
        added_sections += connection
            .prepare_cached(
                "INSERT INTO story_sections (section, story_id) VALUES (?1, ?2) \
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![section, id])?;
    }
    if added_sections > 0 {
        connection
            .prepare_cached("UPDATE stories SET changed_at = ?1 WHERE id = ?2")?
            .execute(params![format_time(stamp), id])?;
    }
    let content_sha256 = content_hash(item)?;
    let as_story = if story_source == item.source {
        content_sha256.clone()
    } else {
        content_hash_as(item, &story_source)?
    };
    // A story created just now has no version to repeat.
    let duplicate: Option<i64> = if created {
        None
    } else {
        connection
            .prepare_cached(
                "SELECT id FROM versions WHERE story_id = ?1 AND content_sha256 IN (?2, ?3) \
                 AND (hold_reasons IS NULL) = ?4 LIMIT 1",
            )?
            .query_row(
                params![id, content_sha256, as_story, hold_reasons.is_none()],
                |row| row.get(0),
            )
            .optional()?
    };
    if duplicate.is_some() {
        let state: String = connection
            .prepare_cached("SELECT state FROM stories WHERE id = ?1")?
            .query_row([&id], |row| row.get(0))?;
        return Ok(Committed {
            folded_into: folded.then(|| id.clone()),
            id,
            kind: CommitKind::Unchanged,
            state: StoryState::parse(&state),
        });
    }
    connection
        .prepare_cached(
            "INSERT INTO versions (story_id, agency_version, versioncreated, received_at, \
             pubstatus, embargoed_until, text_hash, content_sha256, raw_sha256, hold_reasons, \
             item_json, provenance, signature, body_chars, link_only) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?
        .execute(params![
            id,
            item.version.and_then(|version| i64::try_from(version).ok()),
            item.versioncreated.map(format_time),
            format_time(item.received_at.unwrap_or(now)),
            item.pubstatus.as_str(),
            version.embargoed_until.map(format_time),
            text_hash,
            content_sha256,
            item.raw,
            hold_reasons,
            item_json,
            version.provenance,
            version.signature,
            i64::try_from(item.body_text.chars().count()).unwrap_or(i64::MAX),
            i64::from(version.link_only)
        ])?;
    let state = resolve_story(connection, &id, now, stamp)?;
    Ok(Committed::stored(id, folded, created, state))
}

#[cfg(test)]
mod tests {
    use crate::{ChangeCursor, NewVersion, SqliteStore, Store, StoreError};
    use chrono::{DateTime, TimeZone, Utc};
    use verbatim_item::{Item, Pubstatus};

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_750_000_000 + seconds, 0)
            .single()
            .unwrap_or_default()
    }

    fn version(guid: &str) -> NewVersion {
        NewVersion::plain(Item {
            source: "agency".into(),
            guid: guid.into(),
            headline: format!("Story {guid}"),
            body_text: format!("The text of {guid}."),
            pubstatus: Pubstatus::Usable,
            received_at: Some(at(0)),
            ..Item::default()
        })
    }

    /// A batch that took its time before it got the write lock (its `now` is older than a
    /// change already committed and read) is still handed to a follower that has moved on.
    #[tokio::test]
    async fn a_commit_that_waited_for_the_lock_is_not_stamped_behind_the_followers()
    -> Result<(), StoreError> {
        let folder = tempfile::tempdir().map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let store = SqliteStore::open(&folder.path().join("verbatim.db")).await?;
        let mut cursor = ChangeCursor::new(DateTime::<Utc>::MIN_UTC);
        let first = store.commit(&version("first"), at(10)).await?;
        let seen = cursor.next(&store, 100).await?;
        assert_eq!(seen.stories.len(), 1);
        assert_eq!(seen.stories[0].id, first.id);
        // Stamped 10 s before the change the cursor has already passed.
        let late = store.commit(&version("late"), at(0)).await?;
        let story = store
            .story(&late.id)
            .await?
            .ok_or_else(|| StoreError::NotFound(late.id.clone()))?;
        assert_eq!(story.changed_at, at(10), "no earlier than the latest stamp");
        let next = cursor.next(&store, 100).await?;
        let ids: Vec<&str> = next.stories.iter().map(|story| story.id.as_str()).collect();
        assert_eq!(ids, vec![late.id.as_str()]);
        Ok(())
    }

    /// The writer's connection runs without triggers and bumps the change counter itself: once
    /// for a transaction that changed rows, however many, and not for one that changed none.
    /// Another connection to the same file still has the triggers.
    #[tokio::test]
    async fn the_writer_bumps_the_change_counter_once_a_transaction() -> Result<(), StoreError> {
        let folder = tempfile::tempdir().map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let path = folder.path().join("verbatim.db");
        let store = SqliteStore::open(&path).await?;
        let start = store.change_token().await?;
        let batch: Vec<NewVersion> = ["a", "b", "c"].into_iter().map(version).collect();
        store.commit_all(&batch, at(1)).await?;
        assert_eq!(
            store.change_token().await?,
            start + 1,
            "three stories, one bump"
        );
        store.commit_all(&batch, at(2)).await?;
        assert_eq!(
            store.change_token().await?,
            start + 1,
            "the same versions again change nothing"
        );
        let shell = rusqlite::Connection::open(&path)?;
        shell.execute(
            "UPDATE stories SET changed_at = changed_at WHERE guid IN ('a', 'b')",
            [],
        )?;
        assert_eq!(
            store.change_token().await?,
            start + 3,
            "any other connection counts by trigger, a row at a time"
        );
        Ok(())
    }
}
