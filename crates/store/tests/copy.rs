//! `copy_sqlite_to_postgres` (what `verbatim migrate-store` runs): a SQLite store filled through
//! the trait, copied, answers every read the same on PostgreSQL, and the copy goes on from there.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::{Db, TestResult, assignment};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use verbatim_item::{Item, Pubstatus};
use verbatim_store::{
    CopyProgress, FetchRecord, HeadlineOverride, ListQuery, NewSource, NewVersion, PostgresStore,
    RawRecord, Review, SourceKind, SqliteStore, Store, StoreError, Subscription, SubscriptionState,
    copy_sqlite_to_postgres,
};

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_750_000_000 + seconds, 654_321_000)
        .single()
        .unwrap_or_default()
}

fn item(source: &str, guid: &str, headline: &str, version: u64, status: Pubstatus) -> Item {
    Item {
        source: source.into(),
        guid: guid.into(),
        version: Some(version),
        pubstatus: status,
        headline: headline.into(),
        body_text: format!("{headline}: the body, with “quotes” and ünïcode"),
        body_html: format!("<p>{headline}</p>"),
        text_hash: Some(format!("hash of {headline}")),
        received_at: Some(at(version as i64 * 10)),
        versioncreated: Some(at(version as i64 * 10 - 3)),
        language: Some("en".into()),
        raw: Some(format!("{:064x}", version)),
        ..Item::default()
    }
}

fn new_source(name: &str, kind: SourceKind) -> NewSource {
    NewSource {
        name: name.into(),
        url: (kind == SourceKind::Poll).then(|| format!("https://{name}.test/feed")),
        kind,
        every_seconds: 300,
        notice: Some("From {source}".into()),
        push_token_sha256: (kind == SourceKind::Push).then(|| "ab".repeat(32)),
        auth: (kind == SourceKind::Poll).then(|| "bearer:token".into()),
        language: Some("en".into()),
    }
}

