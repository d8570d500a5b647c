//! What every `Store` must do, checked on each backend: every function below runs twice, as
//! `sqlite::NAME` (a temporary file) and `postgres::NAME` (a fresh database on a throwaway
//! server). Several stores on one database stand for several processes or nodes.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{Db, TestResult, assignment};
use std::collections::HashSet;
use std::sync::Arc;
use verbatim_item::{Item, Pubstatus};
use verbatim_store::{
    ChangeCursor, CommitKind, FetchRecord, HeadlineOverride, ListQuery, NewSource, NewVersion,
    PostgresStore, RawRecord, Review, SourceKind, Store, StoreError, StoryState, Subscription,
    SubscriptionState,
};

on_both!(
    only_polled_unpaused_due_sources_are_due,
    sources_are_added_updated_and_removed,
    names_and_sections_order_bytewise,
    settings_are_kept,
    websub_subscriptions_are_kept_and_counted,
    raw_payloads_are_recorded_and_finished,
    raw_bytes_are_kept_once,
    leases_are_held_by_one_node_at_a_time,
    versions_updates_and_kills,
    one_agency_story_through_two_feeds_is_one_story_in_both_sections,
    held_versions_are_released_or_dropped_by_the_operator,
    listing_pages_with_a_cursor_and_searches,
    changes_gone_stories_and_published_ids,
    clusters_links_and_stamps,
    headline_overrides_provenance_and_desk_reads,
    two_stores_on_one_database_release_each_embargo_once,
    three_concurrent_stores_release_each_embargo_exactly_once,
    two_stores_committing_one_story_store_each_version_once,
    webhook_events_deliveries_and_the_log,
    two_stores_never_claim_the_same_webhook_delivery,
    three_stores_opening_a_fresh_database_at_once_all_migrate,
    a_nul_in_an_agency_id_or_headline_is_stored_and_shown,
    the_change_token_moves_with_every_change_a_page_shows_whatever_the_clock,
    a_change_cursor_hands_out_each_change_once_through_bursts,
    a_batch_commits_as_its_versions_would_one_by_one,
    two_stores_committing_batches_in_opposite_orders_both_finish,
);

/// A time with whole microseconds (what the store keeps).
fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_750_000_000 + seconds, 123_456_000)
        .single()
        .unwrap_or_default()
}

fn item(guid: &str, headline: &str, version: Option<u64>, pubstatus: Pubstatus) -> Item {
    Item {
        source: "agency".into(),
        guid: guid.into(),
        version,
        pubstatus,
        headline: headline.into(),
        body_text: "body".into(),
        text_hash: Some(headline.into()),
        ..Item::default()
    }
}

fn new_version(item: Item) -> NewVersion {
    NewVersion::plain(item)
}

fn source(name: &str, kind: SourceKind) -> NewSource {
    NewSource {
        name: name.into(),
        url: (kind == SourceKind::Poll).then(|| format!("https://{name}.test/")),
        kind,
        every_seconds: 60,
        notice: None,
        push_token_sha256: None,
        auth: None,
        language: None,
    }
}

fn missing(what: &str) -> StoreError {
    StoreError::NotFound(what.to_string())
}

async fn only_polled_unpaused_due_sources_are_due(db: Db) -> TestResult {
    let store = db.open().await?;
    let now = Utc::now();
    for (name, kind) in [
        ("due", SourceKind::Poll),
        ("paused", SourceKind::Poll),
        ("pushed", SourceKind::Push),
        ("later", SourceKind::Poll),
        ("overdue", SourceKind::Poll),
    ] {
        store.add_source(&source(name, kind), now).await?;
    }
    store.set_paused("paused", true).await?;
    store
        .record_fetch(
            "later",
            &FetchRecord {
                at: now,
                next_due: Some(now + Duration::minutes(5)),
                ..FetchRecord::default()
            },
        )
        .await?;
    store
        .record_fetch(
            "overdue",
            &FetchRecord {
                at: now,
                next_due: Some(now - Duration::minutes(5)),
                ..FetchRecord::default()
            },
        )
        .await?;
    let due: Vec<String> = store
        .due_sources(now + Duration::seconds(1), 10)
        .await?
        .into_iter()
        .map(|source| source.name)
        .collect();
    assert_eq!(due, vec!["overdue", "due"], "most overdue first");
    let one: Vec<String> = store
        .due_sources(now + Duration::seconds(1), 1)
        .await?
        .into_iter()
        .map(|source| source.name)
        .collect();
    assert_eq!(one, vec!["overdue"]);
    assert_eq!(
        store.polled_source_count().await?,
        3,
        "polled and not paused, due or not"
    );
    Ok(())
}

async fn sources_are_added_updated_and_removed(db: Db) -> TestResult {
    let store = db.open().await?;
    let now = at(0);
    let mut wire = source("wire", SourceKind::Poll);
    wire.push_token_sha256 = Some("token-hash".into());
    wire.language = Some("en".into());
    store.add_source(&wire, now).await?;
    assert!(matches!(
        store.add_source(&wire, now).await,
        Err(StoreError::SourceExists(name)) if name == "wire"
    ));
    // An upsert from the config keeps the token and language it does not name.
    let mut from_config = source("wire", SourceKind::Poll);
    from_config.url = Some("https://wire.test/v2".into());
    from_config.every_seconds = 120;
    from_config.notice = Some("Via {source}".into());
    store.upsert_source(&from_config, at(1)).await?;
    store
        .upsert_source(&source("inbox", SourceKind::Inbox), at(1))
        .await?;
    let got = store.source("wire").await?.ok_or_else(|| missing("wire"))?;
    assert_eq!(got.url.as_deref(), Some("https://wire.test/v2"));
    assert_eq!(got.every_seconds, 120);
    assert_eq!(got.notice.as_deref(), Some("Via {source}"));
    assert_eq!(got.push_token_sha256.as_deref(), Some("token-hash"));
    assert_eq!(got.language.as_deref(), Some("en"));
    assert_eq!(got.next_due, Some(now));
    assert!(!got.paused);

    assert!(store.set_paused("wire", true).await?);
    assert!(!store.set_paused("nope", true).await?);
    assert!(store.set_push_hmac_secret("wire", Some("s3cret")).await?);
    assert!(!store.set_push_hmac_secret("nope", None).await?);
    assert!(store.set_source_language("wire", Some("de")).await?);
    assert!(!store.set_source_language("nope", None).await?);

    // A success keeps validators; an error counts and keeps the last ones.
    store
        .record_fetch(
            "wire",
            &FetchRecord {
                at: at(10),
                status: Some(200),
                etag: Some("\"v1\"".into()),
                last_modified: Some("Mon, 01 Jan 2024 00:00:00 GMT".into()),
                next_due: Some(at(70)),
                node: Some("node-a".into()),
                ..FetchRecord::default()
            },
        )
        .await?;
    store
        .record_fetch(
            "wire",
            &FetchRecord {
                at: at(70),
                status: Some(503),
                error: Some("HTTP 503".into()),
                next_due: Some(at(130)),
                ..FetchRecord::default()
            },
        )
        .await?;
    let got = store.source("wire").await?.ok_or_else(|| missing("wire"))?;
    assert!(got.paused);
    assert_eq!(got.push_hmac_secret.as_deref(), Some("s3cret"));
    assert_eq!(got.language.as_deref(), Some("de"));
    assert_eq!(got.etag.as_deref(), Some("\"v1\""));
    assert_eq!(
        got.last_modified.as_deref(),
        Some("Mon, 01 Jan 2024 00:00:00 GMT")
    );
    assert_eq!(
        (got.last_attempt, got.last_success),
        (Some(at(70)), Some(at(10)))
    );
    assert_eq!(
        (got.last_status, got.last_error.as_deref()),
        (Some(503), Some("HTTP 503"))
    );
    assert_eq!(got.consecutive_errors, 1);
    assert_eq!(got.next_due, Some(at(130)));
    assert_eq!(
        got.last_node.as_deref(),
        Some("node-a"),
        "kept when not given"
    );
    assert!(matches!(
        store.record_fetch("nope", &FetchRecord::default()).await,
        Err(StoreError::NoSuchSource(_))
    ));

    let names: Vec<String> = store.sources().await?.into_iter().map(|s| s.name).collect();
    assert_eq!(names, vec!["inbox", "wire"]);
    assert!(store.remove_source("wire").await?);
    assert!(!store.remove_source("wire").await?);
    assert!(store.source("wire").await?.is_none());
    assert_eq!(store.counts().await?.sources, 1);
    Ok(())
}

