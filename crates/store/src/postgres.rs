//! The shared store: one PostgreSQL database that several `verbatim serve` nodes use at once.
//! Same schema and answers as the SQLite store; where SQLite relies on its single writer, this
//! one takes row locks (a story while committing, an embargo while releasing, webhook claims).

use crate::lifecycle::{StoryState, resolve};
use crate::rows::{
    content_hash, content_hash_as, decode_cursor, delivery_from_row, encode_cursor, facts_from_row,
    held_from_row, raw_from_row, serialized_columns, sort_time_from_row, source_from_row,
    stamps_from_rows, story_from_row, subscription_from_row, version_from_row,
};
use crate::{
    COMMIT_BATCH, ClusterAssignment, ClusterLink, CommitKind, Committed, Counts, DueSource,
    FailedPayload, FetchRecord, GoneRecord, HeadlineOverride, HeldRecord, Lease, ListQuery,
    NewSource, NewVersion, RawRecord, RecentVersion, Review, Source, Store, StoreError, StoryPage,
    StoryRecord, Subscription, VersionRecord, WebhookDelivery, format_time, parse_time, story_id,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use verbatim_item::{Item, sha256_hex};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per node: requests read concurrently; writes are short transactions.
const POOL_SIZE: u32 = 16;

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Writes committed through this handle that can change a page (`Store::local_changes`).
    changes: Arc<AtomicU64>,
}

impl PostgresStore {
    /// Connects to a `postgres://` (or `postgresql://`) URL and applies pending migrations.
    /// sqlx holds a PostgreSQL advisory lock while migrating, so nodes may start together.
    pub async fn open_url(url: &str) -> Result<PostgresStore, StoreError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| StoreError::UnsupportedUrl(redact(url)))?
            .application_name("verbatim");
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PostgresStore {
            pool,
            changes: Arc::default(),
        })
    }

    /// Counts a committed write that can change a page (after its commit, so a reader that sees
    /// the new count reads the new state).
    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::Release);
    }

    /// The connection pool (for tools that read or write tables directly, e.g. `migrate-store`).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Payloads recorded in `raw_payloads` whose bytes are not in `raw_blobs` (after
    /// `migrate-store`, this must be none).
    pub async fn raw_payloads_without_bytes(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM raw_payloads r \
             WHERE NOT EXISTS (SELECT 1 FROM raw_blobs b WHERE b.sha256 = r.sha256)",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Inserts a source; `on_conflict` is appended to the statement (empty: fail on a duplicate).
    async fn insert_source(
        &self,
        source: &NewSource,
        now: DateTime<Utc>,
        on_conflict: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO sources (name, url, kind, every_seconds, notice, push_token_sha256, auth, \
             language, created_at, next_due) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9){on_conflict}"
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// The advisory lock a commit takes for its guid: every commit that could touch the same
/// story (its own, or one of another feed it folds into, which has the same guid) queues
/// behind it, as commits queue behind SQLite's write lock.
/// A guid as the guid columns keep it: PostgreSQL text cannot hold U+0000, so a NUL an agency
/// put in an id is kept there as U+FFFD. The story id (a hash of the exact guid) and the item
/// JSON (where NUL is escaped) keep the guid exactly.
fn stored_guid(guid: &str) -> std::borrow::Cow<'_, str> {
    if guid.contains('\0') {
        std::borrow::Cow::Owned(guid.replace('\0', "\u{FFFD}"))
    } else {
        std::borrow::Cow::Borrowed(guid)
    }
}

fn guid_lock_key(guid: &str) -> i64 {
    let hash = sha256_hex(format!("verbatim commit\u{0}{guid}").as_bytes());
    let key = hash
        .get(..16)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or(0);
    i64::from_ne_bytes(key.to_ne_bytes())
}

const STORY_COLUMNS: &str = "s.id AS sid, s.source, s.guid, s.state, s.sort_time, s.changed_at, s.cluster_id, \
     v.id AS vid, v.received_at, v.hold_reasons, v.embargoed_until, v.item_json, v.provenance, \
     v.signature, v.link_only, v.review, o.headline AS override_headline, o.set_by AS override_by, \
     o.set_at AS override_at, \
     (SELECT string_agg(section, ' ') FROM story_sections WHERE story_id = s.id) AS sections";