/// Everything a store holds, through the trait: sources, a subscription, stories with
/// updates, a kill, an embargo, held versions (released, dropped, waiting), a second feed's
/// fold, sections, an override, clusters, webhooks, settings, leases, payloads and their bytes.
async fn fill(store: &dyn Store) -> Result<(), StoreError> {
    store
        .add_source(&new_source("wire", SourceKind::Poll), at(0))
        .await?;
    store
        .add_source(&new_source("push", SourceKind::Push), at(0))
        .await?;
    store
        .add_source(&new_source("inbox", SourceKind::Inbox), at(0))
        .await?;
    store.set_push_hmac_secret("push", Some("hmac")).await?;
    store
        .record_fetch(
            "wire",
            &FetchRecord {
                at: at(1),
                status: Some(200),
                etag: Some("\"e\"".into()),
                next_due: Some(at(301)),
                node: Some("node-1".into()),
                ..FetchRecord::default()
            },
        )
        .await?;
    store
        .put_subscription(&Subscription {
            source: "wire".into(),
            hub: "https://hub.test/".into(),
            topic: "https://wire.test/feed".into(),
            secret: "websub-secret".into(),
            state: SubscriptionState::Active,
            requested_at: at(2),
            lease_seconds: Some(86_400),
            lease_until: Some(at(86_402)),
            last_error: None,
            deliveries: 0,
            last_delivery: None,
        })
        .await?;
    store.record_delivery("wire", at(3)).await?;

    for (index, sha) in ["11", "22", "33"].into_iter().enumerate() {
        let sha256 = sha.repeat(32);
        store
            .record_raw(&RawRecord {
                sha256: sha256.clone(),
                source: "wire".into(),
                origin: "https://wire.test/feed".into(),
                received_at: at(index as i64),
                size: 3,
                content_type: Some("application/rss+xml".into()),
                http_status: Some(200),
                etag: None,
                last_modified: None,
            })
            .await?;
        store
            .put_raw_bytes(&sha256, &[0, index as u8, 255, b'\n'])
            .await?;
    }
    store.finish_raw(&"11".repeat(32), None).await?;
    store.finish_raw(&"22".repeat(32), Some("no root")).await?;

    // Updates, sections, provenance, link-only.
    for version in 1..=3 {
        let mut update = NewVersion::plain(item(
            "wire",
            "a",
            &format!("Alpha {version}"),
            version,
            Pubstatus::Usable,
        ));
        update.sections = vec![if version == 1 { "world" } else { "Europe" }.into()];
        update.provenance = Some(format!("{{\"version\":{version}}}"));
        update.signature = Some(format!("sig{version}"));
        update.link_only = version == 2;
        store.commit(&update, at(version as i64 * 10)).await?;
    }
    // A kill.
    store
        .commit(
            &NewVersion::plain(item("wire", "b", "Bravo", 1, Pubstatus::Usable)),
            at(11),
        )
        .await?;
    store
        .commit(
            &NewVersion::plain(item("wire", "b", "Bravo", 2, Pubstatus::Canceled)),
            at(21),
        )
        .await?;
    // An embargo still pending, and one already released.
    let mut embargoed = NewVersion::plain(item("wire", "c", "Charlie", 1, Pubstatus::Usable));
    embargoed.embargoed_until = Some(at(1_000_000));
    store.commit(&embargoed, at(12)).await?;
    let mut released = NewVersion::plain(item("wire", "c2", "Charlie two", 1, Pubstatus::Usable));
    released.embargoed_until = Some(at(30));
    store.commit(&released, at(12)).await?;
    store.release_due(at(31)).await?;
    // Held: waiting, released, dropped.
    for (guid, review) in [
        ("d", None),
        ("e", Some(Review::Released)),
        ("f", Some(Review::Dropped)),
    ] {
        let mut held = NewVersion::plain(item("push", guid, guid, 1, Pubstatus::Usable));
        held.hold_reasons = vec!["teaser only".into(), "language".into()];
        let committed = store.commit(&held, at(13)).await?;
        if let Some(review) = review {
            store
                .review_held(&committed.id, review, "desk", at(14))
                .await?;
        }
    }
    // The same agency story through a second feed: folded, with an alias.
    let mut second = item("inbox", "a", "Alpha 3", 3, Pubstatus::Usable);
    second.text_hash = Some("hash of Alpha 3".into());
    store.commit(&NewVersion::plain(second), at(40)).await?;
    let alpha = verbatim_store::story_id("wire", "a");
    let bravo = verbatim_store::story_id("wire", "b");
    store
        .set_headline_override(
            &alpha,
            Some(&HeadlineOverride {
                headline: "Desk headline".into(),
                set_by: "editor".into(),
                set_at: at(50),
            }),
            at(50),
        )
        .await?;
    store
        .set_clusters(&[assignment(&alpha, 5, &[1, 2, 3, 0], at(10))])
        .await?;
    store
        .set_clusters(&[assignment(&bravo, 5, &[9, 8], at(11))])
        .await?;

    let endpoints = vec!["hook-1".to_string(), "hook-2".to_string()];
    store
        .add_webhook_event(&alpha, at(30), "update", "{\"id\":1}", &endpoints, at(30))
        .await?;
    store
        .add_webhook_event(&bravo, at(21), "kill", "{\"id\":2}", &endpoints, at(21))
        .await?;
    let due = store.due_webhook_deliveries(at(60), at(120), 10).await?;
    if let Some(first) = due.first() {
        store
            .record_webhook_attempt(
                first.event_id,
                &first.endpoint,
                "delivered",
                Some(204),
                None,
                at(61),
                at(61),
            )
            .await?;
    }
    store.set_setting("admin_token_sha256", "cafe").await?;
    store.set_setting("search_mark", "x").await?;
    store
        .acquire_lease("poll:wire", "node-1", at(0), at(1_000_000))
        .await?;
    store
        .acquire_lease("cluster", "node-2", at(0), at(1_000_000))
        .await?;
    store.record_audit(at(70), 9, 1).await?;
    store.record_audit(at(80), 9, 0).await?;
    Ok(())
}