/// Ids, names and sections order as bytes (SQLite's BINARY), whatever the database's locale:
/// upper case before `_` before lower case, `é` after `z`.
async fn names_and_sections_order_bytewise(db: Db) -> TestResult {
    let store = db.open().await?;
    for name in ["a", "B", "_x", "Z", "é"] {
        store
            .add_source(&source(name, SourceKind::Push), at(0))
            .await?;
    }
    let names: Vec<String> = store.sources().await?.into_iter().map(|s| s.name).collect();
    assert_eq!(names, vec!["B", "Z", "_x", "a", "é"]);
    let mut version = new_version(item("g", "Headline", Some(1), Pubstatus::Usable));
    version.sections = vec!["world".into(), "Sport".into(), "_misc".into()];
    let committed = store.commit(&version, at(0)).await?;
    let sections: Vec<String> = store
        .sections()
        .await?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(sections, vec!["Sport", "_misc", "world"]);
    let story = store
        .story(&committed.id)
        .await?
        .ok_or_else(|| missing(&committed.id))?;
    assert_eq!(story.sections, vec!["Sport", "_misc", "world"]);
    // Lease prefixes compare bytes too.
    for name in ["poll:a", "poll:B", "pollx", "Poll:c"] {
        assert!(store.acquire_lease(name, "n", at(0), at(60)).await?);
    }
    let leases: Vec<String> = store
        .leases("poll:", at(0))
        .await?
        .into_iter()
        .map(|lease| lease.name)
        .collect();
    assert_eq!(leases, vec!["poll:B", "poll:a"]);
    Ok(())
}

async fn settings_are_kept(db: Db) -> TestResult {
    let store = db.open().await?;
    assert_eq!(store.setting("admin").await?, None);
    store.set_setting("admin", "one").await?;
    store.set_setting("admin", "two").await?;
    assert_eq!(store.setting("admin").await?.as_deref(), Some("two"));
    // Another process sees it.
    let other = db.open().await?;
    assert_eq!(other.setting("admin").await?.as_deref(), Some("two"));
    Ok(())
}

async fn websub_subscriptions_are_kept_and_counted(db: Db) -> TestResult {
    let store = db.open().await?;
    store
        .add_source(&source("feed", SourceKind::Poll), at(0))
        .await?;
    let mut subscription = Subscription {
        source: "feed".into(),
        hub: "https://hub.test/".into(),
        topic: "https://feed.test/rss".into(),
        secret: "secret".into(),
        state: SubscriptionState::Requested,
        requested_at: at(0),
        lease_seconds: None,
        lease_until: None,
        last_error: None,
        deliveries: 0,
        last_delivery: None,
    };
    store.put_subscription(&subscription).await?;
    store.record_delivery("feed", at(5)).await?;
    subscription.state = SubscriptionState::Active;
    subscription.lease_seconds = Some(3600);
    subscription.lease_until = Some(at(3600));
    store.put_subscription(&subscription).await?;
    store.record_delivery("feed", at(6)).await?;
    let got = store
        .subscription("feed")
        .await?
        .ok_or_else(|| missing("subscription"))?;
    assert_eq!(got.state, SubscriptionState::Active);
    assert_eq!(got.deliveries, 2, "replacing keeps the count");
    assert_eq!(got.last_delivery, Some(at(6)));
    assert_eq!(got.lease_until, Some(at(3600)));
    assert!(got.is_live(at(10)));
    assert_eq!(store.subscriptions().await?.len(), 1);
    // Forgetting the source forgets its subscription.
    store.remove_source("feed").await?;
    assert!(store.subscription("feed").await?.is_none());
    Ok(())
}

fn raw(sha256: &str, received: i64) -> RawRecord {
    RawRecord {
        sha256: sha256.into(),
        source: "agency".into(),
        origin: "https://agency.test/feed".into(),
        received_at: at(received),
        size: 42,
        content_type: Some("application/rss+xml".into()),
        http_status: Some(200),
        etag: None,
        last_modified: None,
    }
}

async fn raw_payloads_are_recorded_and_finished(db: Db) -> TestResult {
    let store = db.open().await?;
    assert!(store.record_raw(&raw("aa", 1)).await?);
    assert!(!store.record_raw(&raw("aa", 1)).await?, "recorded once");
    store.record_raw(&raw("bb", 2)).await?;
    store.record_raw(&raw("cc", 3)).await?;
    let pending: Vec<String> = store
        .pending_raw()
        .await?
        .into_iter()
        .map(|raw| raw.sha256)
        .collect();
    assert_eq!(pending, vec!["aa", "bb", "cc"]);
    store.finish_raw("aa", None).await?;
    store.finish_raw("bb", Some("no root element")).await?;
    let got = store.raw("bb").await?.ok_or_else(|| missing("bb"))?;
    assert_eq!(got.received_at, at(2));
    assert_eq!(got.http_status, Some(200));
    let failed = store.failed_payloads(10).await?;
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0].error.as_str(), failed[0].state.as_str()),
        ("no root element", "failed")
    );
    assert_eq!(store.pending_raw().await?.len(), 1);
    let counts = store.counts().await?;
    assert_eq!((counts.raw_payloads, counts.raw_failed), (3, 1));
    Ok(())
}

