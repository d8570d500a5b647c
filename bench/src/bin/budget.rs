//! The ingest path's CPU budget: each stage `serve` runs for a story, run alone over the ingest
//! benchmark's stories in one process, timed in CPU (user + system, every thread) per story,
//! and next to it the bare library doing the least the stage must do on the same data (quick-xml
//! reading the feeds, rusqlite inserting each item's JSON, tantivy's default tokenizer indexing
//! the same text, ed25519-dalek signing the record's bytes, a plain write and fsync of each
//! payload). The sum says how many stories a
//! second this machine's cores could take if every stage were spread perfectly over them; the
//! floors say how much of it is ours, and what no implementation of the required stages
//! (durable store, positional full-text index, a signature per version) could go below.
//!
//! Run: `cargo run --release -p bench --bin budget -- [--stories 20000]` (a multiple of 200,
//! the ingest benchmark's feed size; RSS 2.0 and Atom alternately, as there).

use anyhow::{Context as _, Result, anyhow, bail};
use bench::wire::{self, Syndication};
use chrono::Utc;
use std::time::{Duration, Instant};
use verbatim_cluster::{Clusterer, Signature};
use verbatim_item::Item;
use verbatim_normalize::Normalized;
use verbatim_parse::{Input, Limits};
use verbatim_provenance::ProvenanceRecord;
use verbatim_search::{SearchDoc, SearchIndex};
use verbatim_store::{ClusterAssignment, NewVersion, SqliteStore, Store, StoryRecord, StoryState};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Stories per feed, as in the ingest benchmark.
const PER_FEED: usize = 200;
/// Stories the followers read, cluster and index at a time, as `serve`'s follower does.
const PAGE: usize = 1_000;
/// The goal for end-to-end ingest.
const GOAL_PER_SECOND: f64 = 20_000.0;

/// CPU time used so far by this process, every thread (user + system).
fn cpu_now() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(usage) => {
            let micros = |time: nix::sys::time::TimeVal| {
                Duration::from_secs(time.tv_sec().max(0) as u64)
                    + Duration::from_micros(time.tv_usec().max(0) as u64)
            };
            micros(usage.user_time()) + micros(usage.system_time())
        }
        Err(_) => Duration::ZERO,
    }
}

/// CPU and wall time of one stage.
#[derive(Clone, Copy)]
struct Spent {
    cpu: Duration,
    wall: Duration,
}

fn timed<T>(work: impl FnOnce() -> Result<T>) -> Result<(T, Spent)> {
    let (cpu, wall) = (cpu_now(), Instant::now());
    let out = work()?;
    Ok((
        out,
        Spent {
            cpu: cpu_now().saturating_sub(cpu),
            wall: wall.elapsed(),
        },
    ))
}

/// One line of the table: a stage, Verbatim's cost and the bare library's, if measured.
struct Row {
    stage: &'static str,
    ours: Spent,
    floor: Option<(&'static str, Spent)>,
    /// The one thread `serve` runs it on, if it has one (the SQLite writer, the clusterer,
    /// the followers' reader connection): more cores do not shorten that thread's work.
    thread: Option<Thread>,
    /// The time that thread itself spent, where it is measured apart from the stage's CPU (the
    /// writer: its CPU while it held the connection, not the preparing done before taking it
    /// or the checkpoints on a thread of their own).
    thread_time: Option<Duration>,
}

/// The threads of `serve` that each do their part for every story, one story after another.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Thread {
    /// The store's one write connection: commits, and the clusters recorded.
    Writer,
    /// The clustering job's inserts, in story order.
    Clusterer,
    /// The followers' read connection (one, behind a lock).
    Reader,
}

impl Thread {
    const ALL: [Thread; 3] = [Thread::Writer, Thread::Clusterer, Thread::Reader];

    fn name(self) -> &'static str {
        match self {
            Thread::Writer => "the SQLite writer (its CPU while it holds the connection)",
            Thread::Clusterer => "the clusterer",
            Thread::Reader => "the followers' reader",
        }
    }

    fn mark(self) -> &'static str {
        match self {
            Thread::Writer => " ¹",
            Thread::Clusterer => " ²",
            Thread::Reader => " ³",
        }
    }
}

struct Args {
    stories: usize,
}

fn args() -> Result<Args> {
    let mut stories = 20_000;
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        match arg.as_str() {
            "--stories" => {
                stories = given
                    .next()
                    .context("--stories needs a number")?
                    .parse()
                    .context("--stories needs a number")?;
            }
            other => bail!("unknown argument {other} (--stories N)"),
        }
    }
    if stories == 0 || stories % PER_FEED != 0 {
        bail!("--stories must be a positive multiple of {PER_FEED}");
    }
    Ok(Args { stories })
}

