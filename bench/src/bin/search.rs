//! Search latency at scale: N generated stories (default 100,000; `--stories 1000000` for the
//! 1M figure; 8-word headlines, 120-word bodies, words drawn Zipf-like from a 50,000-word
//! vocabulary, as news text is) in the real on-disk index, then p50/p99 of 1,000 queries of the kinds readers
//! type (one word, two words, a phrase, an OR, an exclusion, a word with a source filter),
//! against the goal (p99 ≤ 10 ms at 1M stories) as the named baseline.
//!
//! The index is built as `verbatim reindex` builds it: its common words (word pairs are indexed
//! where one of the two words is common) are first learned from the stories themselves
//! (`CommonWords::learn`: the generated text has no function words, its most frequent words are
//! news nouns), then the stories are indexed. Build time counts both, and the merges.
//!
//! Run: `cargo run --release -p bench --bin search -- [--stories N] [--queries Q] [--dir D]
//! [--common-max W] [--slowest K] [--kinds "K;K"]`. `--slowest K` lists the K slowest queries
//! with their match counts. `--kinds "two words;OR"` times only those kinds (to profile one).
//! `--common-max` learns at most W words instead of `LEARN_MAX_WORDS` (to weigh a smaller set:
//! fewer pairs, slower phrases).
//! With `--dir`, the index is built in D and kept, and a later run with the same D and N only
//! queries it (to compare builds on one index size without rebuilding each time).

use bench::corpus::{Rng, sentence, word_of, zipf_rank};
use bench::serve::percentile;
use std::time::{Duration, Instant};
use verbatim_search::{
    CommonWords, CommonWordsLearner, SearchDoc, SearchIndex, SearchQuery, SortOrder,
};

const SOURCES: &[&str] = &[
    "northwire",
    "meridien",
    "baltic",
    "pacific",
    "andes",
    "sahel",
];