async fn raw_bytes_are_kept_once(db: Db) -> TestResult {
    let store = db.open().await?;
    let bytes: Vec<u8> = (0..=255u8).chain([0, 0, 255]).collect();
    assert_eq!(store.raw_bytes("abc").await?, None);
    store.put_raw_bytes("abc", &bytes).await?;
    store.put_raw_bytes("abc", b"other").await?;
    assert_eq!(
        store.raw_bytes("abc").await?,
        Some(bytes),
        "the first bytes stay"
    );
    store.put_raw_bytes("empty", b"").await?;
    assert_eq!(store.raw_bytes("empty").await?, Some(Vec::new()));
    let other = db.open().await?;
    assert!(other.raw_bytes("abc").await?.is_some());
    Ok(())
}

async fn leases_are_held_by_one_node_at_a_time(db: Db) -> TestResult {
    let a = db.open().await?;
    let b = db.open().await?;
    assert!(a.acquire_lease("poll:wire", "a", at(0), at(30)).await?);
    assert!(!b.acquire_lease("poll:wire", "b", at(10), at(40)).await?);
    assert!(
        a.acquire_lease("poll:wire", "a", at(10), at(40)).await?,
        "renewed"
    );
    // Held until `until` inclusive; taken over once expired.
    assert!(!b.acquire_lease("poll:wire", "b", at(40), at(70)).await?);
    assert!(b.acquire_lease("poll:wire", "b", at(41), at(70)).await?);
    assert!(!a.acquire_lease("poll:wire", "a", at(42), at(72)).await?);

    assert!(a.acquire_lease("poll:other", "a", at(42), at(60)).await?);
    assert!(a.acquire_lease("poll:old", "a", at(0), at(5)).await?);
    assert!(a.acquire_lease("cluster", "a", at(42), at(60)).await?);
    let mut renewed = a.renew_leases("a", "poll:", at(50), at(90)).await?;
    renewed.sort();
    assert_eq!(
        renewed,
        vec!["poll:other"],
        "not expired ones, not others' ones"
    );
    let listed = b.leases("poll:", at(50)).await?;
    let listed: Vec<(String, String, DateTime<Utc>)> = listed
        .into_iter()
        .map(|lease| (lease.name, lease.node, lease.until))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("poll:other".to_string(), "a".to_string(), at(90)),
            ("poll:wire".to_string(), "b".to_string(), at(70)),
        ]
    );
    assert_eq!(b.leases("", at(50)).await?.len(), 3);

    // Only the holder gives a lease up.
    a.release_lease("poll:wire", "a").await?;
    assert!(!a.acquire_lease("poll:wire", "a", at(50), at(80)).await?);
    b.release_lease("poll:wire", "b").await?;
    assert!(a.acquire_lease("poll:wire", "a", at(50), at(80)).await?);

    // Many nodes racing for one free lease: exactly one wins.
    let stores: Vec<Arc<dyn Store>> = vec![a.clone(), b.clone(), db.open().await?];
    let mut tasks = Vec::new();
    for (index, store) in stores.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut won = 0;
            for round in 0..20 {
                let name = format!("race:{round}");
                if store
                    .acquire_lease(&name, &format!("n{index}"), at(0), at(60))
                    .await?
                {
                    won += 1;
                }
            }
            Ok::<_, StoreError>(won)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    assert_eq!(total, 20);
    Ok(())
}

async fn versions_updates_and_kills(db: Db) -> TestResult {
    let store = db.open().await?;
    let now = Utc::now();
    let first = store
        .commit(
            &new_version(item("g", "One", Some(1), Pubstatus::Usable)),
            now,
        )
        .await?;
    assert_eq!(
        (first.kind, first.state),
        (CommitKind::New, StoryState::Published)
    );
    let again = store
        .commit(
            &new_version(item("g", "One", Some(1), Pubstatus::Usable)),
            now,
        )
        .await?;
    assert_eq!(again.kind, CommitKind::Unchanged);
    let update = store
        .commit(
            &new_version(item("g", "Two", Some(2), Pubstatus::Usable)),
            now,
        )
        .await?;
    assert_eq!(update.kind, CommitKind::Version);
    // An older version arriving late never becomes current.
    let late = store
        .commit(
            &new_version(item("g", "Zero", Some(0), Pubstatus::Usable)),
            now,
        )
        .await?;
    assert_eq!(late.kind, CommitKind::Version);
    let story = store
        .story(&first.id)
        .await?
        .ok_or_else(|| missing(&first.id))?;
    assert_eq!(
        story.current.map(|version| version.item.headline),
        Some("Two".to_string())
    );
    let page = store
        .list(&ListQuery {
            limit: 10,
            ..ListQuery::default()
        })
        .await?;
    assert_eq!(page.stories.len(), 1);
    let kill = store
        .commit(
            &new_version(item("g", "Two", Some(3), Pubstatus::Canceled)),
            now,
        )
        .await?;
    assert_eq!(kill.state, StoryState::Canceled);
    let page = store
        .list(&ListQuery {
            limit: 10,
            ..ListQuery::default()
        })
        .await?;
    assert!(page.stories.is_empty());
    let versions = store.versions(&first.id).await?;
    assert_eq!(versions.len(), 4);
    assert!(
        versions.windows(2).all(|pair| pair[0].seq < pair[1].seq),
        "arrival order"
    );
    let counts = store.counts().await?;
    assert_eq!(
        (counts.stories, counts.published, counts.versions),
        (1, 0, 4)
    );
    Ok(())
}