fn main() -> Result<()> {
    let args = args()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let folder = tempfile::tempdir()?;
    let now = Utc::now();
    let reference = now - chrono::Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos()));
    let feeds: Vec<(String, Syndication)> = (0..args.stories / PER_FEED)
        .map(|feed| {
            let format = if feed % 2 == 0 {
                Syndication::Rss2
            } else {
                Syndication::Atom
            };
            let numbers = feed * PER_FEED..(feed + 1) * PER_FEED;
            (
                wire::feed(&format!("feed-{feed}"), numbers, format, reference),
                format,
            )
        })
        .collect();
    let megabytes = feeds.iter().map(|(text, _)| text.len()).sum::<usize>() as f64 / 1e6;
    println!(
        "The ingest path's CPU a story, stage by stage: {} stories in {} feeds ({megabytes:.1} MB), \
         {} cores\n",
        args.stories,
        feeds.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut rows = Vec::new();

    // parse + normalize, as the pipeline runs them on each payload.
    let limits = Limits::default();
    let (mut normalized, parsed) = timed(|| {
        let mut out: Vec<Normalized> = Vec::with_capacity(args.stories);
        for (feed, (text, format)) in feeds.iter().enumerate() {
            let parsed = verbatim_parse::parse(
                Input {
                    bytes: text.as_bytes(),
                    content_type: Some(format.content_type()),
                    origin: &format!("http://127.0.0.1/feed-{feed}"),
                },
                &limits,
            )
            .map_err(|error| anyhow!("feed {feed}: {error}"))?;
            for mut draft in parsed.drafts {
                // One source per feed, as the ingest benchmark configures `serve`.
                draft.item.source = format!("feed-{feed}");
                // The payload's hash, as the archive gives it (timed there, not here).
                draft.item.raw = Some(format!("{feed:064x}"));
                draft.item.received_at = Some(now);
                out.push(verbatim_normalize::normalize(draft));
            }
        }
        Ok(out)
    })?;
    let ((), xml_events) = timed(|| {
        for (text, _) in &feeds {
            let mut reader = quick_xml::Reader::from_str(text);
            loop {
                match reader.read_event() {
                    Ok(quick_xml::events::Event::Eof) => break,
                    Ok(_) => {}
                    Err(error) => bail!("quick-xml: {error}"),
                }
            }
        }
        Ok(())
    })?;
    if normalized.len() != args.stories {
        bail!(
            "parsed {} stories, expected {}",
            normalized.len(),
            args.stories
        );
    }
    rows.push(Row {
        stage: "parse + normalize",
        ours: parsed,
        floor: Some((
            "quick-xml events, no unescaping (below the least)",
            xml_events,
        )),
        thread: None,
        thread_time: None,
    });

    // The gate, with the quality checks `serve` runs by default.
    let profile = verbatim_gate::SourceProfile::default();
    let (verdicts, gated) = timed(|| {
        Ok(normalized
            .iter()
            .map(|item| {
                verbatim_gate::gate_with(
                    item,
                    now,
                    verbatim_gate::Context {
                        rules: None,
                        source: Some(&profile),
                        quality: true,
                    },
                )
            })
            .collect::<Vec<_>>())
    })?;
    rows.push(Row {
        stage: "gate (quality checks)",
        ours: gated,
        floor: None,
        thread: None,
        thread_time: None,
    });

    // The provenance record of each version, signed: a mirror of `src/pipeline.rs::provenance_of`
    // (the binary crate has no library target to call).
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let (signed, signing) = timed(|| {
        Ok(normalized
            .iter()
            .map(|normalized| {
                let item = &normalized.item;
                ProvenanceRecord {
                    format: verbatim_provenance::FORMAT.to_string(),
                    story_id: verbatim_store::story_id(&item.source, &item.guid),
                    source: item.source.clone(),
                    guid: item.guid.clone(),
                    agency_version: item.version,
                    origin: "http://127.0.0.1/feed".into(),
                    received_at: verbatim_store::format_time(now),
                    http_status: Some(200),
                    etag: None,
                    last_modified: None,
                    raw_sha256: item.raw.clone().unwrap_or_default(),
                    headline_sha256: verbatim_provenance::sha256_text(&item.headline),
                    body_text_sha256: verbatim_provenance::sha256_text(&item.body_text),
                    text_hash: item.text_hash.clone().unwrap_or_default(),
                    parser: format!("verbatim-parse {}", verbatim_parse::VERSION),
                    normalizer: format!("verbatim-normalize {}", verbatim_normalize::VERSION),
                    headline_override: None,
                    key_id: "bench".into(),
                }
                .sign(&key)
            })
            .collect::<Vec<_>>())
    })?;
    let records: Vec<Vec<u8>> = signed
        .iter()
        .map(|signed| signed.record.canonical_bytes())
        .collect();
    let ((), bare_signing) = timed(|| {
        use ed25519_dalek::Signer;
        for bytes in &records {
            std::hint::black_box(key.sign(bytes));
        }
        Ok(())
    })?;
    rows.push(Row {
        stage: "provenance record + Ed25519 signature",
        ours: signing,
        floor: Some(("ed25519-dalek signing the record's bytes", bare_signing)),
        thread: None,
        thread_time: None,
    });

    // The raw archive: each payload written, fsynced and renamed into place.
    let archive = verbatim_store::RawArchive::new(folder.path().join("raw"));
    let ((), archived) = timed(|| {
        runtime.block_on(async {
            for (text, _) in &feeds {
                let (stored, _) = archive.put(text.as_bytes().to_vec()).await;
                stored.context("archiving a payload")?;
            }
            Ok(())
        })
    })?;
    let bare_folder = folder.path().join("bare-raw");
    std::fs::create_dir_all(&bare_folder)?;
    let ((), bare_archive) = timed(|| {
        use std::io::Write;
        for (index, (text, _)) in feeds.iter().enumerate() {
            let mut file = std::fs::File::create(bare_folder.join(index.to_string()))?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
        }
        Ok(())
    })?;
    rows.push(Row {
        stage: "raw archive (write + fsync a payload)",
        ours: archived,
        floor: Some(("std::fs: write and fsync each payload", bare_archive)),
        thread: None,
        thread_time: None,
    });

    // The versions as `src/pipeline.rs::prepare_gated` builds them (mirrored, as above).
    let versions: Vec<NewVersion> = normalized
        .drain(..)
        .zip(verdicts)
        .zip(signed)
        .map(|((normalized, verdict), signed)| NewVersion {
            item: normalized.item,
            hold_reasons: verdict.hold_reasons,
            embargoed_until: verdict.embargoed_until,
            provenance: serde_json::to_string(&signed.record).ok(),
            signature: Some(signed.signature),
            sections: verdict.sections,
            link_only: verdict.link_only,
        })
        .collect();
    let held = versions
        .iter()
        .filter(|version| !version.hold_reasons.is_empty())
        .count();
    if held > 0 {
        println!("note: {held} of the stories were held by the gate\n");
    }

    // The store: the SQLite writer commits a payload's versions at a time.
    let store = runtime.block_on(SqliteStore::open(&folder.path().join("verbatim.db")))?;
    let writer_cpu_before = writer_cpu(&store);
    let (ids, committed) = timed(|| {
        runtime.block_on(async {
            let mut ids = Vec::with_capacity(versions.len());
            for batch in versions.chunks(PER_FEED) {
                for outcome in store.commit_all(batch, now).await? {
                    ids.push(outcome.id);
                }
            }
            // The log copied into the file, so no checkpoint is left to the next stage.
            store.checkpoint().await?;
            Ok(ids)
        })
    })?;
    let commit_writer_cpu = writer_cpu(&store).saturating_sub(writer_cpu_before);
    let ((), bare_inserts) = timed(|| bare_sqlite(&folder.path().join("bare.db"), &versions))?;
    rows.push(Row {
        stage: "commit (SQLite store, 200 a transaction)",
        ours: committed,
        floor: Some(("rusqlite: item JSON into one table", bare_inserts)),
        thread: Some(Thread::Writer),
        thread_time: Some(commit_writer_cpu),
    });

    // The followers read the changed stories back, a page at a time, and keep what the index
    // and the clusterer need; each page's records are dropped before the next is read, as in
    // `serve`, whose allocator then reuses their memory. (Holding all 100,000 records had the
    // kernel zeroing fresh pages for most of this row's time.)
    let (docs, read) = timed(|| {
        runtime.block_on(async {
            let mut docs = Vec::with_capacity(ids.len());
            for page in ids.chunks(PAGE) {
                let stories = store.stories_by_id(page).await?;
                docs.extend(stories.iter().filter_map(search_doc));
            }
            Ok(docs)
        })
    })?;
    rows.push(Row {
        stage: "read stories back (followers), as search documents",
        ours: read,
        floor: None,
        thread: Some(Thread::Reader),
        thread_time: None,
    });
    if docs.len() != args.stories {
        bail!("{} of {} stories published", docs.len(), args.stories);
    }
    drop(versions);

    // The search index: every story upserted, committed, merged.
    let ((), indexed) = timed(|| {
        let index = SearchIndex::open(&folder.path().join("index"))?;
        for doc in &docs {
            index.upsert(doc)?;
        }
        index.commit()?;
        index.finish_merges()?;
        Ok(())
    })?;
    let ((), bare_index) = timed(|| bare_tantivy(&folder.path().join("bare-index"), &docs))?;
    rows.push(Row {
        stage: "search index (tantivy, our tokenizer)",
        ours: indexed,
        floor: Some(("tantivy, default tokenizer", bare_index)),
        thread: None,
        thread_time: None,
    });

    // Clustering: signatures (`serve` computes a page's on several threads), then inserts in
    // story order on the clustering job's one thread.
    let (signatures, signed_for_clusters) = timed(|| {
        Ok(docs
            .iter()
            .map(|doc| Signature::new(&doc.source, &doc.headline, &doc.body_text))
            .collect::<Vec<_>>())
    })?;
    rows.push(Row {
        stage: "cluster signatures",
        ours: signed_for_clusters,
        floor: None,
        thread: None,
        thread_time: None,
    });
    let mut clusterer = Clusterer::new();
    let (assignments, inserted) = timed(|| {
        Ok(docs
            .iter()
            .zip(&signatures)
            .map(|(doc, signature)| {
                let cluster = clusterer.insert(&doc.id, signature, doc.published);
                ClusterAssignment {
                    story_id: doc.id.clone(),
                    cluster_id: i64::try_from(cluster.0).unwrap_or(i64::MAX),
                    signature: signature.to_bytes(),
                    story_time: doc.published,
                }
            })
            .collect::<Vec<_>>())
    })?;
    rows.push(Row {
        stage: "cluster inserts",
        ours: inserted,
        floor: None,
        thread: Some(Thread::Clusterer),
        thread_time: None,
    });
    let writer_cpu_before = writer_cpu(&store);
    let ((), recorded) = timed(|| {
        runtime.block_on(async {
            for page in assignments.chunks(PAGE) {
                store.set_clusters(page).await?;
            }
            store.checkpoint().await?;
            Ok(())
        })
    })?;
    let record_writer_cpu = writer_cpu(&store).saturating_sub(writer_cpu_before);
    rows.push(Row {
        stage: "record clusters (SQLite)",
        ours: recorded,
        floor: None,
        thread: Some(Thread::Writer),
        thread_time: Some(record_writer_cpu),
    });

    report(&rows, args.stories);
    let (digest, clusters) = assignments_digest(&assignments);
    println!(
        "Cluster assignments: {clusters} clusters, digest {digest:016x} (the same digest from two \
         builds: every story in the same cluster)."
    );
    Ok(())
}

