//! Verbatim's benchmark harness. Each measurement runs Verbatim and a named baseline on the same
//! generated input in the same process, and prints the ratio: absolute times on a shared 2-core
//! machine are noise, ratios are not.
//!
//! `cargo run --release -p bench -- parse [--mb 5] [--rounds 7]`; `bench all [NAME…]` runs every
//! benchmark (or the named ones) at a modest size with each run's peak memory (see `bench::suite`
//! and `bench/run-all.sh`, which builds everything first).

use std::hint::black_box;

/// jemalloc, as in the `verbatim` binary: allocation is a large share of parsing, and the figures
/// should be those of the allocator Verbatim runs with. The peers run in this process with it too.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map(String::as_str).unwrap_or("parse");
    let option = |name: &str, default: usize| -> usize {
        args.iter()
            .position(|arg| arg == name)
            .and_then(|at| args.get(at + 1))
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    match command {
        "parse" => parse_benchmark(option("--mb", 5), option("--rounds", 7)),
        // Only Verbatim's parse + normalize, over and over: a steady process to attach perf to.
        "parse-loop" => {
            let feed = generate_rss(option("--mb", 5));
            for _ in 0..option("--rounds", 50) {
                black_box(verbatim_parse_normalize(
                    &feed,
                    verbatim_normalize::normalize,
                ));
            }
        }
        // The search follower's clustering alone, on the ingest benchmark's stories: a steady
        // process for perf, and a digest of the assignments to show a change kept them.
        "cluster-loop" => cluster_loop(option("--stories", 20_000)),
        "all" => std::process::exit(bench::suite::run_all(&args[1..])),
        "peak-of" => std::process::exit(bench::suite::peak_of(&args[1..])),
        other => {
            eprintln!(
                "unknown benchmark {other:?}; available: parse, parse-loop, cluster-loop, all"
            );
            std::process::exit(2);
        }
    }
}