async fn one_agency_story_through_two_feeds_is_one_story_in_both_sections(db: Db) -> TestResult {
    let store = db.open().await?;
    let now = Utc::now();
    let through = |source: &str, section: &str, headline: &str| {
        let mut item = item("urn:agency:1", headline, Some(1), Pubstatus::Usable);
        item.source = source.into();
        NewVersion {
            sections: vec![section.to_string()],
            ..NewVersion::plain(item)
        }
    };
    let world = store
        .commit(&through("world", "world", "Quake"), now)
        .await?;
    let europe = store
        .commit(&through("europe", "europe", "Quake"), now)
        .await?;
    assert_eq!(europe.folded_into.as_deref(), Some(world.id.as_str()));
    assert_eq!(europe.kind, CommitKind::Unchanged, "the same version");
    let story = store
        .story(&world.id)
        .await?
        .ok_or_else(|| missing(&world.id))?;
    assert_eq!(story.sections, vec!["europe", "world"]);
    // An update through the second feed updates the one story.
    let mut update = through("europe", "europe", "Quake: toll rises");
    update.item.version = Some(2);
    let updated = store.commit(&update, now).await?;
    assert_eq!(
        (updated.id.as_str(), updated.kind),
        (world.id.as_str(), CommitKind::Version)
    );
    // Another agency's story with the same guid but other text is never merged.
    let other = store
        .commit(&through("rival", "world", "Different text"), now)
        .await?;
    assert_eq!(other.folded_into, None);
    assert_ne!(other.id, world.id);
    let listed = store
        .list(&ListQuery {
            section: Some("europe".into()),
            limit: 10,
            ..ListQuery::default()
        })
        .await?;
    assert_eq!(listed.stories.len(), 1);
    assert_eq!(
        store.sections().await?,
        vec![("europe".to_string(), 1), ("world".to_string(), 2)]
    );
    Ok(())
}

async fn held_versions_are_released_or_dropped_by_the_operator(db: Db) -> TestResult {
    let store = db.open().await?;
    let now = Utc::now();
    let held = |guid: &str| NewVersion {
        hold_reasons: vec!["teaser only".into()],
        ..NewVersion::plain(item(guid, guid, Some(1), Pubstatus::Usable))
    };
    let a = store.commit(&held("a"), now).await?;
    let b = store.commit(&held("b"), now).await?;
    assert_eq!(a.state, StoryState::Held);
    assert_eq!(store.held(10).await?.len(), 2);
    let queue = store.held_story(&a.id).await?;
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].version.hold_reasons, vec!["teaser only"]);
    assert_eq!(store.counts().await?.held_queue, 2);
    let (count, state) = store
        .review_held(&a.id, Review::Released, "desk", now)
        .await?;
    assert_eq!((count, state), (1, StoryState::Published));
    let (count, state) = store
        .review_held(&b.id, Review::Dropped, "desk", now)
        .await?;
    assert_eq!((count, state), (1, StoryState::Held));
    assert!(store.held(10).await?.is_empty());
    let counts = store.counts().await?;
    assert_eq!((counts.held, counts.held_queue), (2, 0));
    let versions = store.versions(&b.id).await?;
    assert_eq!(versions[0].review.as_deref(), Some("dropped"));
    // Deciding twice changes nothing.
    assert_eq!(
        store
            .review_held(&a.id, Review::Dropped, "desk", now)
            .await?
            .0,
        0
    );
    assert!(matches!(
        store
            .review_held("nope", Review::Released, "desk", now)
            .await,
        Err(StoreError::NotFound(_))
    ));
    Ok(())
}

async fn listing_pages_with_a_cursor_and_searches(db: Db) -> TestResult {
    let store = db.open().await?;
    let now = at(0);
    for index in 0..5 {
        let mut entry = item(
            &format!("g{index}"),
            &format!("Story {index}"),
            None,
            Pubstatus::Usable,
        );
        entry.received_at = Some(now + Duration::seconds(index));
        if index == 3 {
            entry.source = "other".into();
            entry.body_text = "Ärger in Zürich".into();
        }
        store.commit(&new_version(entry), now).await?;
    }
    let first = store
        .list(&ListQuery {
            limit: 2,
            ..ListQuery::default()
        })
        .await?;
    let headlines: Vec<String> = first
        .stories
        .iter()
        .filter_map(|story| {
            story
                .current
                .as_ref()
                .map(|version| version.item.headline.clone())
        })
        .collect();
    assert_eq!(headlines, vec!["Story 4", "Story 3"]);
    let second = store
        .list(&ListQuery {
            limit: 2,
            cursor: first.next.clone(),
            ..ListQuery::default()
        })
        .await?;
    let guids: Vec<&str> = second.stories.iter().map(|s| s.guid.as_str()).collect();
    assert_eq!(guids, vec!["g2", "g1"]);
    let third = store
        .list(&ListQuery {
            limit: 2,
            cursor: second.next.clone(),
            ..ListQuery::default()
        })
        .await?;
    assert_eq!(third.stories.len(), 1);
    assert_eq!(third.next, None);
    let found = store
        .list(&ListQuery {
            limit: 10,
            q: Some("STORY 1".into()),
            ..ListQuery::default()
        })
        .await?;
    assert_eq!(
        found.stories.len(),
        1,
        "query words are ANDed, ASCII case folded"
    );
    let body = store
        .list(&ListQuery {
            limit: 10,
            q: Some("zürich".into()),
            ..ListQuery::default()
        })
        .await?;
    assert_eq!(body.stories.len(), 1, "the body is searched too");
    let by_source = store
        .list(&ListQuery {
            limit: 10,
            source: Some("other".into()),
            ..ListQuery::default()
        })
        .await?;
    assert_eq!(by_source.stories.len(), 1);
    let since = store
        .list(&ListQuery {
            limit: 10,
            since: Some(now + Duration::seconds(3)),
            ..ListQuery::default()
        })
        .await?;
    assert_eq!(since.stories.len(), 2);
    assert!(matches!(
        store
            .list(&ListQuery {
                limit: 10,
                cursor: Some("zz".into()),
                ..ListQuery::default()
            })
            .await,
        Err(StoreError::Corrupt(_))
    ));
    Ok(())
}

async fn changes_gone_stories_and_published_ids(db: Db) -> TestResult {
    let store = db.open().await?;
    assert_eq!(store.last_change().await?, None);
    let a = store
        .commit(
            &new_version(item("a", "A", Some(1), Pubstatus::Usable)),
            at(0),
        )
        .await?;
    let b = store
        .commit(
            &new_version(item("b", "B", Some(1), Pubstatus::Usable)),
            at(1),
        )
        .await?;
    let held = NewVersion {
        hold_reasons: vec!["language".into()],
        ..new_version(item("c", "C", Some(1), Pubstatus::Usable))
    };
    let c = store.commit(&held, at(2)).await?;
    store
        .commit(
            &new_version(item("a", "A", Some(2), Pubstatus::Canceled)),
            at(3),
        )
        .await?;
    store
        .commit(
            &new_version(item("b", "B", Some(2), Pubstatus::Withheld)),
            at(4),
        )
        .await?;
    assert_eq!(store.last_change().await?, Some(at(4)));
    let gone: Vec<(String, StoryState)> = store
        .gone(None, 10)
        .await?
        .into_iter()
        .map(|gone| (gone.id, gone.state))
        .collect();
    assert_eq!(
        gone,
        vec![
            (b.id.clone(), StoryState::Withheld),
            (a.id.clone(), StoryState::Canceled)
        ]
    );
    assert_eq!(store.gone(Some(at(4)), 10).await?.len(), 1);
    let changed: Vec<String> = store
        .changed_stories(at(2), 10)
        .await?
        .into_iter()
        .map(|story| story.id)
        .collect();
    assert_eq!(changed, vec![c.id.clone(), a.id.clone(), b.id.clone()]);
    let held_story = store.story(&c.id).await?.ok_or_else(|| missing(&c.id))?;
    assert_eq!(held_story.state, StoryState::Held);
    assert!(held_story.current.is_none());
    // A withheld story comes back with a later usable version.
    store
        .commit(
            &new_version(item("b", "B", Some(3), Pubstatus::Usable)),
            at(5),
        )
        .await?;
    let ids = store.published_ids(0, 10).await?;
    assert_eq!(ids, vec![(b.id.clone(), at(5))]);
    assert!(store.published_ids(1, 10).await?.is_empty());
    Ok(())
}