/// The digest of the stories' clusters in insertion order, and how many clusters there are.
fn assignments_digest(assignments: &[ClusterAssignment]) -> (u64, usize) {
    // `as` keeps the number's eight bytes, so the digest is the one `budget` always printed.
    let digest = bench::digest::cluster_digest(
        assignments
            .iter()
            .map(|assignment| assignment.cluster_id as u64),
    );
    let clusters: std::collections::HashSet<i64> = assignments
        .iter()
        .map(|assignment| assignment.cluster_id)
        .collect();
    (digest, clusters.len())
}

/// The story as `serve`'s follower indexes it (a mirror of `src/index.rs::search_doc`), for a published
/// story that is not link-only and has no headline override, as every story here is.
fn search_doc(story: &StoryRecord) -> Option<SearchDoc> {
    if story.state != StoryState::Published {
        return None;
    }
    let version = story.current.as_ref()?;
    let item = &version.item;
    Some(SearchDoc {
        id: story.id.clone(),
        source: story.source.clone(),
        language: item.language.clone(),
        headline: item.headline.clone(),
        body_text: item.body_text.clone(),
        published: item.versioncreated.unwrap_or(version.received_at),
        sections: story.sections.clone(),
    })
}

/// The least a store must do: each item's JSON into one table keyed by id, in transactions of
/// a payload, with the store's journal settings.
fn bare_sqlite(path: &std::path::Path, versions: &[NewVersion]) -> Result<()> {
    let mut connection = rusqlite::Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.execute(
        "CREATE TABLE items (id TEXT PRIMARY KEY, item_json TEXT NOT NULL)",
        [],
    )?;
    for batch in versions.chunks(PER_FEED) {
        let transaction = connection.transaction()?;
        {
            let mut insert =
                transaction.prepare_cached("INSERT INTO items (id, item_json) VALUES (?1, ?2)")?;
            for version in batch {
                let item: &Item = &version.item;
                insert.execute(rusqlite::params![
                    verbatim_store::story_id(&item.source, &item.guid),
                    serde_json::to_string(item)?
                ])?;
            }
        }
        transaction.commit()?;
    }
    Ok(())
}