/// Held versions with their story (the held queue), before its WHERE clause.
const HELD_QUERY: &str = "SELECT s.id AS sid, s.source, s.guid, s.state, v.id AS vid, v.received_at, \
     v.hold_reasons, v.embargoed_until, v.item_json, v.provenance, v.signature, v.link_only, \
     v.review FROM versions v JOIN stories s ON s.id = v.story_id";

/// Adds a parameter; returns its placeholder.
fn next(binds: &mut Vec<String>, value: String) -> String {
    binds.push(value);
    format!("${}", binds.len())
}

/// A field of a version's item (JSON text), as text compared bytewise like SQLite's.
fn item_field(field: &str) -> String {
    format!("((v.item_json::json ->> '{field}') COLLATE \"C\")")
}

/// The story another feed already created for this agency story (see the SQLite store's
/// `fold_target`: an alias recorded earlier, or another source's story with the same guid and
/// a version with the same text; never a different text).
async fn fold_target(
    transaction: &mut Transaction<'_, Postgres>,
    item: &Item,
    own_id: &str,
    text_hash: &str,
) -> Result<Option<(String, String)>, StoreError> {
    let own: Option<String> = sqlx::query_scalar("SELECT id FROM stories WHERE id = $1")
        .bind(own_id)
        .fetch_optional(&mut **transaction)
        .await?;
    if own.is_some() {
        return Ok(None);
    }
    let alias = sqlx::query(
        "SELECT s.id, s.source FROM story_aliases a JOIN stories s ON s.id = a.story_id \
         WHERE a.source = $1 AND a.guid = $2",
    )
    .bind(&item.source)
    .bind(stored_guid(&item.guid).as_ref())
    .fetch_optional(&mut **transaction)
    .await?;
    if let Some(row) = alias {
        return Ok(Some((row.try_get("id")?, row.try_get("source")?)));
    }
    if text_hash.is_empty() || item.guid.trim().is_empty() || item.body_text.trim().is_empty() {
        return Ok(None);
    }
    let same = sqlx::query(
        "SELECT s.id, s.source FROM stories s JOIN versions v ON v.story_id = s.id \
         WHERE s.guid = $1 AND s.source <> $2 AND v.text_hash = $3 ORDER BY s.id LIMIT 1",
    )
    .bind(stored_guid(&item.guid).as_ref())
    .bind(&item.source)
    .bind(text_hash)
    .fetch_optional(&mut **transaction)
    .await?;
    let Some(row) = same else {
        return Ok(None);
    };
    let target: String = row.try_get("id")?;
    sqlx::query(
        "INSERT INTO story_aliases (source, guid, story_id) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&item.source)
    .bind(stored_guid(&item.guid).as_ref())
    .bind(&target)
    .execute(&mut **transaction)
    .await?;
    Ok(Some((target, row.try_get("source")?)))
}

/// Recomputes what outputs show for a story; the caller holds the story's row lock.
async fn resolve_story(
    transaction: &mut Transaction<'_, Postgres>,
    id: &str,
    now: DateTime<Utc>,
) -> Result<StoryState, StoreError> {
    let rows = sqlx::query(
        "SELECT id, agency_version, versioncreated, pubstatus, hold_reasons, embargoed_until, review \
         FROM versions WHERE story_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut **transaction)
    .await?;
    let facts = rows
        .iter()
        .map(facts_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let resolution = resolve(&facts, now);
    let previous = sqlx::query("SELECT state, current_version FROM stories WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **transaction)
        .await?;
    let changed = match &previous {
        Some(row) => {
            let state: String = row.try_get("state")?;
            let current: Option<i64> = row.try_get("current_version")?;
            state != resolution.state.as_str() || current != resolution.current
        }
        None => true,
    };
    if changed {
        let sort_time = match resolution.current {
            Some(current) => {
                let row =
                    sqlx::query("SELECT versioncreated, received_at FROM versions WHERE id = $1")
                        .bind(current)
                        .fetch_one(&mut **transaction)
                        .await?;
                Some(sort_time_from_row(&row)?)
            }
            None => None,
        };
        sqlx::query(
            "UPDATE stories SET state = $1, current_version = $2, changed_at = $3, \
             sort_time = COALESCE($4, sort_time), embargo_until = $5 WHERE id = $6",
        )
        .bind(resolution.state.as_str())
        .bind(resolution.current)
        .bind(format_time(now))
        .bind(sort_time.map(format_time))
        .bind(resolution.embargo_until.map(format_time))
        .bind(id)
        .execute(&mut **transaction)
        .await?;
    } else {
        sqlx::query("UPDATE stories SET embargo_until = $1 WHERE id = $2")
            .bind(resolution.embargo_until.map(format_time))
            .bind(id)
            .execute(&mut **transaction)
            .await?;
    }
    Ok(resolution.state)
}

/// Stores one version and recomputes what outputs show for its story, inside `transaction`.
async fn commit_in(
    transaction: &mut Transaction<'static, Postgres>,
    version: &NewVersion,
    now: DateTime<Utc>,
) -> Result<Committed, StoreError> {
    let item = &version.item;
    let own_id = story_id(&item.source, &item.guid);
    let (item_json, hold_reasons) = serialized_columns(version)?;
    let text_hash = item.text_hash.as_deref().unwrap_or_default();
    // The caller holds this guid's advisory lock (see `commit_all`).
    let (id, story_source, folded) =
        match fold_target(transaction, item, &own_id, text_hash).await? {
            Some((target, target_source)) => (target, target_source, true),
            None => (own_id, item.source.clone(), false),
        };
    let created = !folded
        && sqlx::query(
            "INSERT INTO stories (id, source, guid, state, sort_time, changed_at) \
             VALUES ($1, $2, $3, 'held', $4, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&id)
        .bind(&item.source)
        .bind(stored_guid(&item.guid).as_ref())
        .bind(format_time(item.received_at.unwrap_or(now)))
        .bind(format_time(now))
        .execute(&mut **transaction)
        .await?
        .rows_affected()
            == 1;
    // The story's row lock: release_due, review_held and other nodes' commits wait for
    // this transaction, and see its version when they go on.
    let state: Option<String> =
        sqlx::query_scalar("SELECT state FROM stories WHERE id = $1 FOR UPDATE")
            .bind(&id)
            .fetch_optional(&mut **transaction)
            .await?;
    let Some(state) = state else {
        return Err(StoreError::NotFound(id));
    };
    let mut added_sections = 0;
    for section in &version.sections {
        added_sections += sqlx::query(
            "INSERT INTO story_sections (section, story_id) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(section)
        .bind(&id)
        .execute(&mut **transaction)
        .await?
        .rows_affected();
    }
    if added_sections > 0 {
        sqlx::query("UPDATE stories SET changed_at = $1 WHERE id = $2")
            .bind(format_time(now))
            .bind(&id)
            .execute(&mut **transaction)
            .await?;
    }
    let content_sha256 = content_hash(item)?;
    let as_story = content_hash_as(item, &story_source)?;
    let duplicate: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM versions WHERE story_id = $1 AND content_sha256 IN ($2, $3) \
         AND (hold_reasons IS NULL) = $4 LIMIT 1",
    )
    .bind(&id)
    .bind(&content_sha256)
    .bind(&as_story)
    .bind(hold_reasons.is_none())
    .fetch_optional(&mut **transaction)
    .await?;
    if duplicate.is_some() {
        return Ok(Committed {
            folded_into: folded.then(|| id.clone()),
            id,
            kind: CommitKind::Unchanged,
            state: StoryState::parse(&state),
        });
    }
    sqlx::query(
        "INSERT INTO versions (story_id, agency_version, versioncreated, received_at, pubstatus, \
         embargoed_until, text_hash, content_sha256, raw_sha256, hold_reasons, item_json, \
         provenance, signature, body_chars, link_only) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(&id)
    .bind(item.version.and_then(|version| i64::try_from(version).ok()))
    .bind(item.versioncreated.map(format_time))
    .bind(format_time(item.received_at.unwrap_or(now)))
    .bind(item.pubstatus.as_str())
    .bind(version.embargoed_until.map(format_time))
    .bind(text_hash)
    .bind(&content_sha256)
    .bind(&item.raw)
    .bind(&hold_reasons)
    .bind(&item_json)
    .bind(&version.provenance)
    .bind(&version.signature)
    .bind(i64::try_from(item.body_text.chars().count()).unwrap_or(i64::MAX))
    .bind(i64::from(version.link_only))
    .execute(&mut **transaction)
    .await?;
    let state = resolve_story(transaction, &id, now).await?;
    Ok(Committed::stored(id, folded, created, state))
}

#[async_trait]
impl Store for PostgresStore {
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
             JOIN stories s ON s.id = v.story_id WHERE v.received_at >= $1 GROUP BY s.source",
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
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
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
        // NULLS FIRST: SQLite orders NULL before any value; a source never fetched is the
        // most overdue.
        let due = sqlx::query_as(
            "SELECT name, url FROM sources WHERE kind = 'poll' AND paused = 0 \
             AND url IS NOT NULL AND (next_due IS NULL OR next_due <= $1) \
             ORDER BY next_due NULLS FIRST LIMIT $2",
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
        let changed = sqlx::query("UPDATE sources SET paused = $1 WHERE name = $2")
            .bind(i64::from(paused))
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(changed == 1)
    }

    async fn subscription(&self, source: &str) -> Result<Option<Subscription>, StoreError> {
        let row = sqlx::query("SELECT * FROM websub_subscriptions WHERE source = $1")
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
             lease_seconds, lease_until, last_error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
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
            "UPDATE websub_subscriptions SET deliveries = deliveries + 1, last_delivery = $1 \
             WHERE source = $2",
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
        let changed = sqlx::query("UPDATE sources SET push_hmac_secret = $1 WHERE name = $2")
            .bind(secret)
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(changed == 1)
    }

    async fn remove_source(&self, name: &str) -> Result<bool, StoreError> {
        let removed = sqlx::query("DELETE FROM sources WHERE name = $1")
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
        let row = sqlx::query("SELECT * FROM sources WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(source_from_row).transpose()
    }

    async fn record_fetch(&self, name: &str, record: &FetchRecord) -> Result<(), StoreError> {
        let succeeded = record.error.is_none();
        let result = sqlx::query(
            "UPDATE sources SET last_attempt = $1, last_status = $2, last_error = $3, \
             last_success = CASE WHEN $4 THEN $1 ELSE last_success END, \
             consecutive_errors = CASE WHEN $4 THEN 0 ELSE consecutive_errors + 1 END, \
             etag = CASE WHEN $4 THEN COALESCE($5, etag) ELSE etag END, \
             last_modified = CASE WHEN $4 THEN COALESCE($6, last_modified) ELSE last_modified END, \
             next_due = $7, last_node = COALESCE($8, last_node) WHERE name = $9",
        )
        .bind(format_time(record.at))
        .bind(record.status)
        .bind(&record.error)
        .bind(succeeded)
        .bind(&record.etag)
        .bind(&record.last_modified)
        .bind(record.next_due.map(format_time))
        .bind(&record.node)
        .bind(name)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NoSuchSource(name.to_string()));
        }
        Ok(())
    }

    async fn record_raw(&self, raw: &RawRecord) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO raw_payloads (sha256, source, origin, received_at, size, content_type, \
             http_status, etag, last_modified, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending') ON CONFLICT (sha256) DO NOTHING",
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
        sqlx::query("UPDATE raw_payloads SET state = $1, error = $2 WHERE sha256 = $3")
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
        let row = sqlx::query("SELECT * FROM raw_payloads WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(raw_from_row).transpose()
    }

    async fn put_raw_bytes(&self, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO raw_blobs (sha256, bytes) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(sha256)
            .bind(bytes)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn raw_bytes(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT bytes FROM raw_blobs WHERE sha256 = $1")
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
        // Two nodes inserting at once: the second waits on the key, then sees the first's row
        // and updates it only if it is its own or expired.
        let taken = sqlx::query(
            "INSERT INTO leases (name, node, until) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET node = excluded.node, until = excluded.until \
             WHERE leases.node = excluded.node OR leases.until < $4",
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
            "UPDATE leases SET until = $1 WHERE node = $2 AND until >= $3 \
             AND starts_with(name, $4) RETURNING name",
        )
        .bind(format_time(until))
        .bind(node)
        .bind(format_time(now))
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn release_lease(&self, name: &str, node: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND node = $2")
            .bind(name)
            .bind(node)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn leases(&self, prefix: &str, now: DateTime<Utc>) -> Result<Vec<Lease>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, node, until FROM leases WHERE until >= $1 AND starts_with(name, $2) \
             ORDER BY name",
        )
        .bind(format_time(now))
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
        let mut committed = Vec::with_capacity(versions.len());
        for chunk in versions.chunks(COMMIT_BATCH) {
            let mut transaction = self.pool.begin().await?;
            // Commits of one guid queue here, on every node: which story it joins (its own, or
            // the one another feed of the same agency story made) is decided one at a time.
            // A batch takes its guids' locks in one order, so two batches never wait on each
            // other in a cycle.
            let mut keys: Vec<i64> = chunk
                .iter()
                .map(|version| guid_lock_key(&version.item.guid))
                .collect();
            keys.sort_unstable();
            keys.dedup();
            for key in keys {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(key)
                    .execute(&mut *transaction)
                    .await?;
            }
            for version in chunk {
                committed.push(commit_in(&mut transaction, version, now).await?);
            }
            transaction.commit().await?;
            self.changed();
        }
        Ok(committed)
    }

    async fn release_due(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let due: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM stories WHERE embargo_until <= $1 ORDER BY embargo_until, id",
        )
        .bind(format_time(now))
        .fetch_all(&self.pool)
        .await?;
        let mut released = Vec::with_capacity(due.len());
        for id in due {
            let mut transaction = self.pool.begin().await?;
            // Another node may be releasing it right now (its row is locked: skip it) or may
            // have released it since the query above (the row no longer matches), so each
            // release happens exactly once. A story a commit holds is released next time.
            let still_due: Option<String> = sqlx::query_scalar(
                "SELECT id FROM stories WHERE id = $1 AND embargo_until <= $2 \
                 FOR UPDATE SKIP LOCKED",
            )
            .bind(&id)
            .bind(format_time(now))
            .fetch_optional(&mut *transaction)
            .await?;
            if still_due.is_some() {
                resolve_story(&mut transaction, &id, now).await?;
                released.push(id);
            }
            transaction.commit().await?;
            self.changed();
        }
        Ok(released)
    }

    async fn gone(
        &self,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<GoneRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, source, guid, state, changed_at FROM stories \
             WHERE state IN ('canceled', 'withheld') AND changed_at >= $1 \
             ORDER BY changed_at DESC, id DESC LIMIT $2",
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
            let p = next(&mut binds, source.clone());
            sql.push_str(&format!(" AND s.source = {p}"));
        }
        if let Some(section) = &query.section {
            let p = next(&mut binds, section.clone());
            sql.push_str(&format!(
                " AND s.id IN (SELECT story_id FROM story_sections WHERE section = {p})"
            ));
        }
        if let Some(since) = query.since {
            let p = next(&mut binds, format_time(since));
            sql.push_str(&format!(" AND s.sort_time >= {p}"));
        }
        if let Some(cursor) = &query.cursor {
            let (time, id) = decode_cursor(cursor)?;
            let time = next(&mut binds, time);
            let id = next(&mut binds, id);
            sql.push_str(&format!(
                " AND (s.sort_time < {time} OR (s.sort_time = {time} AND s.id < {id}))"
            ));
        }
        if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            // As SQLite's instr(lower(…)): case folded for ASCII letters only ("C").
            let (headline, body) = (item_field("headline"), item_field("body_text"));
            for word in q.split_whitespace() {
                let p = next(&mut binds, word.to_string());
                sql.push_str(&format!(
                    " AND (strpos(lower({headline}), lower({p} COLLATE \"C\")) > 0 \
                     OR strpos(lower({body}), lower({p} COLLATE \"C\")) > 0)"
                ));
            }
        }
        sql.push_str(&format!(
            " ORDER BY s.sort_time DESC, s.id DESC LIMIT ${}",
            binds.len() + 1
        ));
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
             LEFT JOIN headline_overrides o ON o.story_id = s.id WHERE s.changed_at >= $1 \
             ORDER BY s.changed_at, s.id LIMIT $2"
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
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, changed_at FROM stories WHERE changed_at >= $1 \
             ORDER BY changed_at, id LIMIT $2",
        )
        .bind(format_time(since))
        .bind(limit.clamp(1, 10_000) as i64)
        .fetch_all(&self.pool)
        .await?;
        stamps_from_rows(rows)
    }

    async fn stories_by_id(&self, ids: &[String]) -> Result<Vec<StoryRecord>, StoreError> {
        let mut stories = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let rows = sqlx::query(&format!(
                "SELECT {STORY_COLUMNS} FROM stories s LEFT JOIN versions v ON v.id = s.current_version \
                 LEFT JOIN headline_overrides o ON o.story_id = s.id WHERE s.id = ANY($1)"
            ))
            .bind(chunk)
            .fetch_all(&self.pool)
            .await?;
            for row in &rows {
                stories.push(story_from_row(row)?);
            }
        }
        Ok(stories)
    }

    async fn set_clusters(&self, assignments: &[ClusterAssignment]) -> Result<(), StoreError> {
        if assignments.is_empty() {
            return Ok(());
        }
        let mut transaction = self.pool.begin().await?;
        for assignment in assignments {
            sqlx::query("UPDATE stories SET cluster_id = $1 WHERE id = $2")
                .bind(assignment.cluster_id)
                .bind(&assignment.story_id)
                .execute(&mut *transaction)
                .await?;
            sqlx::query(
                "INSERT INTO story_signatures (story_id, signature, story_time) VALUES ($1, $2, $3) \
                 ON CONFLICT (story_id) DO UPDATE SET signature = excluded.signature, \
                 story_time = excluded.story_time",
            )
            .bind(&assignment.story_id)
            .bind(&assignment.signature)
            .bind(format_time(assignment.story_time))
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        self.changed();
        Ok(())
    }

    async fn cluster_signatures(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, i64, Vec<u8>, DateTime<Utc>)>, StoreError> {
        let rows: Vec<(String, i64, Vec<u8>, String)> = sqlx::query_as(
            "SELECT g.story_id, s.cluster_id, g.signature, g.story_time FROM story_signatures g \
             JOIN stories s ON s.id = g.story_id \
             WHERE s.cluster_id IS NOT NULL AND g.story_time >= $1 ORDER BY g.story_time",
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
        // The item is read in Rust: PostgreSQL's `->>` refuses a `\u0000` an agency may have
        // sent in a headline, and one such story must not break every page of its cluster.
        let rows: Vec<(String, String, Option<String>, String)> = sqlx::query_as(
            "SELECT s.id, s.source, o.headline, v.item_json FROM stories s \
             JOIN versions v ON v.id = s.current_version \
             LEFT JOIN headline_overrides o ON o.story_id = s.id \
             WHERE s.cluster_id = $1 AND s.state = 'published' \
             ORDER BY s.sort_time DESC, s.id DESC LIMIT $2",
        )
        .bind(cluster_id)
        .bind(limit.clamp(1, 200) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, source, headline, item_json)| {
                let item: Item = serde_json::from_str(&item_json).map_err(|error| {
                    StoreError::Corrupt(format!("story {id}: item cannot be read: {error}"))
                })?;
                Ok(ClusterLink {
                    id,
                    source,
                    headline: headline.unwrap_or(item.headline),
                    language: item.language,
                })
            })
            .collect()
    }

    async fn cluster_members(
        &self,
        cluster_id: i64,
        limit: usize,
    ) -> Result<Vec<StoryRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {STORY_COLUMNS} FROM stories s JOIN versions v ON v.id = s.current_version \
             LEFT JOIN headline_overrides o ON o.story_id = s.id \
             WHERE s.cluster_id = $1 AND s.state = 'published' \
             ORDER BY s.sort_time DESC, s.id DESC LIMIT $2"
        ))
        .bind(cluster_id)
        .bind(limit.clamp(1, 200) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(story_from_row).collect()
    }

    async fn last_webhook_event(&self, story_id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT kind FROM webhook_events WHERE story_id = $1 ORDER BY id DESC LIMIT 1",
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
        let mut transaction = self.pool.begin().await?;
        let event_id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO webhook_events (story_id, kind, changed_at, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (story_id, changed_at) DO NOTHING \
             RETURNING id",
        )
        .bind(story_id)
        .bind(kind)
        .bind(format_time(changed_at))
        .bind(payload)
        .bind(format_time(now))
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(event_id) = event_id else {
            return Ok(false);
        };
        for endpoint in endpoints {
            sqlx::query(
                "INSERT INTO webhook_deliveries (event_id, endpoint, state, next_attempt) \
                 VALUES ($1, $2, 'pending', $3)",
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
        // One statement: lock the due rows no other node has locked, move their next attempt
        // to `claim_until`, and return them as they were (next_attempt before the claim, as
        // the SQLite store returns it).
        let rows = sqlx::query(
            "WITH due AS ( \
                 SELECT event_id, endpoint, next_attempt FROM webhook_deliveries \
                 WHERE state = 'pending' AND next_attempt <= $1 \
                 ORDER BY next_attempt, event_id, endpoint LIMIT $3 FOR UPDATE SKIP LOCKED \
             ), claimed AS ( \
                 UPDATE webhook_deliveries d SET next_attempt = $2 FROM due \
                 WHERE d.event_id = due.event_id AND d.endpoint = due.endpoint \
                 RETURNING d.event_id, d.endpoint, d.state, d.attempts, \
                 due.next_attempt AS next_attempt, d.last_status, d.last_error, d.delivered_at \
             ) \
             SELECT c.*, e.story_id, e.kind, e.payload, e.created_at FROM claimed c \
             JOIN webhook_events e ON e.id = c.event_id \
             ORDER BY c.next_attempt, c.event_id, c.endpoint",
        )
        .bind(format_time(now))
        .bind(format_time(claim_until))
        .bind(limit.clamp(1, 1000) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_from_row).collect()
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
            "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, last_status = $2, \
             last_error = $3, next_attempt = $4, \
             delivered_at = CASE WHEN $1 = 'delivered' THEN $5 ELSE delivered_at END \
             WHERE event_id = $6 AND endpoint = $7",
        )
        .bind(state)
        .bind(status)
        .bind(error)
        .bind(format_time(next_attempt))
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
             JOIN webhook_events e ON e.id = d.event_id \
             ORDER BY d.event_id DESC, d.endpoint LIMIT $1",
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
             ORDER BY sort_time DESC, id DESC LIMIT $1 OFFSET $2",
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
             LEFT JOIN headline_overrides o ON o.story_id = s.id WHERE s.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(story_from_row).transpose()
    }

    async fn versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id AS vid, received_at, hold_reasons, embargoed_until, item_json, provenance, \
             signature, link_only, review FROM versions WHERE story_id = $1 ORDER BY id",
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
        sqlx::query("UPDATE versions SET provenance = $1, signature = $2 WHERE id = $3")
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
        let mut transaction = self.pool.begin().await?;
        match headline {
            Some(headline) => {
                sqlx::query(
                    "INSERT INTO headline_overrides (story_id, headline, set_by, set_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (story_id) DO UPDATE SET \
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
                sqlx::query("DELETE FROM headline_overrides WHERE story_id = $1")
                    .bind(story_id)
                    .execute(&mut *transaction)
                    .await?;
            }
        }
        // Pages and feeds show the change at once.
        sqlx::query("UPDATE stories SET changed_at = $1 WHERE id = $2")
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

    async fn held(&self, limit: usize) -> Result<Vec<HeldRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{HELD_QUERY} WHERE v.hold_reasons IS NOT NULL AND v.review IS NULL \
             ORDER BY v.id DESC LIMIT $1"
        ))
        .bind(limit.clamp(1, 10_000) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(held_from_row).collect()
    }

    async fn held_story(&self, story_id: &str) -> Result<Vec<HeldRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{HELD_QUERY} WHERE v.story_id = $1 AND v.hold_reasons IS NOT NULL AND v.review IS NULL \
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
        let mut transaction = self.pool.begin().await?;
        // The story's row lock first (as commit takes it), then its versions.
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM stories WHERE id = $1 FOR UPDATE")
                .bind(story_id)
                .fetch_optional(&mut *transaction)
                .await?;
        let Some(state) = state else {
            return Err(StoreError::NotFound(story_id.to_string()));
        };
        let decided = sqlx::query(
            "UPDATE versions SET review = $1, reviewed_by = $2, reviewed_at = $3 \
             WHERE story_id = $4 AND hold_reasons IS NOT NULL AND review IS NULL",
        )
        .bind(review.as_str())
        .bind(by)
        .bind(format_time(now))
        .bind(story_id)
        .execute(&mut *transaction)
        .await?
        .rows_affected() as usize;
        let state = if decided > 0 {
            resolve_story(&mut transaction, story_id, now).await?
        } else {
            StoryState::parse(&state)
        };
        transaction.commit().await?;
        self.changed();
        Ok((decided, state))
    }

    async fn source_body_lengths(
        &self,
        source: &str,
        limit: usize,
    ) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT v.body_chars FROM stories s JOIN versions v ON v.id = s.current_version \
             WHERE s.source = $1 AND s.state = 'published' AND v.body_chars IS NOT NULL \
             ORDER BY s.sort_time DESC LIMIT $2",
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
            sqlx::query("UPDATE sources SET language = $1 WHERE name = $2")
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
        // Whole seconds since the epoch, then integer division, as SQLite's strftime('%s').
        let rows = sqlx::query(
            "SELECT (floor(extract(epoch FROM received_at::timestamptz))::bigint / $1) * $1 \
             AS bucket, COUNT(*) AS n FROM versions WHERE received_at >= $2 \
             GROUP BY bucket ORDER BY bucket",
        )
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
             FROM versions v JOIN stories s ON s.id = v.story_id ORDER BY v.id DESC LIMIT $1",
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
            "SELECT * FROM raw_payloads WHERE error IS NOT NULL ORDER BY received_at DESC LIMIT $1",
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
        let last_audit = match sqlx::query(
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
        };
        Ok(Counts {
            sources: row.try_get("sources")?,
            stories: row.try_get("stories")?,
            published: row.try_get("published")?,
            versions: row.try_get("versions")?,
            held: row.try_get("held")?,
            held_queue: row.try_get("held_queue")?,
            raw_payloads: row.try_get("raw_payloads")?,
            raw_failed: row.try_get("raw_failed")?,
            last_audit,
        })
    }

    async fn record_audit(
        &self,
        finished_at: DateTime<Utc>,
        checked: i64,
        failed: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO audit_runs (finished_at, checked, failed) VALUES ($1, $2, $3)")
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
    use super::*;

    #[test]
    fn passwords_never_reach_error_messages() {
        assert_eq!(
            redact("postgres://verbatim:secret@db.example:5432/news"),
            "postgres://verbatim:***@db.example:5432/news"
        );
        assert_eq!(
            redact("postgres://verbatim@db.example/news"),
            "postgres://verbatim@db.example/news"
        );
        assert_eq!(redact("mysql://x"), "mysql://x");
    }

    #[tokio::test]
    async fn other_schemes_are_unsupported() {
        for url in ["mysql://localhost/x", "sqlite://x.db", "postgres://[::1"] {
            assert!(
                matches!(
                    PostgresStore::open_url(url).await,
                    Err(StoreError::UnsupportedUrl(_))
                ),
                "{url}"
            );
        }
    }
}