async fn clusters_links_and_stamps(db: Db) -> TestResult {
    let store = db.open().await?;
    let mut ids = Vec::new();
    for (index, guid) in ["x", "y", "z"].into_iter().enumerate() {
        let mut entry = item(guid, &format!("Event {guid}"), Some(1), Pubstatus::Usable);
        entry.received_at = Some(at(index as i64));
        entry.language = Some("en".into());
        ids.push(store.commit(&new_version(entry), at(10)).await?.id);
    }
    let before = store.change_token().await?;
    store
        .set_clusters(&[assignment(&ids[0], 7, &[1, 2, 3], at(0))])
        .await?;
    // Several at once, in order: the later assignment of a story wins.
    store
        .set_clusters(&[
            assignment(&ids[1], 7, &[4, 5, 6], at(1)),
            assignment(&ids[2], 8, &[0, 255], at(2)),
            assignment(&ids[2], 8, &[9], at(2)),
        ])
        .await?;
    store.set_clusters(&[]).await?;
    let after = store.change_token().await?;
    assert_ne!(
        before, after,
        "a page shows its cluster, so clustering moves the change token"
    );
    let story = store.story(&ids[0]).await?.ok_or_else(|| missing("x"))?;
    assert_eq!(story.cluster_id, Some(7));
    assert_eq!(story.changed_at, at(10), "clustering is not a change");
    let signatures = store.cluster_signatures(at(1)).await?;
    assert_eq!(
        signatures,
        vec![
            (ids[1].clone(), 7, vec![4, 5, 6], at(1)),
            (ids[2].clone(), 8, vec![9], at(2)),
        ]
    );
    store
        .set_headline_override(
            &ids[1],
            Some(&HeadlineOverride {
                headline: "Desk headline".into(),
                set_by: "desk".into(),
                set_at: at(20),
            }),
            at(20),
        )
        .await?;
    let links = store.cluster_links(7, 10).await?;
    let links: Vec<(String, String, Option<String>)> = links
        .into_iter()
        .map(|link| (link.id, link.headline, link.language))
        .collect();
    assert_eq!(
        links,
        vec![
            (ids[1].clone(), "Desk headline".into(), Some("en".into())),
            (ids[0].clone(), "Event x".into(), Some("en".into())),
        ]
    );
    let members: Vec<String> = store
        .cluster_members(7, 10)
        .await?
        .into_iter()
        .map(|story| story.id)
        .collect();
    assert_eq!(members, vec![ids[1].clone(), ids[0].clone()]);
    // A kill unlinks at once.
    store
        .commit(
            &new_version(item("y", "Event y", Some(2), Pubstatus::Canceled)),
            at(30),
        )
        .await?;
    assert_eq!(store.cluster_links(7, 10).await?.len(), 1);
    Ok(())
}

async fn headline_overrides_provenance_and_desk_reads(db: Db) -> TestResult {
    let store = db.open().await?;
    let mut entry = item("g", "Agency headline", Some(1), Pubstatus::Usable);
    entry.body_text = "twelve chars".into();
    entry.received_at = Some(at(0));
    let mut version = new_version(entry);
    version.provenance = Some("{\"v\":1}".into());
    version.signature = Some("sig".into());
    version.link_only = true;
    let committed = store.commit(&version, at(0)).await?;
    let override_ = HeadlineOverride {
        headline: "Desk".into(),
        set_by: "editor".into(),
        set_at: at(5),
    };
    store
        .set_headline_override(&committed.id, Some(&override_), at(5))
        .await?;
    let story = store
        .story(&committed.id)
        .await?
        .ok_or_else(|| missing(&committed.id))?;
    assert_eq!(story.headline_override, Some(override_));
    assert_eq!(story.changed_at, at(5));
    let current = story.current.ok_or_else(|| missing("current"))?;
    assert!(current.link_only);
    assert_eq!(current.provenance.as_deref(), Some("{\"v\":1}"));
    store
        .update_provenance(current.seq, "{\"v\":2}", "sig2")
        .await?;
    store
        .set_headline_override(&committed.id, None, at(6))
        .await?;
    let story = store
        .story(&committed.id)
        .await?
        .ok_or_else(|| missing(&committed.id))?;
    assert_eq!(story.headline_override, None);
    let current = story.current.ok_or_else(|| missing("current"))?;
    assert_eq!(
        (current.provenance.as_deref(), current.signature.as_deref()),
        (Some("{\"v\":2}"), Some("sig2"))
    );
    assert_eq!(store.source_body_lengths("agency", 10).await?, vec![12]);
    assert!(store.source_body_lengths("nobody", 10).await?.is_empty());
    let recent = store.recent_versions(10).await?;
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].story_state, StoryState::Published);
    let items = store.items_since(at(0)).await?;
    assert_eq!(items.get("agency"), Some(&1));
    assert!(store.items_since(at(1)).await?.is_empty());
    for seconds in [0, 59, 60, 61, 125] {
        let mut entry = item(
            &format!("rate{seconds}"),
            "Rate",
            Some(1),
            Pubstatus::Usable,
        );
        entry.received_at = Some(at(seconds));
        store.commit(&new_version(entry), at(seconds)).await?;
    }
    let rate = store.ingest_rate(at(0), 60).await?;
    let counts: Vec<i64> = rate.iter().map(|(_, n)| *n).collect();
    assert_eq!(counts.iter().sum::<i64>(), 6);
    assert!(rate.windows(2).all(|pair| pair[0].0 < pair[1].0));
    assert!(rate.iter().all(|(start, _)| start.timestamp() % 60 == 0));
    store.record_audit(at(100), 10, 1).await?;
    store.record_audit(at(200), 12, 0).await?;
    assert_eq!(store.counts().await?.last_audit, Some((at(200), 12, 0)));
    Ok(())
}