/// The least a full-text index must do: headline and body in one text field with positions
/// (phrases need them), tantivy's default tokenizer, the id stored, the same writer memory.
fn bare_tantivy(path: &std::path::Path, docs: &[SearchDoc]) -> Result<()> {
    use tantivy::schema::{STORED, STRING, Schema, TEXT};
    std::fs::create_dir_all(path)?;
    let mut builder = Schema::builder();
    let id = builder.add_text_field("id", STRING | STORED);
    let text = builder.add_text_field("text", TEXT);
    let index = tantivy::Index::create_in_dir(path, builder.build())?;
    let mut writer: tantivy::IndexWriter = index.writer(50_000_000)?;
    for doc in docs {
        let mut document = tantivy::TantivyDocument::default();
        document.add_text(id, &doc.id);
        document.add_text(text, &doc.headline);
        document.add_text(text, &doc.body_text);
        writer.add_document(document)?;
    }
    writer.commit()?;
    writer.wait_merging_threads()?;
    Ok(())
}

/// The CPU the store's writer thread has spent holding its connection (see `WriterTime`).
fn writer_cpu(store: &SqliteStore) -> Duration {
    store.writer_time().unwrap_or_default().cpu
}

fn per_story(spent: Duration, stories: usize) -> f64 {
    spent.as_secs_f64() * 1e6 / stories as f64
}

