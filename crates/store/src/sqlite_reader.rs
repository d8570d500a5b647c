//! The SQLite store's bulk reads for the followers (search index, webhooks, live updates):
//! the stamps of changed stories and the changed stories themselves, a whole page per trip to a
//! blocking thread on a rusqlite connection of their own. Through sqlx every row of a page of
//! 1,000 stories crossed to its worker thread and back.

use crate::rows::{stamps_from_rows, story_from_row};
use crate::sqlite::STORY_COLUMNS;
use crate::sqlite_writer::on_blocking_thread;
use crate::{StoreError, StoryRecord, StoryStamp, format_time};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params, params_from_iter};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Story ids bound in one statement (well under SQLite's limit on bound parameters).
const IDS_PER_STATEMENT: usize = 500;

/// A read-only connection shared by clones of the store.
#[derive(Debug, Clone)]
pub(crate) struct Reader {
    connection: Arc<Mutex<Connection>>,
}

impl Reader {
    /// Opens the (already migrated, WAL-mode) database file for reading: in WAL mode its reads
    /// neither wait for the writer nor hold it up.
    pub(crate) fn open(path: &Path) -> Result<Reader, StoreError> {
        let connection = Connection::open(path)?;
        connection.busy_timeout(Duration::from_secs(10))?;
        connection.pragma_update(None, "query_only", true)?;
        Ok(Reader {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// `Store::changed_story_stamps`.
    pub(crate) async fn changed_story_stamps(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoryStamp>, StoreError> {
        let since = format_time(since);
        let limit = limit.clamp(1, 10_000) as i64;
        on_blocking_thread(&self.connection, move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT id, changed_at FROM stories WHERE changed_at >= ? \
                 ORDER BY changed_at, id LIMIT ?",
            )?;
            let rows = statement
                .query_map(params![since, limit], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<Result<Vec<(String, String)>, _>>()?;
            stamps_from_rows(rows)
        })
        .await
    }

    /// `Store::stories_by_id`.
    pub(crate) async fn stories_by_id(
        &self,
        ids: Vec<String>,
    ) -> Result<Vec<StoryRecord>, StoreError> {
        on_blocking_thread(&self.connection, move |connection| {
            let mut stories = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(IDS_PER_STATEMENT) {
                let placeholders = vec!["?"; chunk.len()].join(", ");
                let mut statement = connection.prepare_cached(&format!(
                    "SELECT {STORY_COLUMNS} FROM stories s \
                     LEFT JOIN versions v ON v.id = s.current_version \
                     LEFT JOIN headline_overrides o ON o.story_id = s.id \
                     WHERE s.id IN ({placeholders})"
                ))?;
                let mut rows = statement.query(params_from_iter(chunk))?;
                while let Some(row) = rows.next()? {
                    stories.push(story_from_row(row)?);
                }
            }
            Ok(stories)
        })
        .await
    }
}