fn embargoed(index: usize, until: DateTime<Utc>) -> NewVersion {
    let mut version = new_version(item(
        &format!("embargoed-{index}"),
        &format!("Story {index}"),
        None,
        Pubstatus::Usable,
    ));
    version.embargoed_until = Some(until);
    version
}

async fn two_stores_on_one_database_release_each_embargo_once(db: Db) -> TestResult {
    let first = db.open().await?;
    let second = db.open().await?;
    let now = Utc::now();
    let until = now + Duration::seconds(5);
    for index in 0..40 {
        let committed = first.commit(&embargoed(index, until), now).await?;
        assert_eq!(committed.state, StoryState::Embargoed);
    }
    assert!(first.release_due(now).await?.is_empty());
    let later = until + Duration::seconds(1);
    let (mine, theirs) = tokio::join!(first.release_due(later), second.release_due(later));
    let (mine, theirs) = (mine?, theirs?);
    assert_eq!(
        mine.len() + theirs.len(),
        40,
        "{} + {}",
        mine.len(),
        theirs.len()
    );
    assert!(mine.iter().all(|id| !theirs.contains(id)));
    assert!(first.release_due(later).await?.is_empty());
    assert_eq!(first.counts().await?.published, 40);
    Ok(())
}

async fn three_concurrent_stores_release_each_embargo_exactly_once(db: Db) -> TestResult {
    let writer = db.open().await?;
    let now = Utc::now();
    let until = now + Duration::seconds(5);
    for index in 0..60 {
        writer.commit(&embargoed(index, until), now).await?;
    }
    let later = until + Duration::seconds(1);
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let store = db.open().await?;
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            // Each node ticks a few times, as serve's loop does.
            for _ in 0..3 {
                mine.extend(store.release_due(later).await?);
            }
            Ok::<_, StoreError>(mine)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 60, "each released exactly once");
    assert_eq!(distinct.len(), 60);
    assert_eq!(writer.counts().await?.published, 60);
    Ok(())
}

async fn two_stores_committing_one_story_store_each_version_once(db: Db) -> TestResult {
    let stores = [db.open().await?, db.open().await?];
    let now = Utc::now();
    let mut tasks = Vec::new();
    for store in stores {
        tasks.push(tokio::spawn(async move {
            let mut kinds = Vec::new();
            for version in 1..=15u64 {
                // The same versions through one feed, and the same copy through another.
                let own = new_version(item(
                    "shared",
                    &format!("Version {version}"),
                    Some(version),
                    Pubstatus::Usable,
                ));
                kinds.push(store.commit(&own, now).await?.kind);
                let mut other = own.clone();
                other.item.source = "second-feed".into();
                kinds.push(store.commit(&other, now).await?.kind);
            }
            Ok::<_, StoreError>(kinds)
        }));
    }
    let mut kinds = Vec::new();
    for task in tasks {
        kinds.extend(task.await??);
    }
    let count = |kind: CommitKind| kinds.iter().filter(|k| **k == kind).count();
    assert_eq!(count(CommitKind::New), 1, "{kinds:?}");
    assert_eq!(count(CommitKind::New) + count(CommitKind::Version), 15);
    let counts = stores_counts(&db).await?;
    assert_eq!(
        (counts.0, counts.1),
        (1, 15),
        "one story, each version once"
    );
    Ok(())
}

async fn a_batch_commits_as_its_versions_would_one_by_one(db: Db) -> TestResult {
    let store = db.open().await?;
    let now = Utc::now();
    let version = |guid: &str, headline: &str, number: u64, pubstatus: Pubstatus| {
        new_version(item(guid, headline, Some(number), pubstatus))
    };
    let mut second_feed = version("b", "B", 1, Pubstatus::Usable);
    second_feed.item.source = "second-feed".into();
    let mut batch = vec![
        version("a", "A", 1, Pubstatus::Usable),
        version("a", "A, updated", 2, Pubstatus::Usable),
        version("b", "B", 1, Pubstatus::Usable),
        // The same version again, and the same copy through another feed: nothing new.
        version("a", "A, updated", 2, Pubstatus::Usable),
        second_feed,
        version("c", "C", 1, Pubstatus::Usable),
        version("c", "C", 2, Pubstatus::Canceled),
    ];
    // More than one transaction's worth.
    batch.extend((0..verbatim_store::COMMIT_BATCH + 5).map(|n| {
        version(
            &format!("bulk-{n}"),
            &format!("Bulk {n}"),
            1,
            Pubstatus::Usable,
        )
    }));
    let outcomes = store.commit_all(&batch, now).await?;
    assert_eq!(outcomes.len(), batch.len());
    let kinds: Vec<CommitKind> = outcomes.iter().take(7).map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [
            CommitKind::New,
            CommitKind::Version,
            CommitKind::New,
            CommitKind::Unchanged,
            CommitKind::Unchanged,
            CommitKind::New,
            CommitKind::Version,
        ]
    );
    assert_eq!(
        outcomes[4].folded_into.as_deref(),
        Some(outcomes[2].id.as_str())
    );
    assert_eq!(outcomes[1].state, StoryState::Published);
    assert_eq!(outcomes[6].state, StoryState::Canceled);
    assert!(
        outcomes
            .iter()
            .skip(7)
            .all(|c| c.kind == CommitKind::New && c.state == StoryState::Published)
    );
    let a = store
        .story(&outcomes[0].id)
        .await?
        .ok_or_else(|| missing("a"))?;
    let current = a.current.ok_or_else(|| missing("a's version"))?;
    assert_eq!(current.item.headline, "A, updated");
    assert_eq!(
        stores_counts(&db).await?,
        (
            3 + verbatim_store::COMMIT_BATCH as i64 + 5,
            5 + verbatim_store::COMMIT_BATCH as i64 + 5
        )
    );
    // An empty batch is no transaction and no outcome.
    assert!(store.commit_all(&[], now).await?.is_empty());
    Ok(())
}