fn report(rows: &[Row], stories: usize) {
    println!(
        "| stage | CPU µs a story | wall µs a story | bare library | its CPU µs a story | ours / bare |"
    );
    println!("|---|---:|---:|---|---:|---:|");
    let (mut total, mut floors) = (0.0, 0.0);
    for row in rows {
        let cpu = per_story(row.ours.cpu, stories);
        total += cpu;
        let (name, floor, ratio) = match &row.floor {
            Some((name, spent)) => {
                let floor = per_story(spent.cpu, stories);
                floors += floor;
                (
                    *name,
                    format!("{floor:.1}"),
                    format!("{:.2}×", cpu / floor.max(f64::EPSILON)),
                )
            }
            None => ("", String::new(), String::new()),
        };
        println!(
            "| {}{} | {cpu:.1} | {:.1} | {name} | {floor} | {ratio} |",
            row.stage,
            row.thread.map_or("", Thread::mark),
            per_story(row.ours.wall, stories),
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    println!("| **all stages** | **{total:.1}** | | **the floors** | **{floors:.1}** | |");
    println!();
    for thread in Thread::ALL {
        let on_thread: f64 = rows
            .iter()
            .filter(|row| row.thread == Some(thread))
            .map(|row| per_story(row.thread_time.unwrap_or(row.ours.cpu), stories))
            .sum();
        println!(
            "{} on one thread in `serve`, {}: {on_thread:.1} µs a story, at most {:.0} stories/s \
             however many cores.",
            thread.mark().trim(),
            thread.name(),
            1e6 / on_thread.max(f64::EPSILON)
        );
    }
    let bound = cores * 1e6 / total.max(f64::EPSILON);
    println!(
        "All stages on {cores:.0} cores, perfectly shared: at most {bound:.0} stories/s \
         ({:.2} of the goal of {GOAL_PER_SECOND:.0}); the goal needs {:.1} µs of CPU a story \
         on these cores.",
        bound / GOAL_PER_SECOND,
        cores * 1e6 / GOAL_PER_SECOND
    );
    let floor_bound = cores * 1e6 / floors.max(f64::EPSILON);
    println!(
        "The floors alone — reading the XML's events, one insert, a bare full-text index with \
         positions, one signature, one write and fsync a payload, and nothing else (no gate, no \
         clusters, no reading back, no HTTP) — allow at most {floor_bound:.0} stories/s on \
         {cores:.0} cores ({:.2} of the goal).",
        floor_bound / GOAL_PER_SECOND
    );
}
