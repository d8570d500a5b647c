//! The embedded store: one SQLite database in WAL mode, migrated on open.

use crate::lifecycle::StoryState;
use crate::rows::{
    decode_cursor, delivery_from_row, encode_cursor, held_from_row, raw_from_row, source_from_row,
    story_from_row, subscription_from_row, version_from_row,
};
use crate::sqlite_reader::Reader;
use crate::sqlite_writer::Writer;
use crate::{
    ClusterAssignment, ClusterLink, Committed, Counts, DueSource, FailedPayload, FetchRecord,
    GoneRecord, HeadlineOverride, HeldRecord, Lease, ListQuery, NewSource, NewVersion, RawRecord,
    RecentVersion, Review, Source, Store, StoreError, StoryPage, StoryRecord, Subscription,
    VersionRecord, WebhookDelivery, format_time, parse_time,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The connection commits go through (`sqlite_writer.rs`).
    writer: Writer,
    /// The connection the followers' page reads go through (`sqlite_reader.rs`).
    reader: Reader,
    /// Writes committed through this handle that can change a page (`Store::local_changes`).
    changes: Arc<AtomicU64>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new().filename(path);
        Self::connect(store_settings(options)).await
    }

    /// Opens a `sqlite://PATH` URL.
    pub async fn open_url(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|_| StoreError::UnsupportedUrl(url.to_string()))?;
        Self::connect(store_settings(options)).await
    }

    /// Copies the write-ahead log into the database file now, trying again for up to 10 s while
    /// a reader holds pages back (the store's checkpoint thread otherwise does it shortly after
    /// commits).
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        self.writer.checkpoint().await
    }

    /// The connection pool (for tools that read tables directly, e.g. `migrate-store`).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A transaction that holds SQLite's write lock from its first statement. A deferred
    /// transaction that reads and then writes fails (SQLITE_BUSY_SNAPSHOT) when another process on
    /// the same data folder wrote in between; taking the lock first makes writers queue instead.
    async fn write_transaction(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Inserts a source; `on_conflict` is appended to the statement (empty: fail on a duplicate).
    async fn insert_source(
        &self,
        source: &NewSource,
        now: DateTime<Utc>,
        on_conflict: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO sources (name, url, kind, every_seconds, notice, push_token_sha256, auth, language, created_at, next_due) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?){on_conflict}"
        ))
        .bind(&source.name)
        .bind(&source.url)
        .bind(source.kind.as_str())
        .bind(source.every_seconds)
        .bind(&source.notice)
        .bind(&source.push_token_sha256)
        .bind(&source.auth)
        .bind(&source.language)
        .bind(format_time(now))
        .bind(format_time(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn connect(options: SqliteConnectOptions) -> Result<SqliteStore, StoreError> {
        // Processes starting together on a new data folder race: switching a new file to WAL
        // needs its lock (SQLite answers "database is locked" at once, without waiting), and
        // sqlx's SQLite migrator takes no lock, so the loser's migration fails ("already
        // exists"). Each migration is one transaction, so the loser changed nothing; once the
        // winner is done, trying again finds the file in WAL mode and the migrations applied.
        let mut attempts = 0u64;
        loop {
            match Self::connect_once(options.clone()).await {
                Ok(store) => return Ok(store),
                Err(error) if attempts < 20 && is_start_race(&error) => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(25 * attempts)).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn connect_once(options: SqliteConnectOptions) -> Result<SqliteStore, StoreError> {
        let filename = options.get_filename().to_path_buf();
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // A connection to a local file does not go away: pinging it before each use only
            // doubled every read's hand-offs to sqlx's worker thread.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        let changes = Arc::new(AtomicU64::new(0));
        let writer_changes = changes.clone();
        let (writer, reader) = tokio::task::spawn_blocking(move || {
            Ok::<_, StoreError>((
                Writer::open(&filename, writer_changes)?,
                Reader::open(&filename)?,
            ))
        })
        .await
        .map_err(|error| {
            StoreError::Corrupt(format!("opening the connections failed: {error}"))
        })??;
        Ok(SqliteStore {
            pool,
            writer,
            reader,
            changes,
        })
    }

    /// Counts a committed write that can change a page (after its commit, so a reader that sees
    /// the new count reads the new state).
    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::Release);
        self.writer.nudge_checkpoint();
    }
}

/// The settings every connection of the store's pool opens with.
fn store_settings(options: SqliteConnectOptions) -> SqliteConnectOptions {
    options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        // The checkpoint thread copies the log into the file; a pool connection's write does it
        // itself only past the writer's bound (`sqlite_writer.rs`).
        .pragma(
            "wal_autocheckpoint",
            crate::sqlite_writer::FALLBACK_CHECKPOINT_PAGES.to_string(),
        )
}

/// The errors of two processes opening a new file at once (anything else is not retried).
fn is_start_race(error: &StoreError) -> bool {
    let text = error.to_string();
    ["locked", "busy", "already exists", "duplicate column"]
        .iter()
        .any(|race| text.contains(race))
}

pub(crate) const STORY_COLUMNS: &str = "s.id AS sid, s.source, s.guid, s.state, s.sort_time, s.changed_at, s.cluster_id, \
     v.id AS vid, v.received_at, v.hold_reasons, v.embargoed_until, v.item_json, v.provenance, \
     v.signature, v.link_only, v.review, o.headline AS override_headline, o.set_by AS override_by, \
     o.set_at AS override_at, \
     (SELECT group_concat(section, ' ') FROM story_sections WHERE story_id = s.id) AS sections";

/// Held versions with their story (the held queue), before its WHERE clause.
const HELD_QUERY: &str = "SELECT s.id AS sid, s.source, s.guid, s.state, v.id AS vid, v.received_at, \
     v.hold_reasons, v.embargoed_until, v.item_json, v.provenance, v.signature, v.link_only, \
     v.review FROM versions v JOIN stories s ON s.id = v.story_id";

#[async_trait]
impl Store for SqliteStore {
    async fn add_source(&self, source: &NewSource, now: DateTime<Utc>) -> Result<(), StoreError> {
        match self.insert_source(source, now, "").await {
            Err(StoreError::Database(sqlx::Error::Database(error)))
                if error.is_unique_violation() =>
            {
                Err(StoreError::SourceExists(source.name.clone()))
            }
            Ok(()) => {
                self.changed();
                Ok(())
            }
            other => other,
        }
    }

    async fn upsert_source(
        &self,
        source: &NewSource,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.insert_source(
            source,
            now,
            " ON CONFLICT (name) DO UPDATE SET url = excluded.url, kind = excluded.kind, \
             every_seconds = excluded.every_seconds, notice = excluded.notice, \
             push_token_sha256 = COALESCE(excluded.push_token_sha256, sources.push_token_sha256), \
             auth = excluded.auth, language = COALESCE(excluded.language, sources.language)",
        )
        .await?;
        self.changed();
        Ok(())
    }

    async fn items_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<String, i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.source AS source, COUNT(*) AS items FROM versions v \
             JOIN stories s ON s.id = v.story_id WHERE v.received_at >= ? GROUP BY s.source",
        )
        .bind(format_time(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("source")?, row.try_get("items")?)))
            .collect()
    }

    async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn due_sources(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueSource>, StoreError> {
        let due = sqlx::query_as(
            "SELECT name, url FROM sources WHERE kind = 'poll' AND paused = 0 \
             AND url IS NOT NULL AND (next_due IS NULL OR next_due <= ?) ORDER BY next_due LIMIT ?",
        )
        .bind(format_time(now))
        .bind(limit.clamp(1, 10_000) as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(due
            .into_iter()
            .map(|(name, url)| DueSource { name, url })
            .collect())
    }

    async fn set_paused(&self, name: &str, paused: bool) -> Result<bool, StoreError> {
        let changed = sqlx::query("UPDATE sources SET paused = ? WHERE name = ?")
            .bind(i64::from(paused))
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(changed == 1)
    }

    async fn subscription(&self, source: &str) -> Result<Option<Subscription>, StoreError> {
        let row = sqlx::query("SELECT * FROM websub_subscriptions WHERE source = ?")
            .bind(source)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(subscription_from_row).transpose()
    }

    async fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        let rows = sqlx::query("SELECT * FROM websub_subscriptions ORDER BY source")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(subscription_from_row).collect()
    }

    async fn put_subscription(&self, subscription: &Subscription) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO websub_subscriptions (source, hub, topic, secret, state, requested_at, \
             lease_seconds, lease_until, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (source) DO UPDATE SET hub = excluded.hub, topic = excluded.topic, \
             secret = excluded.secret, state = excluded.state, \
             requested_at = excluded.requested_at, lease_seconds = excluded.lease_seconds, \
             lease_until = excluded.lease_until, last_error = excluded.last_error",
        )
        .bind(&subscription.source)
        .bind(&subscription.hub)
        .bind(&subscription.topic)
        .bind(&subscription.secret)
        .bind(subscription.state.as_str())
        .bind(format_time(subscription.requested_at))
        .bind(subscription.lease_seconds)
        .bind(subscription.lease_until.map(format_time))
        .bind(&subscription.last_error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn record_delivery(&self, source: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE websub_subscriptions SET deliveries = deliveries + 1, last_delivery = ? \
             WHERE source = ?",
        )
        .bind(format_time(at))
        .bind(source)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_push_hmac_secret(
        &self,
        name: &str,
        secret: Option<&str>,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query("UPDATE sources SET push_hmac_secret = ? WHERE name = ?")
            .bind(secret)
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(changed == 1)
    }

    async fn remove_source(&self, name: &str) -> Result<bool, StoreError> {
        let removed = sqlx::query("DELETE FROM sources WHERE name = ?")
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected();
        self.changed();
        Ok(removed == 1)
    }

    async fn sources(&self) -> Result<Vec<Source>, StoreError> {
        let rows = sqlx::query("SELECT * FROM sources ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(source_from_row).collect()
    }

    async fn polled_source_count(&self) -> Result<usize, StoreError> {
        let count: i64 = sqlx::query_scalar(crate::rows::POLLED_SOURCE_COUNT)
            .fetch_one(&self.pool)
            .await?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    async fn source(&self, name: &str) -> Result<Option<Source>, StoreError> {
        let row = sqlx::query("SELECT * FROM sources WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(source_from_row).transpose()
    }

    async fn record_fetch(&self, name: &str, record: &FetchRecord) -> Result<(), StoreError> {
        let at = format_time(record.at);
        let succeeded = record.error.is_none();
        let result = sqlx::query(
            "UPDATE sources SET last_attempt = ?, last_status = ?, last_error = ?, \
             last_success = CASE WHEN ? THEN ? ELSE last_success END, \
             consecutive_errors = CASE WHEN ? THEN 0 ELSE consecutive_errors + 1 END, \
             etag = CASE WHEN ? THEN COALESCE(?, etag) ELSE etag END, \
             last_modified = CASE WHEN ? THEN COALESCE(?, last_modified) ELSE last_modified END, \
             next_due = ?, last_node = COALESCE(?, last_node) WHERE name = ?",
        )
        .bind(&at)
        .bind(record.status)
        .bind(&record.error)
        .bind(succeeded)
        .bind(&at)
        .bind(succeeded)
        .bind(succeeded)
        .bind(&record.etag)
        .bind(succeeded)
        .bind(&record.last_modified)
        .bind(record.next_due.map(format_time))
        .bind(&record.node)
        .bind(name)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NoSuchSource(name.to_string()));
        }
        // The commonest write of a node polling unchanged feeds, which commits no story.
        self.writer.nudge_checkpoint();
        Ok(())
    }

    async fn record_raw(&self, raw: &RawRecord) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO raw_payloads (sha256, source, origin, received_at, size, content_type, http_status, \
             etag, last_modified, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending') \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&raw.sha256)
        .bind(&raw.source)
        .bind(&raw.origin)
        .bind(format_time(raw.received_at))
        .bind(raw.size)
        .bind(&raw.content_type)
        .bind(raw.http_status)
        .bind(&raw.etag)
        .bind(&raw.last_modified)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn finish_raw(&self, sha256: &str, error: Option<&str>) -> Result<(), StoreError> {
        sqlx::query("UPDATE raw_payloads SET state = ?, error = ? WHERE sha256 = ?")
            .bind(if error.is_some() {
                "failed"
            } else {
                "processed"
            })
            .bind(error)
            .bind(sha256)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn pending_raw(&self) -> Result<Vec<RawRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM raw_payloads WHERE state = 'pending' ORDER BY received_at")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(raw_from_row).collect()
    }

    async fn raw(&self, sha256: &str) -> Result<Option<RawRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM raw_payloads WHERE sha256 = ?")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(raw_from_row).transpose()
    }

    async fn put_raw_bytes(&self, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO raw_blobs (sha256, bytes) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .bind(sha256)
            .bind(bytes)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn raw_bytes(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT bytes FROM raw_blobs WHERE sha256 = ?")
                .bind(sha256)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn acquire_lease(
        &self,
        name: &str,
        node: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let taken = sqlx::query(
            "INSERT INTO leases (name, node, until) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET node = excluded.node, until = excluded.until \
             WHERE leases.node = excluded.node OR leases.until < ?",
        )
        .bind(name)
        .bind(node)
        .bind(format_time(until))
        .bind(format_time(now))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(taken == 1)
    }

    async fn renew_leases(
        &self,
        node: &str,
        prefix: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "UPDATE leases SET until = ? WHERE node = ? AND until >= ? AND substr(name, 1, ?) = ? \
             RETURNING name",
        )
        .bind(format_time(until))
        .bind(node)
        .bind(format_time(now))
        .bind(prefix.chars().count() as i64)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn release_lease(&self, name: &str, node: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leases WHERE name = ? AND node = ?")
            .bind(name)
            .bind(node)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn leases(&self, prefix: &str, now: DateTime<Utc>) -> Result<Vec<Lease>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, node, until FROM leases WHERE until >= ? AND substr(name, 1, ?) = ? \
             ORDER BY name",
        )
        .bind(format_time(now))
        .bind(prefix.chars().count() as i64)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Lease {
                    name: row.try_get("name")?,
                    node: row.try_get("node")?,
                    until: parse_time(row.try_get::<&str, _>("until")?)?,
                })
            })
            .collect()
    }

    async fn commit_all(
        &self,
        versions: &[NewVersion],
        now: DateTime<Utc>,
    ) -> Result<Vec<Committed>, StoreError> {
        self.writer.commit_all(versions.to_vec(), now).await
    }

    async fn release_due(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        self.writer.release_due(now).await
    }

    async fn gone(
        &self,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<GoneRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, source, guid, state, changed_at FROM stories \
             WHERE state IN ('canceled', 'withheld') AND changed_at >= ? \
             ORDER BY changed_at DESC, id DESC LIMIT ?",
        )
        .bind(since.map(format_time).unwrap_or_default())
        .bind(limit.clamp(1, 500) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(GoneRecord {
                    id: row.try_get("id")?,
                    source: row.try_get("source")?,
                    guid: row.try_get("guid")?,
                    state: StoryState::parse(row.try_get::<&str, _>("state")?),
                    changed_at: parse_time(row.try_get::<&str, _>("changed_at")?)?,
                })
            })
            .collect()
    }

    async fn list(&self, query: &ListQuery) -> Result<StoryPage, StoreError> {
        let limit = query.limit.clamp(1, 500);
        let mut sql = format!(
            "SELECT {STORY_COLUMNS} FROM stories s JOIN versions v ON v.id = s.current_version \
             LEFT JOIN headline_overrides o ON o.story_id = s.id WHERE s.state = 'published'"
        );
        let mut binds: Vec<String> = Vec::new();
        if let Some(source) = &query.source {
            sql.push_str(" AND s.source = ?");
            binds.push(source.clone());
        }
        if let Some(section) = &query.section {
            sql.push_str(" AND s.id IN (SELECT story_id FROM story_sections WHERE section = ?)");
            binds.push(section.clone());
        }
        if let Some(since) = query.since {
            sql.push_str(" AND s.sort_time >= ?");
            binds.push(format_time(since));
        }
        if let Some(cursor) = &query.cursor {
            let (time, id) = decode_cursor(cursor)?;
            sql.push_str(" AND (s.sort_time < ? OR (s.sort_time = ? AND s.id < ?))");
            binds.push(time.clone());
            binds.push(time);
            binds.push(id);
        }
        if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            for word in q.split_whitespace() {
                sql.push_str(
                    " AND (instr(lower(json_extract(v.item_json, '$.headline')), lower(?)) > 0 \
                     OR instr(lower(json_extract(v.item_json, '$.body_text')), lower(?)) > 0)",
                );
                binds.push(word.to_string());
                binds.push(word.to_string());
            }
        }
        sql.push_str(" ORDER BY s.sort_time DESC, s.id DESC LIMIT ?");
        let mut statement = sqlx::query(&sql);
        for bind in &binds {
            statement = statement.bind(bind);
        }
        let rows = statement
            .bind((limit + 1) as i64)
            .fetch_all(&self.pool)
            .await?;
        let mut stories = rows
            .iter()
            .map(story_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if stories.len() > limit {
            stories.truncate(limit);
            stories
                .last()
                .map(|last| encode_cursor(&format_time(last.sort_time), &last.id))
        } else {
            None
        };
        Ok(StoryPage { stories, next })
    }

    async fn changed_stories(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoryRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {STORY_COLUMNS} FROM stories s LEFT JOIN versions v ON v.id = s.current_version \
             LEFT JOIN headline_overrides o ON o.story_id = s.id WHERE s.changed_at >= ? \
             ORDER BY s.changed_at, s.id LIMIT ?"
        ))
        .bind(format_time(since))
        .bind(limit.clamp(1, 10_000) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(story_from_row).collect()
    }

    async fn changed_story_stamps(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<crate::StoryStamp>, StoreError> {
        self.reader.changed_story_stamps(since, limit).await
    }

    async fn stories_by_id(&self, ids: &[String]) -> Result<Vec<StoryRecord>, StoreError> {
        self.reader.stories_by_id(ids.to_vec()).await
    }

    async fn set_clusters(&self, assignments: &[ClusterAssignment]) -> Result<(), StoreError> {
        if assignments.is_empty() {
            return Ok(());
        }
        self.writer.set_clusters(assignments.to_vec()).await
    }

    async fn cluster_signatures(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, i64, Vec<u8>, DateTime<Utc>)>, StoreError> {
        let rows: Vec<(String, i64, Vec<u8>, String)> = sqlx::query_as(
            "SELECT g.story_id, s.cluster_id, g.signature, g.story_time FROM story_signatures g \
             JOIN stories s ON s.id = g.story_id \
             WHERE s.cluster_id IS NOT NULL AND g.story_time >= ? ORDER BY g.story_time",
        )
        .bind(format_time(since))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, cluster, signature, time)| Ok((id, cluster, signature, parse_time(&time)?)))
            .collect()
    }

    async fn cluster_links(
        &self,
        cluster_id: i64,
        limit: usize,
    ) -> Result<Vec<ClusterLink>, StoreError> {
        let rows: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT s.id, s.source, COALESCE(o.headline, json_extract(v.item_json, '$.headline')), \
             json_extract(v.item_json, '$.language') FROM stories s \
             JOIN versions v ON v.id = s.current_version \
             LEFT JOIN headline_overrides o ON o.story_id = s.id \
             WHERE s.cluster_id = ? AND s.state = 'published' \
             ORDER BY s.sort_time DESC, s.id DESC LIMIT ?",
        )
        .bind(cluster_id)
        .bind(limit.clamp(1, 200) as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, source, headline, language)| ClusterLink {
                id,
                source,
                headline: headline.unwrap_or_default(),
                language,
            })
            .collect())
    }

    async fn cluster_members(
        &self,
        cluster_id: i64,
        limit: usize,
    ) -> Result<Vec<StoryRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {STORY_COLUMNS} FROM stories s JOIN versions v ON v.id = s.current_version \
             LEFT JOIN headline_overrides o ON o.story_id = s.id \
             WHERE s.cluster_id = ? AND s.state = 'published' \
             ORDER BY s.sort_time DESC, s.id DESC LIMIT ?"
        ))
        .bind(cluster_id)
        .bind(limit.clamp(1, 200) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(story_from_row).collect()
    }

    async fn last_webhook_event(&self, story_id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT kind FROM webhook_events WHERE story_id = ? ORDER BY id DESC LIMIT 1",
        )
        .bind(story_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn add_webhook_event(
        &self,
        story_id: &str,
        changed_at: DateTime<Utc>,
        kind: &str,
        payload: &str,
        endpoints: &[String],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut transaction = self.write_transaction().await?;
        let inserted = sqlx::query(
            "INSERT INTO webhook_events (story_id, kind, changed_at, payload, created_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (story_id, changed_at) DO NOTHING",
        )
        .bind(story_id)
        .bind(kind)
        .bind(format_time(changed_at))
        .bind(payload)
        .bind(format_time(now))
        .execute(&mut *transaction)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(false);
        }
        let event_id = inserted.last_insert_rowid();
        for endpoint in endpoints {
            sqlx::query(
                "INSERT INTO webhook_deliveries (event_id, endpoint, state, next_attempt) \
                 VALUES (?, ?, 'pending', ?)",
            )
            .bind(event_id)
            .bind(endpoint)
            .bind(format_time(now))
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(true)
    }

    async fn due_webhook_deliveries(
        &self,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let mut transaction = self.write_transaction().await?;
        let rows = sqlx::query(
            "SELECT d.*, e.story_id, e.kind, e.payload, e.created_at FROM webhook_deliveries d \
             JOIN webhook_events e ON e.id = d.event_id \
             WHERE d.state = 'pending' AND d.next_attempt <= ? ORDER BY d.next_attempt LIMIT ?",
        )
        .bind(format_time(now))
        .bind(limit.clamp(1, 1000) as i64)
        .fetch_all(&mut *transaction)
        .await?;
        let due: Vec<WebhookDelivery> = rows
            .iter()
            .map(delivery_from_row)
            .collect::<Result<_, _>>()?;
        for delivery in &due {
            sqlx::query(
                "UPDATE webhook_deliveries SET next_attempt = ? WHERE event_id = ? AND endpoint = ?",
            )
            .bind(format_time(claim_until))
            .bind(delivery.event_id)
            .bind(&delivery.endpoint)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(due)
    }

    async fn record_webhook_attempt(
        &self,
        event_id: i64,
        endpoint: &str,
        state: &str,
        status: Option<i64>,
        error: Option<&str>,
        next_attempt: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, last_status = ?, \
             last_error = ?, next_attempt = ?, \
             delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END \
             WHERE event_id = ? AND endpoint = ?",
        )
        .bind(state)
        .bind(status)
        .bind(error)
        .bind(format_time(next_attempt))
        .bind(state)
        .bind(format_time(now))
        .bind(event_id)
        .bind(endpoint)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn webhook_log(&self, limit: usize) -> Result<Vec<WebhookDelivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.*, e.story_id, e.kind, e.payload, e.created_at FROM webhook_deliveries d \
             JOIN webhook_events e ON e.id = d.event_id ORDER BY d.event_id DESC, d.endpoint LIMIT ?",
        )
        .bind(limit.clamp(1, 10_000) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn published_ids(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, changed_at FROM stories WHERE state = 'published' \
             ORDER BY sort_time DESC, id DESC LIMIT ? OFFSET ?",
        )
        .bind(limit.min(50_000) as i64)
        .bind(offset.min(10_000_000) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, changed_at)| Ok((id, parse_time(&changed_at)?)))
            .collect()
    }

    async fn story(&self, id: &str) -> Result<Option<StoryRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {STORY_COLUMNS} FROM stories s LEFT JOIN versions v ON v.id = s.current_version \
             LEFT JOIN headline_overrides o ON o.story_id = s.id WHERE s.id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(story_from_row).transpose()
    }

    async fn versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id AS vid, received_at, hold_reasons, embargoed_until, item_json, provenance, \
             signature, link_only, review FROM versions WHERE story_id = ? ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_from_row).collect()
    }

    async fn update_provenance(
        &self,
        version_seq: i64,
        provenance: &str,
        signature: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE versions SET provenance = ?, signature = ? WHERE id = ?")
            .bind(provenance)
            .bind(signature)
            .bind(version_seq)
            .execute(&self.pool)
            .await?;
        self.changed();
        Ok(())
    }

    async fn set_headline_override(
        &self,
        story_id: &str,
        headline: Option<&HeadlineOverride>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut transaction = self.write_transaction().await?;
        match headline {
            Some(headline) => {
                sqlx::query(
                    "INSERT INTO headline_overrides (story_id, headline, set_by, set_at) \
                     VALUES (?, ?, ?, ?) ON CONFLICT (story_id) DO UPDATE SET \
                     headline = excluded.headline, set_by = excluded.set_by, set_at = excluded.set_at",
                )
                .bind(story_id)
                .bind(&headline.headline)
                .bind(&headline.set_by)
                .bind(format_time(headline.set_at))
                .execute(&mut *transaction)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM headline_overrides WHERE story_id = ?")
                    .bind(story_id)
                    .execute(&mut *transaction)
                    .await?;
            }
        }
        // Pages and feeds show the change at once.
        sqlx::query("UPDATE stories SET changed_at = ? WHERE id = ?")
            .bind(format_time(now))
            .bind(story_id)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        self.changed();
        Ok(())
    }

    async fn last_change(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let text: Option<String> = sqlx::query_scalar("SELECT MAX(changed_at) FROM stories")
            .fetch_one(&self.pool)
            .await?;
        text.as_deref().map(parse_time).transpose()
    }

    async fn change_token(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(n), 0) FROM change_counter")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    fn local_changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    fn writer_time(&self) -> Option<crate::WriterTime> {
        Some(self.writer.time())
    }

    async fn held(&self, limit: usize) -> Result<Vec<HeldRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{HELD_QUERY} WHERE v.hold_reasons IS NOT NULL AND v.review IS NULL \
             ORDER BY v.id DESC LIMIT ?"
        ))
        .bind(limit.clamp(1, 10_000) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(held_from_row).collect()
    }

    async fn held_story(&self, story_id: &str) -> Result<Vec<HeldRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{HELD_QUERY} WHERE v.story_id = ? AND v.hold_reasons IS NOT NULL AND v.review IS NULL \
             ORDER BY v.id DESC"
        ))
        .bind(story_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(held_from_row).collect()
    }

    async fn review_held(
        &self,
        story_id: &str,
        review: Review,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(usize, StoryState), StoreError> {
        self.writer
            .review_held(story_id.to_string(), review, by.to_string(), now)
            .await
    }

    async fn source_body_lengths(
        &self,
        source: &str,
        limit: usize,
    ) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT v.body_chars FROM stories s JOIN versions v ON v.id = s.current_version \
             WHERE s.source = ? AND s.state = 'published' AND v.body_chars IS NOT NULL \
             ORDER BY s.sort_time DESC LIMIT ?",
        )
        .bind(source)
        .bind(limit.clamp(1, 1_000) as i64)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn set_source_language(
        &self,
        name: &str,
        language: Option<&str>,
    ) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("UPDATE sources SET language = ? WHERE name = ?")
                .bind(language)
                .bind(name)
                .execute(&self.pool)
                .await?
                .rows_affected()
                == 1,
        )
    }

    async fn ingest_rate(
        &self,
        since: DateTime<Utc>,
        bucket_seconds: i64,
    ) -> Result<Vec<(DateTime<Utc>, i64)>, StoreError> {
        let bucket = bucket_seconds.max(1);
        let rows = sqlx::query(
            "SELECT (CAST(strftime('%s', received_at) AS INTEGER) / ?) * ? AS bucket, COUNT(*) AS n \
             FROM versions WHERE received_at >= ? GROUP BY bucket ORDER BY bucket",
        )
        .bind(bucket)
        .bind(bucket)
        .bind(format_time(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let start: i64 = row.try_get("bucket")?;
                let time = DateTime::<Utc>::from_timestamp(start, 0)
                    .ok_or_else(|| StoreError::Corrupt(format!("bucket time {start}")))?;
                Ok((time, row.try_get("n")?))
            })
            .collect()
    }

    async fn recent_versions(&self, limit: usize) -> Result<Vec<RecentVersion>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.id AS sid, s.state, v.id AS vid, v.received_at, v.hold_reasons, \
             v.embargoed_until, v.item_json, v.provenance, v.signature, v.link_only, v.review \
             FROM versions v JOIN stories s ON s.id = v.story_id ORDER BY v.id DESC LIMIT ?",
        )
        .bind(limit.clamp(1, 5_000) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RecentVersion {
                    story_id: row.try_get("sid")?,
                    story_state: StoryState::parse(&row.try_get::<String, _>("state")?),
                    version: version_from_row(row)?,
                })
            })
            .collect()
    }

    async fn failed_payloads(&self, limit: usize) -> Result<Vec<FailedPayload>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM raw_payloads WHERE error IS NOT NULL ORDER BY received_at DESC LIMIT ?",
        )
        .bind(limit.clamp(1, 1_000) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(FailedPayload {
                    raw: raw_from_row(row)?,
                    error: row.try_get("error")?,
                    state: row.try_get("state")?,
                })
            })
            .collect()
    }

    async fn sections(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT ss.section, COUNT(*) AS n FROM story_sections ss \
             JOIN stories s ON s.id = ss.story_id WHERE s.state = 'published' \
             GROUP BY ss.section ORDER BY ss.section",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("section")?, row.try_get("n")?)))
            .collect()
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM sources) AS sources, \
             (SELECT COUNT(*) FROM stories) AS stories, \
             (SELECT COUNT(*) FROM stories WHERE state = 'published') AS published, \
             (SELECT COUNT(*) FROM versions) AS versions, \
             (SELECT COUNT(*) FROM versions WHERE hold_reasons IS NOT NULL) AS held, \
             (SELECT COUNT(*) FROM raw_payloads) AS raw_payloads, \
             (SELECT COUNT(*) FROM raw_payloads WHERE state = 'failed') AS raw_failed, \
             (SELECT COUNT(*) FROM versions WHERE hold_reasons IS NOT NULL AND review IS NULL) AS held_queue",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Counts {
            sources: row.try_get("sources")?,
            stories: row.try_get("stories")?,
            published: row.try_get("published")?,
            versions: row.try_get("versions")?,
            held: row.try_get("held")?,
            held_queue: row.try_get("held_queue")?,
            raw_payloads: row.try_get("raw_payloads")?,
            raw_failed: row.try_get("raw_failed")?,
            last_audit: match sqlx::query(
                "SELECT finished_at, checked, failed FROM audit_runs ORDER BY id DESC LIMIT 1",
            )
            .fetch_optional(&self.pool)
            .await?
            {
                Some(row) => Some((
                    parse_time(&row.try_get::<String, _>("finished_at")?)?,
                    row.try_get("checked")?,
                    row.try_get("failed")?,
                )),
                None => None,
            },
        })
    }

    async fn record_audit(
        &self,
        finished_at: DateTime<Utc>,
        checked: i64,
        failed: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO audit_runs (finished_at, checked, failed) VALUES (?, ?, ?)")
            .bind(format_time(finished_at))
            .bind(checked)
            .bind(failed)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! SQLite's own behaviour; what every store does is `tests/contract.rs`, run on both.
    use super::*;

    #[tokio::test]
    async fn processes_starting_together_on_a_new_file_all_open_it() -> Result<(), StoreError> {
        for _ in 0..5 {
            let dir =
                tempfile::tempdir().map_err(|error| StoreError::Corrupt(error.to_string()))?;
            let path = dir.path().join("verbatim.db");
            let (a, b, c) = tokio::join!(
                SqliteStore::open(&path),
                SqliteStore::open(&path),
                SqliteStore::open(&path)
            );
            for store in [a?, b?, c?] {
                assert_eq!(store.counts().await?.sources, 0);
            }
        }
        Ok(())
    }
}