async fn two_stores_committing_batches_in_opposite_orders_both_finish(db: Db) -> TestResult {
    let stores = [db.open().await?, db.open().await?];
    let now = Utc::now();
    let mut tasks = Vec::new();
    for (number, store) in stores.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut kinds = Vec::new();
            for round in 1..=10u64 {
                let mut batch: Vec<NewVersion> = (0..20)
                    .map(|n| {
                        new_version(item(
                            &format!("shared-{n}"),
                            &format!("Story {n}, version {round}"),
                            Some(round),
                            Pubstatus::Usable,
                        ))
                    })
                    .collect();
                if number == 1 {
                    batch.reverse();
                }
                for committed in store.commit_all(&batch, now).await? {
                    kinds.push(committed.kind);
                }
            }
            Ok::<_, StoreError>(kinds)
        }));
    }
    let mut kinds = Vec::new();
    for task in tasks {
        let finished = tokio::time::timeout(std::time::Duration::from_secs(60), task).await?;
        kinds.extend(finished??);
    }
    let count = |kind: CommitKind| kinds.iter().filter(|k| **k == kind).count();
    assert_eq!(count(CommitKind::New), 20, "each story created once");
    assert_eq!(count(CommitKind::New) + count(CommitKind::Version), 200);
    assert_eq!(stores_counts(&db).await?, (20, 200), "each version once");
    Ok(())
}

async fn stores_counts(db: &Db) -> Result<(i64, i64), StoreError> {
    let counts = db.open().await?.counts().await?;
    Ok((counts.stories, counts.versions))
}

async fn webhook_events_deliveries_and_the_log(db: Db) -> TestResult {
    let store = db.open().await?;
    let endpoints = vec!["hook-a".to_string(), "hook-b".to_string()];
    assert!(
        store
            .add_webhook_event("s1", at(0), "publish", "{}", &endpoints, at(0))
            .await?
    );
    assert!(
        !store
            .add_webhook_event("s1", at(0), "publish", "{}", &endpoints, at(1))
            .await?,
        "one event per change"
    );
    assert!(
        store
            .add_webhook_event("s1", at(5), "kill", "{\"k\":1}", &endpoints, at(5))
            .await?
    );
    assert_eq!(
        store.last_webhook_event("s1").await?.as_deref(),
        Some("kill")
    );
    assert_eq!(store.last_webhook_event("s2").await?, None);

    let due = store.due_webhook_deliveries(at(1), at(61), 10).await?;
    let keys: Vec<(String, &str)> = due
        .iter()
        .map(|d| (d.endpoint.clone(), d.kind.as_str()))
        .collect();
    assert_eq!(
        keys,
        vec![("hook-a".into(), "publish"), ("hook-b".into(), "publish")]
    );
    assert_eq!(due[0].next_attempt, at(0), "as it was before the claim");
    assert_eq!(due[0].state, "pending");
    assert!(
        store
            .due_webhook_deliveries(at(30), at(90), 10)
            .await?
            .len()
            == 2,
        "only the kill's, the publish ones are claimed"
    );
    // A node that died mid-delivery: sent again after the claim ran out.
    let again = store.due_webhook_deliveries(at(61), at(121), 10).await?;
    assert_eq!(again.len(), 2);
    let publish = &again[0];
    store
        .record_webhook_attempt(
            publish.event_id,
            &publish.endpoint,
            "delivered",
            Some(200),
            None,
            at(62),
            at(62),
        )
        .await?;
    store
        .record_webhook_attempt(
            again[1].event_id,
            &again[1].endpoint,
            "pending",
            Some(500),
            Some("HTTP 500"),
            at(200),
            at(62),
        )
        .await?;
    let log = store.webhook_log(10).await?;
    assert_eq!(log.len(), 4);
    assert_eq!(log[0].kind, "kill", "newest first");
    let delivered = log
        .iter()
        .find(|d| d.event_id == publish.event_id && d.endpoint == publish.endpoint)
        .ok_or_else(|| missing("delivery"))?;
    assert_eq!(
        (
            delivered.state.as_str(),
            delivered.attempts,
            delivered.delivered_at
        ),
        ("delivered", 1, Some(at(62)))
    );
    let retried = log
        .iter()
        .find(|d| d.event_id == again[1].event_id && d.endpoint == again[1].endpoint)
        .ok_or_else(|| missing("delivery"))?;
    assert_eq!(
        (
            retried.state.as_str(),
            retried.last_status,
            retried.last_error.as_deref(),
            retried.next_attempt,
            retried.delivered_at,
        ),
        ("pending", Some(500), Some("HTTP 500"), at(200), None)
    );
    assert_eq!(retried.payload, "{}");
    Ok(())
}

async fn two_stores_never_claim_the_same_webhook_delivery(db: Db) -> TestResult {
    let writer = db.open().await?;
    let endpoints: Vec<String> = (0..3).map(|n| format!("hook-{n}")).collect();
    for index in 0..40 {
        writer
            .add_webhook_event(
                &format!("story-{index}"),
                at(index),
                "publish",
                "{}",
                &endpoints,
                at(index),
            )
            .await?;
    }
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let store = db.open().await?;
        tasks.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            loop {
                let batch = store.due_webhook_deliveries(at(100), at(1000), 7).await?;
                if batch.is_empty() {
                    break;
                }
                claimed.extend(
                    batch
                        .into_iter()
                        .map(|delivery| (delivery.event_id, delivery.endpoint)),
                );
            }
            Ok::<_, StoreError>(claimed)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    let distinct: HashSet<&(i64, String)> = all.iter().collect();
    assert_eq!(all.len(), 120, "every delivery claimed");
    assert_eq!(distinct.len(), 120, "none claimed twice");
    Ok(())
}

/// Several nodes starting together on a fresh database: one migrates, the others wait for it.
async fn three_stores_opening_a_fresh_database_at_once_all_migrate(db: Db) -> TestResult {
    let Some(url) = db.postgres_url() else {
        // SQLite: one file, one process opening it at a time is the supported case.
        db.open().await?;
        return Ok(());
    };
    let (a, b, c) = tokio::join!(
        PostgresStore::open_url(url),
        PostgresStore::open_url(url),
        PostgresStore::open_url(url)
    );
    let (a, b, c) = (a?, b?, c?);
    a.set_setting("k", "v").await?;
    assert_eq!(b.setting("k").await?.as_deref(), Some("v"));
    assert_eq!(c.counts().await?.stories, 0);
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(a.pool())
        .await?;
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))?
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|entry| entry.path().extension().is_some_and(|ext| ext == "sql"))
        })
        .count();
    assert_eq!(
        applied,
        i64::try_from(files)?,
        "each migration applied once"
    );
    Ok(())
}

