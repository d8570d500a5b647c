//! What the SQLite and PostgreSQL stores share: decoding their rows (same column names, same
//! value types) into the store's types, the content hash that says a version is already
//! stored, and list cursors.

use crate::lifecycle::{StoryState, VersionFacts};
use crate::{
    HeadlineOverride, HeldRecord, NewVersion, RawRecord, Source, SourceKind, StoreError,
    StoryRecord, Subscription, SubscriptionState, VersionRecord, WebhookDelivery, parse_time,
};
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use verbatim_item::{Item, Pubstatus, sha256_hex_of_json};

/// The four kinds of value the store's tables hold outside blobs, read by column name.
pub(crate) trait Cells {
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn text_opt(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    fn int_opt(&self, column: &str) -> Result<Option<i64>, StoreError>;
}

/// `Cells` for a row type whose by-name getter is `$get` (sqlx: `try_get`; rusqlite: `get`).
macro_rules! cells {
    ($row:ty, $get:ident) => {
        impl Cells for $row {
            fn text(&self, column: &str) -> Result<String, StoreError> {
                Ok(self.$get(column)?)
            }
            fn text_opt(&self, column: &str) -> Result<Option<String>, StoreError> {
                Ok(self.$get(column)?)
            }
            fn int(&self, column: &str) -> Result<i64, StoreError> {
                Ok(self.$get(column)?)
            }
            fn int_opt(&self, column: &str) -> Result<Option<i64>, StoreError> {
                Ok(self.$get(column)?)
            }
        }
    };
}

cells!(SqliteRow, try_get);
cells!(PgRow, try_get);
// The SQLite writer's rows (`sqlite_writer.rs`).
cells!(rusqlite::Row<'_>, get);

pub(crate) fn time<R: Cells>(row: &R, column: &str) -> Result<DateTime<Utc>, StoreError> {
    parse_time(&row.text(column)?)
}

pub(crate) fn time_opt<R: Cells>(
    row: &R,
    column: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    row.text_opt(column)?.as_deref().map(parse_time).transpose()
}

pub(crate) fn source_from_row<R: Cells>(row: &R) -> Result<Source, StoreError> {
    Ok(Source {
        name: row.text("name")?,
        url: row.text_opt("url")?,
        kind: match row.text("kind")?.as_str() {
            "push" => SourceKind::Push,
            "inbox" => SourceKind::Inbox,
            _ => SourceKind::Poll,
        },
        every_seconds: row.int("every_seconds")?,
        notice: row.text_opt("notice")?,
        paused: row.int("paused")? != 0,
        push_token_sha256: row.text_opt("push_token_sha256")?,
        push_hmac_secret: row.text_opt("push_hmac_secret")?,
        auth: row.text_opt("auth")?,
        etag: row.text_opt("etag")?,
        last_modified: row.text_opt("last_modified")?,
        last_attempt: time_opt(row, "last_attempt")?,
        last_success: time_opt(row, "last_success")?,
        last_status: row.int_opt("last_status")?,
        last_error: row.text_opt("last_error")?,
        consecutive_errors: row.int("consecutive_errors")?,
        next_due: time_opt(row, "next_due")?,
        language: row.text_opt("language")?,
        last_node: row.text_opt("last_node")?,
    })
}

pub(crate) fn subscription_from_row<R: Cells>(row: &R) -> Result<Subscription, StoreError> {
    Ok(Subscription {
        source: row.text("source")?,
        hub: row.text("hub")?,
        topic: row.text("topic")?,
        secret: row.text("secret")?,
        state: match row.text("state")?.as_str() {
            "active" => SubscriptionState::Active,
            "requested" => SubscriptionState::Requested,
            _ => SubscriptionState::Failed,
        },
        requested_at: time(row, "requested_at")?,
        lease_seconds: row.int_opt("lease_seconds")?,
        lease_until: time_opt(row, "lease_until")?,
        last_error: row.text_opt("last_error")?,
        deliveries: row.int("deliveries")?,
        last_delivery: time_opt(row, "last_delivery")?,
    })
}

pub(crate) fn delivery_from_row<R: Cells>(row: &R) -> Result<WebhookDelivery, StoreError> {
    Ok(WebhookDelivery {
        event_id: row.int("event_id")?,
        story_id: row.text("story_id")?,
        kind: row.text("kind")?,
        endpoint: row.text("endpoint")?,
        state: row.text("state")?,
        attempts: row.int("attempts")?,
        next_attempt: time(row, "next_attempt")?,
        last_status: row.int_opt("last_status")?,
        last_error: row.text_opt("last_error")?,
        delivered_at: time_opt(row, "delivered_at")?,
        created_at: time(row, "created_at")?,
        payload: row.text("payload")?,
    })
}

pub(crate) fn raw_from_row<R: Cells>(row: &R) -> Result<RawRecord, StoreError> {
    Ok(RawRecord {
        sha256: row.text("sha256")?,
        source: row.text("source")?,
        origin: row.text("origin")?,
        received_at: time(row, "received_at")?,
        size: row.int("size")?,
        content_type: row.text_opt("content_type")?,
        http_status: row.int_opt("http_status")?,
        etag: row.text_opt("etag")?,
        last_modified: row.text_opt("last_modified")?,
    })
}

/// A version from the columns `vid, received_at, hold_reasons, embargoed_until, item_json,
/// provenance, signature, link_only, review`.
pub(crate) fn version_from_row<R: Cells>(row: &R) -> Result<VersionRecord, StoreError> {
    let item: Item = serde_json::from_str(&row.text("item_json")?)
        .map_err(|error| StoreError::Corrupt(format!("version item: {error}")))?;
    let hold_reasons = match row.text_opt("hold_reasons")? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|error| StoreError::Corrupt(format!("hold reasons: {error}")))?,
        None => Vec::new(),
    };
    Ok(VersionRecord {
        seq: row.int("vid")?,
        received_at: time(row, "received_at")?,
        hold_reasons,
        embargoed_until: time_opt(row, "embargoed_until")?,
        item,
        provenance: row.text_opt("provenance")?,
        signature: row.text_opt("signature")?,
        link_only: row.int_opt("link_only")?.unwrap_or(0) != 0,
        review: row.text_opt("review")?,
    })
}

