//! Pairwise precision and recall of the clustering on the labelled set
//! (`tests/fixtures/labelled/`, fictional agencies and events, written for this crate).
//!
//! Every pair of stories in a half is a positive (same `event` label) or a negative. The stories
//! are inserted in publication order, as they would arrive; two stories "are clustered" when they
//! end in the same cluster. The thresholds were chosen on the tuning half only; the held-out half
//! was not looked at until they were fixed. Run with
//! `cargo test -p verbatim-cluster --test labelled -- --nocapture` to see the figures.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use verbatim_cluster::{ClusterDoc, Clusterer, Config, Signature, similarity};

const GOAL: f64 = 0.95;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventFile {
    event: String,
    story: Vec<Story>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Story {
    id: String,
    agency: String,
    #[allow(dead_code)]
    kind: String,
    published: DateTime<Utc>,
    headline: String,
    body: String,
}

#[derive(Clone)]
struct Labelled {
    event: String,
    doc: ClusterDoc,
}

fn fixtures(half: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/labelled")
        .join(half)
}

fn load(half: &str) -> Vec<Labelled> {
    let dir = fixtures(half);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let file: EventFile = toml::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        for s in file.story {
            out.push(Labelled {
                event: file.event.clone(),
                doc: ClusterDoc {
                    id: s.id,
                    agency: s.agency,
                    headline: s.headline,
                    body_text: s.body,
                    published: s.published,
                },
            });
        }
    }
    // Arrival order: by publication time (ties by id).
    out.sort_by(|a, b| (a.doc.published, &a.doc.id).cmp(&(b.doc.published, &b.doc.id)));
    out
}

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
    tn: usize,
}

impl Counts {
    fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fp) as f64
        }
    }
    fn recall(&self) -> f64 {
        if self.tp + self.fn_ == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fn_) as f64
        }
    }
    fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

struct Outcome {
    counts: Counts,
    errors: Vec<String>,
}

/// Clusters `stories` in the given order and scores every pair for which `scored` is true.
fn evaluate(
    stories: &[Labelled],
    config: &Config,
    scored: impl Fn(&Labelled, &Labelled) -> bool,
) -> Outcome {
    let mut clusterer = Clusterer::with_config(config.clone());
    let mut cluster = BTreeMap::new();
    for s in stories {
        cluster.insert(s.doc.id.clone(), clusterer.insert_doc(&s.doc));
    }
    // Final assignment (clusters never move, but read them back to test the accessors too).
    for s in stories {
        assert_eq!(
            clusterer.cluster_of(&s.doc.id),
            cluster.get(&s.doc.id).copied()
        );
    }
    let mut counts = Counts::default();
    let mut errors = Vec::new();
    for (i, a) in stories.iter().enumerate() {
        for b in &stories[i + 1..] {
            if !scored(a, b) {
                continue;
            }
            let same_label = a.event == b.event;
            let same_cluster = cluster.get(&a.doc.id) == cluster.get(&b.doc.id);
            match (same_label, same_cluster) {
                (true, true) => counts.tp += 1,
                (false, false) => counts.tn += 1,
                (false, true) => {
                    counts.fp += 1;
                    errors.push(format!("  false merge: {} + {}", a.doc.id, b.doc.id));
                }
                (true, false) => {
                    counts.fn_ += 1;
                    errors.push(format!("  missed:      {} + {}", a.doc.id, b.doc.id));
                }
            }
        }
    }
    Outcome { counts, errors }
}

fn report(name: &str, stories: &[Labelled], outcome: &Outcome) {
    let c = outcome.counts;
    let events: std::collections::BTreeSet<&str> =
        stories.iter().map(|s| s.event.as_str()).collect();
    println!(
        "{name:<34} {:>3} stories {:>2} events | pairs +{:<3} -{:<4} | TP {:>3} FP {:>2} FN {:>2} | precision {:.3} recall {:.3} F1 {:.3}",
        stories.len(),
        events.len(),
        c.tp + c.fn_,
        c.fp + c.tn,
        c.tp,
        c.fp,
        c.fn_,
        c.precision(),
        c.recall(),
        c.f1()
    );
}

fn all_pairs(_: &Labelled, _: &Labelled) -> bool {
    true
}

/// The rule with only one of its two signals.
fn shingles_only() -> Config {
    Config {
        same_event: f64::INFINITY,
        ..Config::default()
    }
}

fn terms_only() -> Config {
    Config {
        near_duplicate: f64::INFINITY,
        ..Config::default()
    }
}