/// JSON feeds can carry `\u0000`; PostgreSQL text cannot hold it. The story is stored, its item
/// keeps the exact guid and headline, and its cluster's links still read.
async fn a_nul_in_an_agency_id_or_headline_is_stored_and_shown(db: Db) -> TestResult {
    let store = db.open().await?;
    let mut entry = item("id\u{0}1", "Head\u{0}line", Some(1), Pubstatus::Usable);
    entry.text_hash = Some("5d41402abc4b2a76".into());
    let committed = store.commit(&new_version(entry.clone()), at(1)).await?;
    assert_eq!(committed.kind, CommitKind::New);
    let again = store.commit(&new_version(entry), at(2)).await?;
    assert_eq!(
        again.kind,
        CommitKind::Unchanged,
        "found again by its exact guid"
    );
    let story = store
        .story(&committed.id)
        .await?
        .ok_or_else(|| missing("nul"))?;
    let current = story.current.ok_or_else(|| missing("version"))?;
    assert_eq!(current.item.guid, "id\u{0}1");
    assert_eq!(current.item.headline, "Head\u{0}line");
    store
        .set_clusters(&[assignment(&committed.id, 3, &[1], at(1))])
        .await?;
    let links = store.cluster_links(3, 10).await?;
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].headline, "Head\u{0}line");
    Ok(())
}

/// The change token caches compare: every change a page can show moves it, for every process
/// on the database (here a second store), even one stamped by a clock far behind; bookkeeping
/// that pages do not show (fetch health, settings) leaves it alone. `local_changes` counts only
/// the handle's own writes.
async fn the_change_token_moves_with_every_change_a_page_shows_whatever_the_clock(
    db: Db,
) -> TestResult {
    let reader = db.open().await?;
    let writer = db.open().await?;
    let mut token = reader.change_token().await?;
    let mut moved = async |what: &str| -> TestResult {
        let now = reader.change_token().await?;
        assert_ne!(now, token, "{what} moves the change token");
        token = now;
        Ok(())
    };
    writer
        .add_source(&source("wire", SourceKind::Push), at(0))
        .await?;
    moved("a new source").await?;
    let local = writer.local_changes();
    // A clock an hour behind every change before it.
    let first = writer
        .commit(
            &new_version(item("a", "A", Some(1), Pubstatus::Usable)),
            at(-3600),
        )
        .await?;
    moved("a new story").await?;
    assert!(
        writer.local_changes() > local,
        "the writer counts its own commit"
    );
    assert_eq!(reader.local_changes(), 0, "the reader committed nothing");
    writer
        .commit(
            &new_version(item("a", "A", Some(2), Pubstatus::Canceled)),
            at(-7200),
        )
        .await?;
    moved("a kill stamped in the past").await?;
    writer
        .set_headline_override(
            &first.id,
            Some(&HeadlineOverride {
                headline: "Desk".into(),
                set_by: "editor".into(),
                set_at: at(1),
            }),
            at(1),
        )
        .await?;
    moved("a headline override").await?;
    writer
        .set_clusters(&[assignment(&first.id, 3, &[1], at(1))])
        .await?;
    moved("a cluster").await?;
    let held = NewVersion {
        hold_reasons: vec!["language".into()],
        ..new_version(item("b", "B", Some(1), Pubstatus::Usable))
    };
    let held = writer.commit(&held, at(2)).await?;
    moved("a held version").await?;
    writer
        .review_held(&held.id, Review::Released, "editor", at(3))
        .await?;
    moved("a release from the held queue").await?;
    let mut noticed = source("wire", SourceKind::Push);
    noticed.notice = Some("Moved".into());
    writer.upsert_source(&noticed, at(4)).await?;
    moved("a source's notice").await?;
    writer
        .record_fetch(
            "wire",
            &FetchRecord {
                at: at(5),
                status: Some(200),
                error: None,
                etag: None,
                last_modified: None,
                next_due: None,
                node: None,
            },
        )
        .await?;
    writer.set_setting("anything", "value").await?;
    assert_eq!(
        reader.change_token().await?,
        token,
        "bookkeeping no page shows leaves the token alone"
    );
    Ok(())
}

/// A follower's cursor through more changes than a page holds, many of them within the overlap
/// window and a page's worth stamped with one instant (what a burst of agency copy looks like):
/// every change once, in order, and nothing stalls.
async fn a_change_cursor_hands_out_each_change_once_through_bursts(db: Db) -> TestResult {
    let store = db.open().await?;
    let mut expected = Vec::new();
    // 1,050 changes a millisecond apart (all inside the two-second overlap), then 1,010 in one
    // instant.
    for number in 0..2_060i64 {
        let when = if number < 1_050 {
            at(10) + Duration::milliseconds(number)
        } else {
            at(12)
        };
        let committed = store
            .commit(
                &new_version(item(
                    &format!("burst-{number}"),
                    "Burst",
                    Some(1),
                    Pubstatus::Usable,
                )),
                when,
            )
            .await?;
        expected.push(committed.id);
    }
    let stamps = store.changed_story_stamps(at(0), 10_000).await?;
    let changed: Vec<String> = store
        .changed_stories(at(0), 10_000)
        .await?
        .into_iter()
        .map(|story| story.id)
        .collect();
    assert_eq!(
        stamps
            .iter()
            .map(|stamp| stamp.id.clone())
            .collect::<Vec<_>>(),
        changed,
        "stamps come in the order of changed_stories"
    );
    let wanted = vec![expected[3].clone(), "no-such-story".to_string()];
    let read = store.stories_by_id(&wanted).await?;
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].id, expected[3]);

    let mut cursor = ChangeCursor::new(at(0));
    let batch = cursor.next(&*store, usize::MAX).await?;
    let handed: Vec<String> = batch.stories.iter().map(|story| story.id.clone()).collect();
    let mut sorted_expected = changed.clone();
    sorted_expected.dedup();
    assert_eq!(handed, sorted_expected, "every change once, oldest first");
    assert!(!batch.more);
    assert_eq!(cursor.mark(), at(12));
    assert!(cursor.next(&*store, usize::MAX).await?.stories.is_empty());

    // A later change is handed out alone.
    store
        .commit(
            &new_version(item("burst-7", "Burst again", Some(2), Pubstatus::Usable)),
            at(13),
        )
        .await?;
    let again = cursor.next(&*store, usize::MAX).await?;
    assert_eq!(
        again
            .stories
            .iter()
            .map(|story| story.id.as_str())
            .collect::<Vec<_>>(),
        vec![expected[7].as_str()]
    );
    // A follower that could not act on a change asks for it again.
    cursor.retry(&expected[7]);
    let retried = cursor.next(&*store, usize::MAX).await?;
    assert_eq!(retried.stories.len(), 1);
    assert_eq!(retried.stories[0].id, expected[7]);
    assert!(cursor.next(&*store, usize::MAX).await?.stories.is_empty());

    // In batches of about 500: the same stories, none twice.
    let mut batched = ChangeCursor::new(at(0));
    let mut all = Vec::new();
    loop {
        let batch = batched.next(&*store, 500).await?;
        all.extend(batch.stories.into_iter().map(|story| story.id));
        if !batch.more {
            break;
        }
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "no story twice");
    assert_eq!(unique.len(), expected.len());
    Ok(())
}