/// A story from its columns (as each store's `STORY_COLUMNS` names them), with the current
/// version when there is one and `sections` joined by spaces.
pub(crate) fn story_from_row<R: Cells>(row: &R) -> Result<StoryRecord, StoreError> {
    Ok(StoryRecord {
        id: row.text("sid")?,
        source: row.text("source")?,
        guid: row.text("guid")?,
        state: StoryState::parse(&row.text("state")?),
        sort_time: time(row, "sort_time")?,
        changed_at: time(row, "changed_at")?,
        current: match row.int_opt("vid")? {
            Some(_) => Some(version_from_row(row)?),
            None => None,
        },
        headline_override: match row.text_opt("override_headline")? {
            Some(headline) => Some(HeadlineOverride {
                headline,
                set_by: row.text("override_by")?,
                set_at: time(row, "override_at")?,
            }),
            None => None,
        },
        cluster_id: row.int_opt("cluster_id")?,
        sections: row
            .text_opt("sections")?
            .map(|joined| {
                let mut sections: Vec<String> = joined.split(' ').map(str::to_string).collect();
                sections.sort();
                sections
            })
            .unwrap_or_default(),
    })
}

pub(crate) fn held_from_row<R: Cells>(row: &R) -> Result<HeldRecord, StoreError> {
    Ok(HeldRecord {
        story_id: row.text("sid")?,
        source: row.text("source")?,
        guid: row.text("guid")?,
        story_state: StoryState::parse(&row.text("state")?),
        version: version_from_row(row)?,
    })
}

/// What decides the story's state about one version, from the columns `id, agency_version,
/// versioncreated, pubstatus, hold_reasons, embargoed_until, review`.
pub(crate) fn facts_from_row<R: Cells>(row: &R) -> Result<VersionFacts, StoreError> {
    Ok(VersionFacts {
        arrival: row.int("id")?,
        agency_version: row
            .int_opt("agency_version")?
            .and_then(|version| u64::try_from(version).ok()),
        versioncreated: time_opt(row, "versioncreated")?,
        pubstatus: Pubstatus::from_agency_word(&row.text("pubstatus")?),
        // A held version counts once an operator released it.
        held: row.text_opt("hold_reasons")?.is_some()
            && row.text_opt("review")?.as_deref() != Some("released"),
        embargoed_until: time_opt(row, "embargoed_until")?,
    })
}

/// The list order of a story: the agency's time for the current version, never later than
/// arrival (from the current version's `versioncreated, received_at`).
pub(crate) fn sort_time_from_row<R: Cells>(row: &R) -> Result<DateTime<Utc>, StoreError> {
    Ok(list_time(
        time(row, "received_at")?,
        time_opt(row, "versioncreated")?,
    ))
}

/// A version's list time: the agency's time, never later than arrival.
pub(crate) fn list_time(
    received: DateTime<Utc>,
    versioncreated: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    versioncreated.map_or(received, |created| created.min(received))
}