#[test]
fn labelled_set_precision_and_recall() {
    let tuning = load("tuning");
    let heldout = load("heldout");
    assert!(
        tuning.len() >= 30 && heldout.len() >= 30,
        "the labelled set went missing"
    );
    let mut both = tuning.clone();
    both.extend(heldout.iter().cloned());
    both.sort_by(|a, b| (a.doc.published, &a.doc.id).cmp(&(b.doc.published, &b.doc.id)));

    let default = Config::default();
    println!("\nverbatim-cluster on the labelled set (pairwise; goal >= {GOAL} for both)");
    let mut gated = Vec::new();
    for (name, set) in [("tuning", &tuning), ("held-out", &heldout)] {
        for (variant, config) in [
            ("shingles only", shingles_only()),
            ("event terms only", terms_only()),
            ("both (default)", default.clone()),
        ] {
            let outcome = evaluate(set, &config, all_pairs);
            report(&format!("{name}: {variant}"), set, &outcome);
            if variant == "both (default)" {
                gated.push((name, outcome));
            }
        }
    }
    let together = evaluate(&both, &default, all_pairs);
    report("all stories in one stream", &both, &together);

    let mut reversed = both.clone();
    reversed.reverse();
    let backwards = evaluate(&reversed, &default, all_pairs);
    report("all, inserted newest first", &both, &backwards);

    for (name, outcome) in &gated {
        if !outcome.errors.is_empty() {
            println!("errors, {name}:");
            for e in &outcome.errors {
                println!("{e}");
            }
        }
    }
    if !together.errors.is_empty() {
        println!("errors, all stories in one stream:");
        for e in &together.errors {
            println!("{e}");
        }
    }

    for (name, outcome) in &gated {
        let c = outcome.counts;
        assert!(
            c.precision() >= GOAL && c.recall() >= GOAL,
            "{name}: precision {:.3} recall {:.3} below {GOAL}",
            c.precision(),
            c.recall()
        );
    }
    let c = together.counts;
    assert!(c.precision() >= GOAL && c.recall() >= GOAL);
}

/// Other-language coverage of a tuning event: reported, not gated (the clusterer compares words;
/// it is not expected to link translations).
#[test]
fn cross_language_is_reported_not_gated() {
    let extra = load("cross_language");
    let mut stories = load("tuning");
    stories.extend(extra.iter().cloned());
    stories.sort_by(|a, b| (a.doc.published, &a.doc.id).cmp(&(b.doc.published, &b.doc.id)));
    let extra_ids: Vec<&str> = extra.iter().map(|s| s.doc.id.as_str()).collect();
    let involves_extra = |a: &Labelled, b: &Labelled| {
        extra_ids.contains(&a.doc.id.as_str()) || extra_ids.contains(&b.doc.id.as_str())
    };
    let outcome = evaluate(&stories, &Config::default(), involves_extra);
    report("cross-language pairs (not gated)", &extra, &outcome);
    // Adding them must not disturb the clustering of the tuning half itself.
    let tuning_ids: Vec<String> = load("tuning").into_iter().map(|s| s.doc.id).collect();
    let only_tuning = |a: &Labelled, b: &Labelled| {
        tuning_ids.contains(&a.doc.id) && tuning_ids.contains(&b.doc.id)
    };
    let inner = evaluate(&stories, &Config::default(), only_tuning);
    assert!(inner.counts.precision() >= GOAL && inner.counts.recall() >= GOAL);
}

/// Every story of the set: deterministic signatures, self-similarity 1, and the exact-duplicate
/// key finds the one story sent through two feeds and nothing else.
#[test]
fn fixtures_sanity() {
    let mut stories = load("tuning");
    stories.extend(load("heldout"));
    stories.extend(load("cross_language"));
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in &stories {
        let sig = s.doc.signature();
        assert_eq!(sig, Signature::of(&s.doc));
        assert_eq!(Signature::from_bytes(&sig.to_bytes()), Ok(sig.clone()));
        let own = similarity(&sig, &sig);
        assert_eq!(own.shingle_jaccard, 1.0, "{}", s.doc.id);
        if let Some(key) = verbatim_cluster::exact_duplicate_key(&s.doc.agency, &s.doc.body_text) {
            keys.entry(key).or_default().push(s.doc.id.clone());
        }
    }
    let dups: Vec<&Vec<String>> = keys.values().filter(|ids| ids.len() > 1).collect();
    assert_eq!(
        dups,
        [&vec![
            "nw-ferry-miren".to_string(),
            "nw-ferry-miren-regional-feed".to_string()
        ]]
    );
}

/// Tuning aid (ignored): every same-event pair of one half (`VERBATIM_CLUSTER_HALF`, default
/// `tuning`), and every other pair within 48 hours that shares at least one event term, with the
/// measures and terms. The held-out half was printed only after the thresholds were fixed.
#[test]
#[ignore]
fn pair_scores() {
    let half = std::env::var("VERBATIM_CLUSTER_HALF").unwrap_or_else(|_| "tuning".into());
    let stories = load(&half);
    let sigs: Vec<Signature> = stories.iter().map(|s| s.doc.signature()).collect();
    for (i, a) in stories.iter().enumerate() {
        for (j, b) in stories.iter().enumerate().skip(i + 1) {
            let sim = similarity(&sigs[i], &sigs[j]);
            let gap = (b.doc.published - a.doc.published).abs();
            let same = a.event == b.event;
            if same || (sim.shared_terms > 0 && gap <= TimeDelta::hours(48)) {
                println!(
                    "{} {:>5.1}h  J {:.2} C {:.2} | terms J {:.2} shared {:>2} ({:>2}/{:>2}) | {} + {}",
                    if same { "SAME" } else { "diff" },
                    gap.num_minutes() as f64 / 60.0,
                    sim.shingle_jaccard,
                    sim.shingle_containment,
                    sim.term_jaccard,
                    sim.shared_terms,
                    sigs[i].term_count(),
                    sigs[j].term_count(),
                    a.doc.id,
                    b.doc.id
                );
            }
        }
    }
    for s in &stories {
        let terms =
            verbatim_cluster::event_terms_of(&s.doc.agency, &s.doc.headline, &s.doc.body_text);
        println!("TERMS {}: {}", s.doc.id, terms.join(" "));
    }
}
