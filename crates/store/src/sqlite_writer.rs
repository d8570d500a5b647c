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

use crate::lifecycle::{Resolution, StoryState, VersionFacts, resolve};
use crate::rows::{
    content_hash_as, content_hash_in_place, facts_from_row, list_time, serialized_columns,
    sort_time_from_row,
};
use crate::{
    COMMIT_BATCH, ClusterAssignment, CommitKind, Committed, NewVersion, Review, StoreError,
    WriterTime, format_time, parse_time, story_id,
};
use chrono::{DateTime, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use verbatim_item::{Item, Pubstatus};

/// The one connection the store's commits go through, shared by clones of the store.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    connection: Arc<Mutex<Connection>>,
    /// What each write transaction updates as it commits.
    books: Arc<Books>,
}

/// The bookkeeping of the writer's transactions.
#[derive(Debug)]
struct Books {
    /// The store's count of page-changing writes, bumped after each transaction commits.
    changes: Arc<AtomicU64>,
    /// Told after each transaction that wrote pages to the write-ahead log.
    checkpointer: Checkpointer,
    /// Nanoseconds the connection has been held for writing, all batches together.
    held_nanos: AtomicU64,
    /// Nanoseconds of the holding threads' CPU time meanwhile.
    cpu_nanos: AtomicU64,
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
        // The checkpointer's thread copies the log into the file; this connection does it
        // itself only if that thread falls far behind.
        connection.pragma_update(None, "wal_autocheckpoint", FALLBACK_CHECKPOINT_PAGES)?;
        // A log file that once grew long is cut back when the log starts over.
        connection.pragma_update(None, "journal_size_limit", LOG_FILE_LIMIT_BYTES)?;
        Ok(Writer {
            connection: Arc::new(Mutex::new(connection)),
            books: Arc::new(Books {
                changes,
                checkpointer: Checkpointer::start(path)?,
                held_nanos: AtomicU64::new(0),
                cpu_nanos: AtomicU64::new(0),
            }),
        })
    }

    /// How long the connection has been held for writing, all batches together, and the CPU
    /// the holding threads spent meanwhile.
    pub(crate) fn time(&self) -> WriterTime {
        WriterTime {
            held: Duration::from_nanos(self.books.held_nanos.load(Ordering::Relaxed)),
            cpu: Duration::from_nanos(self.books.cpu_nanos.load(Ordering::Relaxed)),
        }
    }

    /// Asks the checkpoint thread for a run, after a write on another connection (the pool's).
    pub(crate) fn nudge_checkpoint(&self) {
        self.books.checkpointer.nudge();
    }

    /// Copies the write-ahead log into the database file now, on a blocking thread, until every
    /// page in it is copied (a reader still on an older snapshot can hold some back: then it
    /// tries again, for up to 10 s).
    pub(crate) async fn checkpoint(&self) -> Result<(), StoreError> {
        let checkpointer = self.books.checkpointer.connection.clone();
        on_blocking_thread(&checkpointer, |connection| {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let (_, logged, copied) = wal_checkpoint(connection, "PASSIVE")?;
                if copied >= logged || Instant::now() > deadline {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .await
    }

    /// Runs `prepare` on a blocking thread, then `work` on the same thread with the connection
    /// to itself: what needs no connection is done before taking it, so concurrent batches
    /// prepare in parallel and hold the one writer only for their statements.
    async fn run_prepared<P: Send + 'static, T: Send + 'static>(
        &self,
        prepare: impl FnOnce() -> Result<P, StoreError> + Send + 'static,
        work: impl FnOnce(&mut Connection, &Books, P) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connection = Arc::clone(&self.connection);
        let books = Arc::clone(&self.books);
        tokio::task::spawn_blocking(move || {
            let prepared = prepare()?;
            // A panic inside `work` rolled its transaction back when the transaction dropped;
            // the connection itself is still good.
            let mut connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
            let (started, cpu_started) = (Instant::now(), thread_cpu());
            let outcome = work(&mut connection, &books, prepared);
            let nanos = |spent: Duration| u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
            books
                .held_nanos
                .fetch_add(nanos(started.elapsed()), Ordering::Relaxed);
            books.cpu_nanos.fetch_add(
                nanos(thread_cpu().saturating_sub(cpu_started)),
                Ordering::Relaxed,
            );
            outcome
        })
        .await
        .map_err(|error| StoreError::Corrupt(format!("a store task failed: {error}")))?
    }

    /// Runs `work` on a blocking thread with the connection to itself.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection, &Books) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.run_prepared(
            || Ok(()),
            move |connection, books, ()| work(connection, books),
        )
        .await
    }

    /// `Store::commit_all`: transactions of up to `COMMIT_BATCH` versions. Each version's JSON
    /// columns and content hash are computed before the connection is taken.
    pub(crate) async fn commit_all(
        &self,
        versions: Vec<NewVersion>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Committed>, StoreError> {
        self.run_prepared(
            move || versions.into_iter().map(PreparedVersion::new).collect(),
            move |connection, books, prepared: Vec<PreparedVersion>| {
                let mut committed = Vec::with_capacity(prepared.len());
                for chunk in prepared.chunks(COMMIT_BATCH) {
                    write_transaction(connection, books, |transaction| {
                        let stamp = change_stamp(transaction, now)?;
                        for version in chunk {
                            committed.push(commit_in(transaction, version, now, stamp)?);
                        }
                        Ok(())
                    })?;
                }
                Ok(committed)
            },
        )
        .await
    }

    /// `Store::release_due`: each due story recomputed in a transaction of its own.
    pub(crate) async fn release_due(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        self.run(move |connection, books| {
            let now_text = format_time(now);
            let due: Vec<String> = connection
                .prepare_cached("SELECT id FROM stories WHERE embargo_until <= ?1")?
                .query_map([&now_text], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            let mut released = Vec::with_capacity(due.len());
            for id in due {
                write_transaction(connection, books, |transaction| {
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
        self.run(move |connection, books| {
            write_transaction(connection, books, |transaction| {
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
        self.run(move |connection, books| {
            write_transaction(connection, books, |transaction| {
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
    books: &Books,
    work: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed_before = transaction.total_changes();
    let outcome = work(&transaction)?;
    let changed = transaction.total_changes() != changed_before;
    if changed {
        transaction
            .prepare_cached(
                "INSERT INTO change_counter (id, n) VALUES (1, 1) \
                 ON CONFLICT (id) DO UPDATE SET n = n + 1",
            )?
            .execute([])?;
    }
    transaction.commit()?;
    books.changes.fetch_add(1, Ordering::Release);
    if changed {
        books.checkpointer.nudge();
    }
    Ok(outcome)
}

/// The calling thread's CPU time so far (zero if the system cannot tell).
#[cfg(target_os = "linux")]
fn thread_cpu() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

/// The calling thread's CPU time so far: not read on this system.
#[cfg(not(target_os = "linux"))]
fn thread_cpu() -> Duration {
    Duration::ZERO
}

/// Log pages past which the writer's own connection, or a pool connection that writes,
/// checkpoints (SQLite's default is 1,000), reached only when the checkpointer's thread falls
/// far behind or fails: a bound on the log.
pub(crate) const FALLBACK_CHECKPOINT_PAGES: i64 = 20_000;

/// The size the log file is cut back to when it starts over after growing longer (its pages
/// are then reused from the start; SQLite keeps the file's size by default).
const LOG_FILE_LIMIT_BYTES: i64 = 32 * 1024 * 1024;

/// Log pages past which the checkpointer, once it has copied them, also asks for the log to
/// start over from its beginning (see [`Checkpointer`]).
const RESTART_CHECKPOINT_PAGES: i64 = 4_000;

/// The longest time between two of the checkpointer's runs when nothing asks for one.
const UNASKED_CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

/// The least time between two of the checkpointer's runs: the commits in between are copied
/// into the file together, a page changed by several of them once. Checkpoints were 7.0 % of
/// `serve`'s CPU during a 100,000-story ingest at 50 ms, 4.7 % at 250 ms and 3.9 % at 500 ms,
/// where the log more often reached the writer's fallback bound.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(250);

/// Copies the write-ahead log's committed pages into the database file, on a thread and
/// connection of its own, after commits. Left to SQLite, the connection whose commit passes
/// 1,000 pages of log does it inside that commit: on the writer, a fifth of the one thread's
/// time.
///
/// Each run is a passive checkpoint, which never waits for a reader or the writer; runs come
/// after commits (at most every [`CHECKPOINT_PAUSE`]) and, unasked, every
/// [`UNASKED_CHECKPOINT_EVERY`]. Under a steady stream of commits passive runs alone never let
/// the log start over (SQLite restarts it only at a write that begins with every page already
/// copied), so once the log passes [`RESTART_CHECKPOINT_PAGES`] a run copies once more and then
/// tries a restart checkpoint, without waiting: it takes the write lock only if it is free,
/// copies the few pages committed since (holding the writer back meanwhile, as it syncs), and
/// the next commit writes the log from its beginning. The writer's and the pool's own
/// checkpoints at [`FALLBACK_CHECKPOINT_PAGES`] stay as the bound should this thread fall
/// behind. The thread ends when the last writer is dropped (after its current run, if any).
#[derive(Debug)]
struct Checkpointer {
    connection: Arc<Mutex<Connection>>,
    /// One pending run at most: commits while one is pending or running need no more.
    nudges: SyncSender<()>,
    /// Set when the last writer is dropped: the thread runs no more checkpoints.
    closed: Arc<AtomicBool>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Release);
    }
}

impl Checkpointer {
    /// Opens its connection and starts its thread, which ends when the last writer is dropped.
    fn start(path: &Path) -> Result<Checkpointer, StoreError> {
        let connection = Connection::open(path)?;
        // Never wait for a lock: a checkpoint that cannot take one copies what it can.
        connection.busy_timeout(Duration::ZERO)?;
        // The checkpointing connection's setting decides its syncs: the log, then the file.
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        let connection = Arc::new(Mutex::new(connection));
        let (nudges, nudged) = sync_channel::<()>(1);
        let closed = Arc::new(AtomicBool::new(false));
        let (theirs, closed_for_them) = (Arc::clone(&connection), Arc::clone(&closed));
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                loop {
                    // Also unasked now and then: the pool's rarer writes (leases, webhook
                    // deliveries, raw payload rows) do not all ask.
                    match nudged.recv_timeout(UNASKED_CHECKPOINT_EVERY) {
                        Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                    if closed_for_them.load(Ordering::Acquire) {
                        return;
                    }
                    let connection = theirs.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Err(error) = checkpoint(&connection, RESTART_CHECKPOINT_PAGES) {
                        // The writer's own fallback checkpoint still bounds the log.
                        tracing::warn!(%error, "checkpointing the SQLite log failed");
                    }
                    drop(connection);
                    std::thread::sleep(CHECKPOINT_PAUSE);
                }
            })
            .map_err(|error| {
                StoreError::Corrupt(format!("the checkpoint thread did not start: {error}"))
            })?;
        Ok(Checkpointer {
            connection,
            nudges,
            closed,
        })
    }

    /// Asks for a run (after a commit that wrote pages to the log).
    fn nudge(&self) {
        // Full: a run is already pending and will copy this commit's pages too.
        let _ = self.nudges.try_send(());
    }
}

/// Copies what it can of the log into the database file without waiting for anyone, and asks
/// a log of `restart_pages` or more to start over. Returns whether it did: the next commit
/// writes the log from its beginning.
fn checkpoint(connection: &Connection, restart_pages: i64) -> Result<bool, StoreError> {
    let run = |mode: &str| wal_checkpoint(connection, mode);
    let (_, logged, copied) = run("PASSIVE")?;
    if logged < restart_pages || copied != logged {
        return Ok(false);
    }
    // Once more, for what was committed while the first run copied: the restart below holds
    // the write lock while it copies what is left and syncs, so that should be next to nothing.
    let (_, logged, copied) = run("PASSIVE")?;
    if copied != logged {
        return Ok(false);
    }
    match run("RESTART") {
        Ok((busy, _, _)) => Ok(!busy),
        // The write lock or a reader was busy: the next run tries again.
        Err(rusqlite::Error::SqliteFailure(failure, _))
            if failure.code == rusqlite::ErrorCode::DatabaseBusy =>
        {
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}

/// One checkpoint in `mode` (`PASSIVE`, `RESTART`): whether it could not finish, the pages in
/// the log, the pages copied into the file.
fn wal_checkpoint(connection: &Connection, mode: &str) -> rusqlite::Result<(bool, i64, i64)> {
    connection.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok((row.get::<_, i64>(0)? != 0, row.get(1)?, row.get(2)?))
    })
}

/// A version with what can be computed before the writer is taken: its JSON columns and the
/// hash that says whether it is already stored.
struct PreparedVersion {
    version: NewVersion,
    item_json: String,
    hold_reasons: Option<String>,
    content_sha256: String,
}

impl PreparedVersion {
    fn new(mut version: NewVersion) -> Result<PreparedVersion, StoreError> {
        let (item_json, hold_reasons) = serialized_columns(&version)?;
        let content_sha256 = content_hash_in_place(&mut version.item)?;
        Ok(PreparedVersion {
            version,
            item_json,
            hold_reasons,
            content_sha256,
        })
    }
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
    prepared: &PreparedVersion,
    now: DateTime<Utc>,
    stamp: DateTime<Utc>,
) -> Result<Committed, StoreError> {
    let PreparedVersion {
        version,
        item_json,
        hold_reasons,
        content_sha256,
    } = prepared;
    let item = &version.item;
    let own_id = story_id(&item.source, &item.guid);
    let text_hash = item.text_hash.as_deref().unwrap_or_default();
    // Which story: its own; or, for the same agency story arriving through a second feed
    // (same guid, same text), the story the first feed created.
    let target = story_target(connection, item, &own_id, text_hash)?;
    let is_new = matches!(target, StoryTarget::New);
    let (id, story_source, folded) = match target {
        StoryTarget::Folded(target, target_source) => (target, target_source, true),
        StoryTarget::Own | StoryTarget::New => (own_id, item.source.clone(), false),
    };
    // A new story's state comes from its one version, known before anything is written, so
    // its row is inserted as it will stay: updating it after the version would rewrite five of
    // its index entries (state, times) for nothing.
    let first = if is_new {
        Some(FirstVersion::of(version, hold_reasons.is_some(), now)?)
    } else {
        None
    };
    let created = match &first {
        Some(first) => {
            connection
                .prepare_cached(
                    "INSERT INTO stories (id, source, guid, state, sort_time, changed_at, \
                     embargo_until) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                     ON CONFLICT (id) DO NOTHING",
                )?
                .execute(params![
                    id,
                    item.source,
                    item.guid,
                    first.resolution.state.as_str(),
                    first.sort_time,
                    format_time(stamp),
                    first.resolution.embargo_until.map(format_time),
                ])?
                == 1
        }
        None => false,
    };
    let mut added_sections = 0;
    for section in &version.sections {
        added_sections += connection
            .prepare_cached(
                "INSERT INTO story_sections (section, story_id) VALUES (?1, ?2) \
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![section, id])?;
    }
    // A story created just now already carries this stamp.
    if added_sections > 0 && !created {
        connection
            .prepare_cached("UPDATE stories SET changed_at = ?1 WHERE id = ?2")?
            .execute(params![format_time(stamp), id])?;
    }
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
    let state = match first {
        Some(first) if created => {
            if first.resolution.current.is_some() {
                // The only column the row could not have before its version did (no index
                // holds it).
                connection
                    .prepare_cached("UPDATE stories SET current_version = ?1 WHERE id = ?2")?
                    .execute(params![connection.last_insert_rowid(), id])?;
            }
            first.resolution.state
        }
        _ => resolve_story(connection, &id, now, stamp)?,
    };
    Ok(Committed::stored(id, folded, created, state))
}

/// A new story's one version, as `resolve_story` would read it back from its row.
struct FirstVersion {
    /// The story's state, current version (if any, as a placeholder arrival: the row id is
    /// not known before the insert) and next embargo, at the commit's `now`.
    resolution: Resolution,
    /// The story's list time, as the column holds it.
    sort_time: String,
}

impl FirstVersion {
    fn of(
        version: &NewVersion,
        held: bool,
        now: DateTime<Utc>,
    ) -> Result<FirstVersion, StoreError> {
        let item = &version.item;
        // Times as the columns hold them (to the microsecond), so that comparisons with `now`
        // decide as they do on the stored row.
        let stored = |time: DateTime<Utc>| parse_time(&format_time(time));
        let received = stored(item.received_at.unwrap_or(now))?;
        let versioncreated = item.versioncreated.map(stored).transpose()?;
        let facts = VersionFacts {
            arrival: 0,
            agency_version: item
                .version
                .and_then(|version| i64::try_from(version).ok())
                .and_then(|version| u64::try_from(version).ok()),
            versioncreated,
            pubstatus: Pubstatus::from_agency_word(item.pubstatus.as_str()),
            held,
            embargoed_until: version.embargoed_until.map(stored).transpose()?,
        };
        let resolution = resolve(std::slice::from_ref(&facts), now);
        // The version's list time once it shows; until then the arrival.
        let sort_time = format_time(match resolution.current {
            Some(_) => list_time(received, versioncreated),
            None => received,
        });
        Ok(FirstVersion {
            resolution,
            sort_time,
        })
    }
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

    /// A new store in a folder of its own (kept while the folder lives), with its file's path.
    async fn fresh_store()
    -> Result<(tempfile::TempDir, std::path::PathBuf, SqliteStore), StoreError> {
        let folder = tempfile::tempdir().map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let path = folder.path().join("verbatim.db");
        let store = SqliteStore::open(&path).await?;
        Ok((folder, path, store))
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
        let (_folder, _, store) = fresh_store().await?;
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

    /// A new story's row is written as it will stay, from its one version in memory: the same
    /// row as inserting it held and then resolving it from its stored version (what the writer
    /// did before, and still does for every later version), whatever the version's status,
    /// hold, embargo and times (to the nanosecond, either side of the commit's `now`).
    #[tokio::test]
    async fn a_new_storys_row_is_what_resolving_it_from_its_version_gives() -> Result<(), StoreError>
    {
        use super::resolve_story;
        use chrono::Duration;
        let (_folder, path, store) = fresh_store().await?;
        let now = at(100) + Duration::nanoseconds(123_456_789);
        let mut batch = Vec::new();
        let statuses = [
            Pubstatus::Usable,
            Pubstatus::Withheld,
            Pubstatus::Canceled,
            Pubstatus::Unknown("draft".into()),
        ];
        let embargoes = [
            None,
            // Due by the stored (microsecond) time, not yet by the nanosecond.
            Some(now + Duration::nanoseconds(100)),
            Some(now + Duration::seconds(60)),
            Some(now - Duration::seconds(1)),
        ];
        let created = [None, Some(at(50)), Some(at(500) + Duration::nanoseconds(7))];
        for (index, status) in statuses.iter().enumerate() {
            for (embargo_index, embargo) in embargoes.iter().enumerate() {
                for (created_index, versioncreated) in created.iter().enumerate() {
                    for held in [false, true] {
                        let guid = format!("{index}-{embargo_index}-{created_index}-{held}");
                        let mut version = version(&guid);
                        version.item.pubstatus = status.clone();
                        version.item.versioncreated = *versioncreated;
                        version.item.version = Some(u64::MAX - 1);
                        version.item.received_at = Some(now - Duration::nanoseconds(999));
                        version.embargoed_until = *embargo;
                        if held {
                            version.hold_reasons = vec!["too short".into()];
                        }
                        batch.push(version);
                    }
                }
            }
        }
        let committed = store.commit_all(&batch, now).await?;
        assert!(committed.iter().all(|c| c.kind == crate::CommitKind::New));
        // The writer's time was counted: its CPU while holding the connection, within the
        // wall time it held it.
        let time = store.writer_time().unwrap_or_default();
        if cfg!(target_os = "linux") {
            assert!(time.cpu > std::time::Duration::ZERO, "{time:?}");
        }
        // Two clocks, read a moment apart: a margin.
        let margin = std::time::Duration::from_millis(1);
        assert!(time.held + margin >= time.cpu, "{time:?}");
        let shell = rusqlite::Connection::open(&path)?;
        let row_of = |id: &str| -> Result<Vec<Option<String>>, rusqlite::Error> {
            shell.query_row(
                "SELECT state, CAST(current_version AS TEXT), sort_time, changed_at, \
                 embargo_until FROM stories WHERE id = ?1",
                [id],
                |row| (0..5).map(|column| row.get(column)).collect(),
            )
        };
        let stamp = super::parse_time(&super::format_time(now))?;
        for outcome in &committed {
            let written = row_of(&outcome.id)?;
            // The old way: the row as inserted held, then resolved from the stored version.
            shell.execute(
                "UPDATE stories SET state = 'held', current_version = NULL, embargo_until = NULL, \
                 sort_time = (SELECT received_at FROM versions WHERE story_id = ?1) WHERE id = ?1",
                [&outcome.id],
            )?;
            let state = resolve_story(&shell, &outcome.id, now, stamp)?;
            assert_eq!(state, outcome.state, "{}", outcome.id);
            assert_eq!(row_of(&outcome.id)?, written, "{}", outcome.id);
        }
        Ok(())
    }

    /// Commits are copied from the log into the database file by the checkpoint thread, not by
    /// the writer or a pool connection (whose own checkpoints wait for 20,000 pages of log):
    /// the file grows soon after a commit of a few hundred pages.
    #[tokio::test]
    async fn the_checkpoint_thread_copies_commits_into_the_file() -> Result<(), StoreError> {
        let (_folder, path, store) = fresh_store().await?;
        // Nor does a pool connection that writes, before the same bound.
        let pool_bound: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(store.pool())
            .await?;
        assert_eq!(pool_bound, super::FALLBACK_CHECKPOINT_PAGES);
        let file_size = || std::fs::metadata(&path).map_or(0, |metadata| metadata.len());
        let before = file_size();
        let batch: Vec<NewVersion> = (0..200)
            .map(|index| {
                let mut version = version(&format!("story-{index}"));
                version.item.body_text = "A long paragraph of agency text. ".repeat(150);
                version
            })
            .collect();
        store.commit_all(&batch, at(1)).await?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while file_size() < before + 1_000_000 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(
            file_size() >= before + 1_000_000,
            "the file grew from {before} to {} bytes",
            file_size()
        );
        Ok(())
    }

    /// A checkpoint of a log past the restart size, with no reader in it, has the next commit
    /// write the log from its beginning; a shorter log is only copied.
    #[test]
    fn a_long_log_starts_over_after_a_checkpoint() -> Result<(), StoreError> {
        let folder = tempfile::tempdir().map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let path = folder.path().join("log.db");
        let writer = rusqlite::Connection::open(&path)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        writer.execute("CREATE TABLE t (x TEXT)", [])?;
        let checkpointer = rusqlite::Connection::open(&path)?;
        let write_pages = |count: usize| -> Result<(), rusqlite::Error> {
            for _ in 0..count {
                writer.execute("INSERT INTO t (x) VALUES (?1)", ["x".repeat(4000)])?;
            }
            Ok(())
        };
        write_pages(20)?;
        assert!(
            !super::checkpoint(&checkpointer, 1_000)?,
            "a short log is only copied"
        );
        write_pages(20)?;
        assert!(
            super::checkpoint(&checkpointer, 30)?,
            "a long log starts over"
        );
        write_pages(2)?;
        let (_, logged, _) = super::wal_checkpoint(&checkpointer, "PASSIVE")?;
        assert!(
            logged < 20,
            "the next commits start the log over: {logged} pages"
        );
        Ok(())
    }

    /// The writer's connection runs without triggers and bumps the change counter itself: once
    /// for a transaction that changed rows, however many, and not for one that changed none.
    /// Another connection to the same file still has the triggers.
    #[tokio::test]
    async fn the_writer_bumps_the_change_counter_once_a_transaction() -> Result<(), StoreError> {
        let (_folder, path, store) = fresh_store().await?;
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