/// Clusters `stories` of the ingest benchmark's wire copy the way the search follower does
/// (signature of headline and visible text, then insert, in story order) and prints the time of
/// each step and an FNV digest of the cluster ids: equal digests, equal clusters.
fn cluster_loop(stories: usize) {
    let reference = chrono::DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
        .map(|time| time.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now());
    // Feeds of 200 stories, as the ingest benchmark serves them.
    let mut items: Vec<verbatim_item::Item> = Vec::with_capacity(stories);
    for first in (0..stories).step_by(200) {
        let numbers = first..(first + 200).min(stories);
        let feed = bench::wire::feed(
            "cluster",
            numbers,
            bench::wire::Syndication::Rss2,
            reference,
        );
        let parsed = verbatim_parse::parse(
            verbatim_parse::Input {
                bytes: feed.as_bytes(),
                content_type: None,
                origin: "bench.rss",
            },
            &verbatim_parse::Limits::default(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        items.extend(
            parsed
                .drafts
                .into_iter()
                .map(|draft| verbatim_normalize::normalize(draft).item),
        );
    }
    let started = Instant::now();
    let signatures: Vec<verbatim_cluster::Signature> = items
        .iter()
        .map(|item| verbatim_cluster::Signature::new("bench", &item.headline, &item.body_text))
        .collect();
    let signed = started.elapsed();
    let started = Instant::now();
    let mut clusterer = verbatim_cluster::Clusterer::new();
    let mut assigned = Vec::with_capacity(items.len());
    for (number, (item, signature)) in items.iter().zip(&signatures).enumerate() {
        let time = item.versioncreated.unwrap_or(reference);
        assigned.push(
            clusterer
                .insert(&format!("story-{number}"), signature, time)
                .0,
        );
    }
    let digest = bench::digest::cluster_digest(assigned);
    let inserted = started.elapsed();
    let mut sizes: Vec<usize> = clusterer
        .clusters()
        .map(|(_, members)| members.len())
        .collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let per_story = |time: Duration| time.as_secs_f64() * 1e6 / items.len().max(1) as f64;
    println!(
        "{} stories, {} clusters (largest {:?}), digest {digest:016x}: signatures {:.1} µs a story, inserts {:.1} µs a story",
        items.len(),
        sizes.len(),
        sizes.get(..5).unwrap_or(&sizes),
        per_story(signed),
        per_story(inserted),
    );
}

/// Paragraphs in several scripts, with the markup agencies send.
const PARAGRAPHS: &[&str] = &[
    "<p><strong>GRENAA, Denmark (NWS)</strong> — Ferries sailed again on Tuesday after a storm with gusts of up to 38&nbsp;m/s kept the fleet in port for three days; the operator said the first departure carried 212 passengers.</p>",
    "<p>The fictional Bank of the North kept its policy rate at 2.75%, as 11 of 12 economists polled had expected. <a href=\"https://agency.example/rates\">Markets</a> barely reacted; the krone was 0.1% firmer.</p>",
    "<p dir=\"rtl\" lang=\"ar\">افتتحت يوم الثلاثاء أكبر مكتبة عامة في المدينة القديمة بعد أعمال ترميم استمرت خمس سنوات، وتضم أكثر من 120 ألف كتاب.</p>",
    "<p>京都市内の紅葉が見頃を迎え、24日は主要な寺社に多くの観光客が訪れた。市によると、今月の観光客数は過去最多となる見込み。</p>",
    "<p>Сегодня в городе открылась новая линия метро; за первый день ею воспользовались более 300 тысяч пассажиров.</p>",
    "<table><tr><th>Route</th><th>Departures</th></tr><tr><td>Grenaa – Varberg</td><td>6</td></tr></table>",
    "<p>Governor Ingrid Solberg told reporters the bank would “wait for clearer evidence” before moving.<script>track()</script></p>",
];

/// An RSS 2.0 feed of about `megabytes` MB of full-text items.
fn generate_rss(megabytes: usize) -> Vec<u8> {
    let target = megabytes * 1024 * 1024;
    let mut feed = String::with_capacity(target + 4096);
    feed.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n<channel><title>Bench Wire</title><link>https://bench.example/</link><description>Generated</description>\n");
    let mut index = 0usize;
    while feed.len() < target {
        let mut body = String::new();
        for paragraph in 0..8 {
            body.push_str(PARAGRAPHS[(index + paragraph) % PARAGRAPHS.len()]);
        }
        feed.push_str(&format!(
            "<item><title>Story {index}: ferries &amp; rates</title><guid isPermaLink=\"false\">bench-{index}</guid><link>https://bench.example/{index}</link><dc:creator>Desk {}</dc:creator><pubDate>Tue, 24 Nov 2026 12:{:02}:00 GMT</pubDate><category>World</category><content:encoded><![CDATA[{body}]]></content:encoded></item>\n",
            index % 17,
            index % 60
        ));
        index += 1;
    }
    feed.push_str("</channel></rss>\n");
    feed.into_bytes()
}

/// Parses and normalizes with `normalize` (Verbatim's, or the one that parses every body three
/// times).
fn verbatim_parse_normalize(
    bytes: &[u8],
    normalize: fn(verbatim_item::Draft) -> verbatim_normalize::Normalized,
) -> usize {
    let parsed = verbatim_parse::parse(
        verbatim_parse::Input {
            bytes,
            content_type: None,
            origin: "bench.rss",
        },
        &verbatim_parse::Limits::default(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    parsed
        .drafts
        .into_iter()
        .map(|draft| normalize(draft).item.body_text.len())
        .sum()
}

/// How many of the feed's bodies the one-scan sanitizer takes, of all bodies.
fn bodies_in_one_scan(bytes: &[u8]) -> (usize, usize) {
    let Ok(parsed) = verbatim_parse::parse(
        verbatim_parse::Input {
            bytes,
            content_type: None,
            origin: "bench.rss",
        },
        &verbatim_parse::Limits::default(),
    ) else {
        return (0, 0);
    };
    bench::bodies_in_one_scan(&parsed.drafts)
}

fn verbatim_parse_only(bytes: &[u8]) -> usize {
    verbatim_parse::parse(
        verbatim_parse::Input {
            bytes,
            content_type: None,
            origin: "bench.rss",
        },
        &verbatim_parse::Limits::default(),
    )
    .map(|parsed| parsed.drafts.len())
    .unwrap_or(0)
}

fn feed_rs_ammonia(bytes: &[u8]) -> usize {
    let feed = feed_rs::parser::parse(bytes).unwrap_or_else(|error| panic!("{error}"));
    feed.entries
        .into_iter()
        .map(|entry| {
            let html = entry
                .content
                .and_then(|content| content.body)
                .or_else(|| entry.summary.map(|summary| summary.content))
                .unwrap_or_default();
            ammonia::clean(&html).len()
        })
        .sum()
}

/// The tokenizer alone: quick-xml reading every event, the ceiling for any XML feed parser.
fn quick_xml_events(bytes: &[u8]) -> usize {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut buffer = Vec::new();
    let mut events = 0;
    loop {
        match reader.read_event_into(&mut buffer) {
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            Ok(_) => events += 1,
        }
        buffer.clear();
    }
    events
}

/// A benchmark row: its name and the work it times.
type NamedRun<'a> = (&'static str, Box<dyn Fn() -> usize + 'a>);

/// Each run's round times, sorted, with the runs taking turns round by round: on a shared
/// machine a burst of load then slows every run alike, and the ratios stay true.
fn interleaved_times(rounds: usize, runs: &[NamedRun]) -> Vec<Vec<Duration>> {
    for (_, run) in runs {
        black_box(run()); // warm-up
    }
    let mut times = vec![Vec::with_capacity(rounds); runs.len()];
    for _ in 0..rounds.max(1) {
        for ((_, run), times) in runs.iter().zip(&mut times) {
            let started = Instant::now();
            black_box(run());
            times.push(started.elapsed());
        }
    }
    for times in &mut times {
        times.sort();
    }
    times
}

/// The virtualenv's Python with the parse peers (installed from PyPI on first use).
fn python_venv() -> Option<std::path::PathBuf> {
    bench::python::python_with(&[
        ("feedparser", "feedparser"),
        ("fastfeedparser", "fastfeedparser"),
    ])
}

/// (parser, median seconds) for each Python peer, parsing the same feed from a file.
fn python_peers(feed: &[u8], rounds: usize) -> Vec<(String, f64)> {
    let Some(python) = python_venv() else {
        return Vec::new();
    };
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/peer_parse.py");
    let Ok(dir) = tempfile::tempdir() else {
        return Vec::new();
    };
    let file = dir.path().join("feed.xml");
    if std::fs::write(&file, feed).is_err() {
        return Vec::new();
    }
    let output = match std::process::Command::new(python)
        .arg(script)
        .arg(&file)
        .arg(rounds.to_string())
        .output()
    {
        Ok(output) => output,
        Err(error) => {
            eprintln!("no Python peers: {error}");
            return Vec::new();
        }
    };
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    report
        .as_object()
        .map(|peers| {
            peers
                .iter()
                .filter_map(|(name, result)| {
                    Some((
                        format!("{name} ({} entries)", result["entries"]),
                        result["seconds"].as_f64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn parse_benchmark(megabytes: usize, rounds: usize) {
    let feed = generate_rss(megabytes);
    let size_mb = feed.len() as f64 / (1024.0 * 1024.0);
    let items = verbatim_parse_normalize(&feed, verbatim_normalize::normalize);
    let parsed_items = verbatim_parse_normalize(&feed, verbatim_normalize::normalize_by_parsing);
    assert_eq!(
        items, parsed_items,
        "both normalize paths give the same text"
    );
    let (one_scan, bodies) = bodies_in_one_scan(&feed);
    println!(
        "parse + normalize, RSS 2.0 with content:encoded: {size_mb:.1} MB, {rounds} rounds taken in turns, median and best, one thread"
    );
    println!(
        "(verbatim produced {items} bytes of visible text; {one_scan} of {bodies} bodies sanitized in one scan)"
    );
    let runs: [NamedRun; 5] = [
        (
            "verbatim parse+normalize",
            Box::new(|| verbatim_parse_normalize(&feed, verbatim_normalize::normalize)),
        ),
        (
            "feed-rs + ammonia (baseline)",
            Box::new(|| feed_rs_ammonia(&feed)),
        ),
        (
            "verbatim parse+normalize, every body parsed 3x",
            Box::new(|| verbatim_parse_normalize(&feed, verbatim_normalize::normalize_by_parsing)),
        ),
        (
            "verbatim parse only",
            Box::new(|| verbatim_parse_only(&feed)),
        ),
        (
            "quick-xml events only (ceiling)",
            Box::new(|| quick_xml_events(&feed)),
        ),
    ];
    // (name, median, fastest round); MB/s and the ratio are of the median.
    let mut results: Vec<(String, Duration, Option<Duration>)> = Vec::new();
    for ((name, _), times) in runs.iter().zip(interleaved_times(rounds, &runs)) {
        let median = times[times.len() / 2];
        results.push((name.to_string(), median, times.first().copied()));
    }
    // The Python peers, on the same bytes, in the same run (their script reports a median).
    for (name, seconds) in python_peers(&feed, rounds) {
        let time = Duration::from_secs_f64(seconds);
        results.push((format!("python {name}"), time, None));
    }
    let throughput = |time: &Duration| size_mb / time.as_secs_f64();
    let baseline = throughput(&results[1].1);
    println!(
        "{:<48} {:>10} {:>10} {:>14} {:>10} {:>12}",
        "run", "median ms", "MB/s", "vs baseline", "best ms", "best MB/s"
    );
    for (name, median, best) in &results {
        let (best_ms, best_throughput) = match best {
            Some(best) => (
                format!("{:.1}", best.as_secs_f64() * 1000.0),
                format!("{:.1}", throughput(best)),
            ),
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "{:<48} {:>10.1} {:>10.1} {:>13.2}x {:>10} {:>12}",
            name,
            median.as_secs_f64() * 1000.0,
            throughput(median),
            throughput(median) / baseline,
            best_ms,
            best_throughput
        );
    }
}