/// A version's serialized columns: the item as JSON, and its hold reasons as JSON (`None` when
/// it has none).
pub(crate) fn serialized_columns(
    version: &NewVersion,
) -> Result<(String, Option<String>), StoreError> {
    let item_json = serde_json::to_string(&version.item)
        .map_err(|error| StoreError::Corrupt(format!("item cannot be serialized: {error}")))?;
    let hold_reasons = if version.hold_reasons.is_empty() {
        None
    } else {
        serde_json::to_string(&version.hold_reasons).ok()
    };
    Ok((item_json, hold_reasons))
}

/// How many sources are polled and not paused; the same statement on SQLite and PostgreSQL.
pub(crate) const POLLED_SOURCE_COUNT: &str =
    "SELECT COUNT(*) FROM sources WHERE kind = 'poll' AND paused = 0";

/// The hash that says whether a version is already stored: the item without arrival data.
pub(crate) fn content_hash(item: &Item) -> Result<String, StoreError> {
    content_hash_as(item, &item.source)
}

/// The same, as if the item had come from `source` (a second feed of one agency story).
pub(crate) fn content_hash_as(item: &Item, source: &str) -> Result<String, StoreError> {
    let mut comparable = item.clone();
    comparable.source = source.to_string();
    content_hash_in_place(&mut comparable)
}

/// [`content_hash`] of an item the caller owns, without copying it: the arrival data is taken
/// out while the item is hashed and put back after, and the JSON goes straight into the hasher
/// (the same bytes `serde_json::to_string` writes). The commit path hashes every version.
pub(crate) fn content_hash_in_place(item: &mut Item) -> Result<String, StoreError> {
    let received_at = item.received_at.take();
    let raw = item.raw.take();
    let hashed = sha256_hex_of_json(&*item);
    item.received_at = received_at;
    item.raw = raw;
    hashed.map_err(|error| StoreError::Corrupt(format!("item cannot be serialized: {error}")))
}

pub(crate) fn encode_cursor(time: &str, id: &str) -> String {
    hex::encode(format!("{time}|{id}"))
}

pub(crate) fn decode_cursor(cursor: &str) -> Result<(String, String), StoreError> {
    let bad = || StoreError::Corrupt(format!("bad cursor {cursor:?}"));
    let bytes = hex::decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (time, id) = text.split_once('|').ok_or_else(bad)?;
    Ok((time.to_string(), id.to_string()))
}

/// Story stamps from `(id, changed_at)` rows, as both stores read them.
pub(crate) fn stamps_from_rows(
    rows: Vec<(String, String)>,
) -> Result<Vec<crate::StoryStamp>, StoreError> {
    rows.into_iter()
        .map(|(id, changed_at)| {
            Ok(crate::StoryStamp {
                id,
                changed_at: parse_time(&changed_at)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire_item() -> Item {
        Item {
            source: "agency".into(),
            guid: "urn:agency:1".into(),
            version: Some(2),
            versioncreated: DateTime::from_timestamp(1_700_000_000, 0),
            received_at: DateTime::from_timestamp(1_700_000_100, 5),
            pubstatus: Pubstatus::Usable,
            headline: "Río: \"quoted\" \u{00a0}head\u{00ad}line 🇺🇦".into(),
            body_html: "<p>مرحبا &amp; e\u{0301}</p>".into(),
            body_text: "مرحبا & e\u{0301}".into(),
            raw: Some("ab".repeat(32)),
            text_hash: Some("cd".repeat(32)),
            ..Item::default()
        }
    }

    /// What the content hash was before it was streamed: the item copied, arrival data
    /// cleared, serialized to a string, hashed. Stored versions carry it, so it must not move.
    fn hash_as_it_was(item: &Item, source: &str) -> Result<String, StoreError> {
        let mut comparable = item.clone();
        comparable.received_at = None;
        comparable.raw = None;
        comparable.source = source.to_string();
        let json = serde_json::to_string(&comparable)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        Ok(verbatim_item::sha256_hex(json.as_bytes()))
    }

    #[test]
    fn the_streamed_content_hash_is_the_stored_one_and_leaves_the_item_whole()
    -> Result<(), StoreError> {
        let item = wire_item();
        let mut hashed = item.clone();
        assert_eq!(
            content_hash_in_place(&mut hashed)?,
            hash_as_it_was(&item, "agency")?
        );
        assert_eq!(hashed, item);
        assert_eq!(content_hash(&item)?, hash_as_it_was(&item, "agency")?);
        assert_eq!(
            content_hash_as(&item, "other")?,
            hash_as_it_was(&item, "other")?
        );
        assert_ne!(content_hash_as(&item, "other")?, content_hash(&item)?);
        Ok(())
    }
}