fn json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(value)
}

/// Every read of the trait, answered by both stores, compared as JSON.
async fn same_answers(sqlite: &dyn Store, postgres: &dyn Store) -> TestResult {
    macro_rules! same {
        ($($call:tt)*) => {{
            let left = json(&sqlite.$($call)*.await?)?;
            let right = json(&postgres.$($call)*.await?)?;
            assert_eq!(left, right, "{}", stringify!($($call)*));
        }};
    }
    let stories = sqlite.changed_stories(at(-1_000_000), 10_000).await?;
    assert_eq!(
        stories.len(),
        7,
        "a, b, c, c2, d, e, f (the second feed folded)"
    );
    for story in &stories {
        same!(story(&story.id));
        same!(versions(&story.id));
        same!(held_story(&story.id));
        same!(last_webhook_event(&story.id));
    }
    same!(changed_stories(at(-1_000_000), 10_000));
    same!(counts());
    same!(sources());
    same!(source("wire"));
    same!(subscriptions());
    same!(sections());
    same!(held(100));
    same!(gone(None, 100));
    same!(published_ids(0, 100));
    same!(last_change());
    same!(pending_raw());
    same!(failed_payloads(100));
    same!(raw(&"33".repeat(32)));
    same!(raw_bytes(&"22".repeat(32)));
    same!(recent_versions(100));
    let by_source =
        |map: std::collections::HashMap<String, i64>| map.into_iter().collect::<BTreeMap<_, _>>();
    assert_eq!(
        by_source(sqlite.items_since(at(0)).await?),
        by_source(postgres.items_since(at(0)).await?)
    );
    same!(ingest_rate(at(0), 60));
    same!(source_body_lengths("wire", 10));
    same!(cluster_signatures(at(-1_000_000)));
    same!(cluster_links(5, 10));
    same!(cluster_members(5, 10));
    same!(webhook_log(100));
    same!(leases("", at(10)));
    same!(setting("admin_token_sha256"));
    same!(due_sources(at(1_000), 10));
    for query in [
        ListQuery {
            limit: 100,
            ..ListQuery::default()
        },
        ListQuery {
            limit: 10,
            section: Some("Europe".into()),
            ..ListQuery::default()
        },
        ListQuery {
            limit: 10,
            q: Some("ALPHA ünïcode".into()),
            ..ListQuery::default()
        },
    ] {
        let left = sqlite.list(&query).await?;
        let right = postgres.list(&query).await?;
        assert_eq!(json(&left.stories)?, json(&right.stories)?, "{query:?}");
        assert_eq!(left.next, right.next);
    }
    // Page by page with the cursor.
    let mut cursor = None;
    loop {
        let query = ListQuery {
            limit: 2,
            cursor: cursor.clone(),
            ..ListQuery::default()
        };
        let left = sqlite.list(&query).await?;
        let right = postgres.list(&query).await?;
        assert_eq!(json(&left.stories)?, json(&right.stories)?);
        assert_eq!(left.next, right.next);
        cursor = left.next;
        if cursor.is_none() {
            break;
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_store_copied_answers_the_same_on_postgres() -> TestResult {
    let Some(target) = Db::postgres("copy")? else {
        return Ok(());
    };
    let source = Db::sqlite()?;
    let sqlite = SqliteStore::open(&source.sqlite_path().ok_or("no path")?).await?;
    fill(&sqlite).await?;
    let url = target.postgres_url().ok_or("no url")?;
    let postgres = PostgresStore::open_url(url).await?;

    let mut seen: Vec<CopyProgress> = Vec::new();
    let report = copy_sqlite_to_postgres(&sqlite, &postgres, &mut |step| seen.push(step)).await?;
    let tables: BTreeMap<&str, (i64, i64)> = report
        .tables
        .iter()
        .map(|(name, from, to)| (name.as_str(), (*from, *to)))
        .collect();
    assert_eq!(tables.len(), 16, "{tables:?}");
    assert!(!tables.contains_key("_sqlx_migrations"));
    for (name, (from, to)) in &tables {
        assert_eq!(from, to, "{name}");
        assert!(*from > 0, "{name} was filled");
    }
    // Parents before children.
    let position = |name: &str| report.tables.iter().position(|(table, _, _)| table == name);
    assert!(position("stories") < position("versions"));
    assert!(position("sources") < position("websub_subscriptions"));
    assert!(position("webhook_events") < position("webhook_deliveries"));
    // Progress ends each table at its total.
    for (name, (from, _)) in &tables {
        let last = seen
            .iter()
            .rfind(|step| step.table == *name)
            .ok_or("no progress")?;
        assert_eq!((last.copied, last.total), (*from, *from), "{name}");
    }

    let copied: Arc<dyn Store> = Arc::new(postgres.clone());
    same_answers(&sqlite, copied.as_ref()).await?;

    // The copy goes on: ids continue after the largest copied.
    let max_seq = sqlite
        .recent_versions(1)
        .await?
        .first()
        .map(|recent| recent.version.seq)
        .ok_or("no versions")?;
    let next = NewVersion::plain(item("wire", "a", "Alpha 4", 4, Pubstatus::Usable));
    for store in [&sqlite as &dyn Store, copied.as_ref()] {
        store.commit(&next, at(90)).await?;
        store
            .add_webhook_event("new", at(90), "publish", "{}", &["hook-1".into()], at(90))
            .await?;
        store.record_audit(at(95), 10, 0).await?;
    }
    let seq = copied
        .recent_versions(1)
        .await?
        .first()
        .map(|recent| recent.version.seq)
        .ok_or("no versions")?;
    assert_eq!(seq, max_seq + 1);
    same_answers(&sqlite, copied.as_ref()).await?;

    // Never into a store that holds anything.
    let again = copy_sqlite_to_postgres(&sqlite, &postgres, &mut |_| {}).await;
    assert!(
        matches!(&again, Err(StoreError::Database(error)) if error.to_string().contains("not empty")),
        "{again:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_with_any_rows_is_refused_and_left_as_it_was() -> TestResult {
    let Some(target) = Db::postgres("refused")? else {
        return Ok(());
    };
    let source = Db::sqlite()?;
    let sqlite = SqliteStore::open(&source.sqlite_path().ok_or("no path")?).await?;
    fill(&sqlite).await?;
    let postgres = PostgresStore::open_url(target.postgres_url().ok_or("no url")?).await?;
    postgres.set_setting("started", "once").await?;
    let result = copy_sqlite_to_postgres(&sqlite, &postgres, &mut |_| {}).await;
    let message = result
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(message.contains("settings (1 rows)"), "{message}");
    let counts = postgres.counts().await?;
    assert_eq!((counts.sources, counts.stories), (0, 0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_sqlite_store_copies_to_an_empty_postgres_store() -> TestResult {
    let Some(target) = Db::postgres("empty")? else {
        return Ok(());
    };
    let source = Db::sqlite()?;
    let sqlite = SqliteStore::open(&source.sqlite_path().ok_or("no path")?).await?;
    let postgres = PostgresStore::open_url(target.postgres_url().ok_or("no url")?).await?;
    let report = copy_sqlite_to_postgres(&sqlite, &postgres, &mut |_| {}).await?;
    assert!(
        report
            .tables
            .iter()
            .all(|(_, from, to)| *from == 0 && *to == 0)
    );
    // Identities start at 1 as on a new store.
    postgres.record_audit(at(0), 1, 0).await?;
    let id: i64 = sqlx::query_scalar("SELECT id FROM audit_runs")
        .fetch_one(postgres.pool())
        .await?;
    assert_eq!(id, 1);
    Ok(())
}