/// The seed of the stories drawn (and of the queries drawn after them).
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// Story `number`, drawn from `rng`.
fn story(rng: &mut Rng, number: usize, start: chrono::DateTime<chrono::Utc>) -> SearchDoc {
    SearchDoc {
        id: format!("story-{number}"),
        source: rng.pick(SOURCES).to_string(),
        language: Some("en".into()),
        headline: sentence(rng, 8),
        body_text: (0..4)
            .map(|_| sentence(rng, 30))
            .collect::<Vec<_>>()
            .join("\n\n"),
        published: start + chrono::Duration::seconds(number as i64 * 30),
        sections: Vec::new(),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut stories, mut queries) = (100_000usize, 1_000usize);
    let mut kept: Option<std::path::PathBuf> = None;
    let mut common_max = verbatim_search::LEARN_MAX_WORDS;
    let mut slowest = 0usize;
    // `--kinds "word;OR"`: only these kinds of query (to profile one); the others are skipped.
    let mut only_kinds: Option<String> = None;
    while let Some(flag) = args.next() {
        let value = args.next();
        let number = value.as_deref().and_then(|value| value.parse().ok());
        match (flag.as_str(), number, value) {
            ("--stories", Some(number), _) => stories = number,
            ("--queries", Some(number), _) => queries = number,
            ("--dir", _, Some(value)) => kept = Some(value.into()),
            ("--common-max", Some(number), _) => common_max = number,
            ("--slowest", Some(number), _) => slowest = number,
            ("--kinds", _, Some(value)) => only_kinds = Some(value),
            _ => {
                eprintln!(
                    "usage: search [--stories N] [--queries Q] [--dir D] [--common-max W] [--slowest K] [--kinds K;K]"
                );
                std::process::exit(2);
            }
        }
    }
    let temporary = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    };
    let path = kept.unwrap_or_else(|| temporary.path().to_path_buf());
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .map(|time| time.with_timezone(&chrono::Utc))
        .unwrap_or_default();
    // A kept index is reopened with the common words it was built with; a new one learns them
    // from the stories first (a pass of its own over the same draw), as `reindex` does.
    let learning = Instant::now();
    let opened = if path.join("meta.json").exists() {
        SearchIndex::open(&path)
    } else {
        let mut draw = Rng(SEED);
        let common = if common_max == verbatim_search::LEARN_MAX_WORDS {
            CommonWords::learn((0..stories).map(|number| story(&mut draw, number, start)))
        } else {
            // `CommonWords::learn` with another bound.
            let mut learner =
                CommonWordsLearner::new(verbatim_search::LEARN_MIN_FRACTION, common_max);
            for number in 0..stories {
                learner.add(&story(&mut draw, number, start));
            }
            learner.finish().union(&CommonWords::default())
        };
        SearchIndex::create_with_common(&path, common)
    };
    let learned_in = learning.elapsed();
    let index = match opened {
        Ok(index) => index,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    };
    let mut rng = Rng(SEED);
    let indexing = Instant::now();
    let built = index.len() == stories as u64;
    if !built {
        println!(
            "learned {} common words from {stories} stories in {:.1} s",
            index.common_words().len(),
            learned_in.as_secs_f64()
        );
    }
    for number in 0..stories {
        if built {
            // A kept index is queried as it is.
            break;
        }
        let doc = story(&mut rng, number, start);
        if let Err(error) = index.upsert(&doc) {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
        if number % 100_000 == 99_999
            && let Err(error) = index.commit()
        {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    }
    if !built && let Err(error) = index.commit() {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
    let indexed_in = indexing.elapsed();
    if built {
        println!(
            "reusing the index of {stories} stories in {} ({} common words)",
            path.display(),
            index.common_words().len()
        );
    } else {
        println!(
            "indexed {stories} stories ({} in the index) in {:.1} s ({:.0} stories/s)",
            index.len(),
            indexed_in.as_secs_f64(),
            stories as f64 / indexed_in.as_secs_f64()
        );
    }
    // Queries are timed on the settled index, not against merges still running on both cores.
    let merging = Instant::now();
    if let Err(error) = index.finish_merges() {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
    let bytes: u64 = std::fs::read_dir(&path)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.metadata().ok())
        .map(|metadata| metadata.len())
        .sum();
    let merged_in = merging.elapsed();
    println!(
        "merges finished {:.1} s later: {} segments, {:.0} MB on disk",
        merged_in.as_secs_f64(),
        index.segments(),
        bytes as f64 / 1e6
    );
    if !built {
        println!(
            "built in {:.1} s (learning {:.1} s + indexing {:.1} s + merges {:.1} s): {} common words, {} segments, {:.0} MB",
            (learned_in + indexed_in + merged_in).as_secs_f64(),
            learned_in.as_secs_f64(),
            indexed_in.as_secs_f64(),
            merged_in.as_secs_f64(),
            index.common_words().len(),
            index.segments(),
            bytes as f64 / 1e6
        );
    }
    // A serving process has its index in the page cache after its first queries; the files are
    // read once here so the first kind timed does not pay for the disk (a cold 1M index made
    // the first one-word queries take up to 1.6 s).
    let warming = Instant::now();
    let mut warmed = 0u64;
    for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
        if let Ok(mut file) = std::fs::File::open(entry.path()) {
            warmed += std::io::copy(&mut file, &mut std::io::sink()).unwrap_or(0);
        }
    }
    println!(
        "read the index's {:.0} MB once in {:.1} s (into the page cache)",
        warmed as f64 / 1e6,
        warming.elapsed().as_secs_f64()
    );
    let mut latencies: Vec<(String, Vec<f64>)> = Vec::new();
    // (ms, kind, query, matches) of every query, for `--slowest`.
    let mut timed: Vec<(f64, &str, String, usize)> = Vec::new();
    let kinds = [
        "word",
        "two words",
        "phrase",
        "OR",
        "exclusion",
        "word + source, newest",
    ];
    // Queries are drawn from a sequence of their own, the same whether the index was just built
    // or kept from an earlier run.
    let mut queries_drawn = Rng(SEED ^ 0x5EA7_C4E5);
    for kind in kinds {
        if only_kinds
            .as_ref()
            .is_some_and(|only| !only.split(';').any(|wanted| wanted.trim() == kind))
        {
            continue;
        }
        let mut times = Vec::with_capacity(queries);
        for _ in 0..queries {
            // Query words as readers pick them: from the corpus's own distribution.
            let (a, b) = (
                word_of(zipf_rank(&mut queries_drawn)),
                word_of(zipf_rank(&mut queries_drawn)),
            );
            let mut query = SearchQuery {
                limit: 20,
                ..SearchQuery::default()
            };
            query.text = match kind {
                "word" => a.clone(),
                "two words" => format!("{a} {b}"),
                "phrase" => format!("\"{a} {b}\""),
                "OR" => format!("{a} OR {b}"),
                "exclusion" => format!("{a} -{b}"),
                _ => {
                    query.source = Some(queries_drawn.pick(SOURCES).to_string());
                    query.order = SortOrder::Newest;
                    a.clone()
                }
            };
            let started = Instant::now();
            let total = match index.search(&query) {
                Ok(results) => results.total,
                Err(error) => {
                    eprintln!("error: {error}");
                    std::process::exit(1);
                }
            };
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            times.push(ms);
            if slowest > 0 {
                timed.push((ms, kind, query.text.clone(), total));
            }
        }
        times.sort_by(|a, b| a.total_cmp(b));
        latencies.push((kind.to_string(), times));
    }
    let goal = Duration::from_millis(10).as_secs_f64() * 1000.0;
    let threads = verbatim_search::search_threads();
    println!(
        "\n{queries} queries of each kind, one after another, 20 results with snippets, each query's segments on {threads} thread{} ({}):",
        if threads == 1 { "" } else { "s" },
        verbatim_search::SEARCH_THREADS_VARIABLE
    );
    println!("| query | p50 ms | p99 ms | p99 / goal (10 ms) | mean ms |");
    println!("|---|---:|---:|---:|---:|");
    let mean = |times: &[f64]| times.iter().sum::<f64>() / times.len().max(1) as f64;
    let mut all: Vec<f64> = Vec::new();
    for (kind, times) in &latencies {
        println!(
            "| {kind} | {:.2} | {:.2} | {:.2} | {:.2} |",
            percentile(times, 0.5).unwrap_or(f64::NAN),
            percentile(times, 0.99).unwrap_or(f64::NAN),
            percentile(times, 0.99).unwrap_or(f64::NAN) / goal,
            mean(times)
        );
        all.extend(times);
    }
    all.sort_by(|a, b| a.total_cmp(b));
    println!(
        "| all | {:.2} | {:.2} | {:.2} | {:.2} |",
        percentile(&all, 0.5).unwrap_or(f64::NAN),
        percentile(&all, 0.99).unwrap_or(f64::NAN),
        percentile(&all, 0.99).unwrap_or(f64::NAN) / goal,
        mean(&all)
    );
    if slowest > 0 {
        timed.sort_by(|a, b| b.0.total_cmp(&a.0));
        println!("\nthe {slowest} slowest queries:");
        println!("| ms | kind | query | matches |");
        println!("|---:|---|---|---:|");
        for (ms, kind, text, total) in timed.iter().take(slowest) {
            println!("| {ms:.2} | {kind} | `{text}` | {total} |");
        }
    }
}
