//! Cost and precision at wire volume, on a synthetic stream (ignored; run with
//! `cargo test -p verbatim-cluster --release --test scale -- --ignored --nocapture`).
//!
//! 10,000 stories in 47 hours: 2,500 events, each told four times in three different wordings,
//! over only 7 countries and 7 topics, so many unrelated events share their country, topic,
//! title words and sentence patterns. Every event has its own town, people and figures. The
//! stream is much more repetitive than real copy; it is a stress test for chaining, not a
//! substitute for the labelled set.

use chrono::{TimeDelta, TimeZone, Utc};
use std::collections::HashMap;
use std::time::Instant;
use verbatim_cluster::{ClusterId, Clusterer, Signature};

const SYLLABLES: [&str; 32] = [
    "ka", "ro", "vi", "te", "sa", "lu", "mo", "di", "be", "qu", "ze", "po", "ri", "ha", "gu", "fe",
    "na", "lo", "si", "tu", "me", "da", "bo", "ki", "ja", "wo", "ne", "pi", "ru", "go", "xa", "yo",
];

/// A made-up name, letters only, distinct in its first six characters for distinct `n < 32768`.
fn name(n: usize) -> String {
    let word: String = [n / 1024 % 32, n / 32 % 32, n % 32]
        .iter()
        .map(|&d| SYLLABLES[d])
        .collect::<String>()
        + "ria";
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn story(event: usize, telling: usize) -> (String, String) {
    let countries = [
        "Valdoria", "Kessland", "Tarnland", "Orvania", "Brevia", "Norvik", "Ostmark",
    ];
    let topics = [
        "earthquake",
        "election",
        "strike",
        "flood",
        "fire",
        "protest",
        "crash",
    ];
    let country = countries[event % 7];
    let topic = topics[(event / 7) % 7];
    let town = name(event * 3);
    let person = format!("{} {}", name(event * 3 + 1), name(event * 3 + 2));
    let count = event % 500 + 3;
    let figure = event % 89 + 10;
    let filler = "Officials said more details would be given later in the day, and residents \
                  were asked to follow the advice of the local authorities. ";
    match telling % 3 {
        0 => (
            format!("{topic} in {town}, {country}: {count} affected"),
            format!(
                "{}, {country} (Agency) - A {topic} hit the town of {town} in {country} on \
                 Tuesday, affecting {count} people, Mayor {person} said. Damage was put at \
                 {figure} million. {}",
                town.to_uppercase(),
                filler.repeat(3)
            ),
        ),
        1 => (
            format!("{count} people affected as {topic} strikes {town}"),
            format!(
                "At least {count} people in {town} were affected on Tuesday, according to the \
                 mayor, {person}. The {topic} in the west of {country} caused losses of about \
                 {figure} million, the regional government of {country} said. {}",
                filler.repeat(2)
            ),
        ),
        _ => (
            format!("{country}: {town} counts the cost of {topic}"),
            format!(
                "Residents of {town} cleared up on Tuesday after the {topic}, which mayor \
                 {person} said had affected {count} people. Insurers in {country} estimated the \
                 bill at {figure} million."
            ),
        ),
    }
}

#[test]
#[ignore]
fn ten_thousand_stories_in_two_days() {
    let base = Utc
        .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    // Events overlap in time: the stories of one event arrive over about an hour.
    let stories: Vec<(usize, String, String)> = (0..10_000usize)
        .map(|i| {
            let event = (i / 16) * 4 + i % 4;
            let telling = (i / 4) % 4;
            let (h, b) = story(event, telling);
            (event, h, b)
        })
        .collect();
    let started = Instant::now();
    let sigs: Vec<Signature> = stories
        .iter()
        .map(|(_, h, b)| Signature::new("Agency", h, b))
        .collect();
    let signed = started.elapsed();
    let started = Instant::now();
    let mut c = Clusterer::new();
    let mut assigned: Vec<ClusterId> = Vec::new();
    for (i, sig) in sigs.iter().enumerate() {
        let time = base + TimeDelta::seconds(i as i64 * 17);
        assigned.push(c.insert(&format!("s{i}"), sig, time));
    }
    let inserted = started.elapsed();

    // Pairwise precision and recall, counted per cluster and per event.
    let mut cluster_sizes: HashMap<ClusterId, usize> = HashMap::new();
    let mut event_sizes: HashMap<usize, usize> = HashMap::new();
    let mut both: HashMap<(ClusterId, usize), usize> = HashMap::new();
    for (i, (event, _, _)) in stories.iter().enumerate() {
        *cluster_sizes.entry(assigned[i]).or_default() += 1;
        *event_sizes.entry(*event).or_default() += 1;
        *both.entry((assigned[i], *event)).or_default() += 1;
    }
    let pairs = |n: &usize| n * n.saturating_sub(1) / 2;
    let tp: usize = both.values().map(pairs).sum();
    let predicted: usize = cluster_sizes.values().map(pairs).sum();
    let actual: usize = event_sizes.values().map(pairs).sum();
    let precision = tp as f64 / predicted.max(1) as f64;
    let recall = tp as f64 / actual.max(1) as f64;
    println!(
        "10,000 stories: signatures {:?} ({:?} each), inserts {:?} ({:?} each)",
        signed,
        signed / 10_000,
        inserted,
        inserted / 10_000,
    );
    println!(
        "{} clusters for {} events, largest {}; pairwise precision {precision:.3} recall {recall:.3}",
        cluster_sizes.len(),
        event_sizes.len(),
        cluster_sizes.values().max().copied().unwrap_or(0),
    );
    // Where the wrong links were made: a story joining a cluster that holds another event.
    let mut first_event: HashMap<ClusterId, usize> = HashMap::new();
    let mut wrong_joins = [0usize; 2];
    for (i, (event, _, _)) in stories.iter().enumerate() {
        let owner = *first_event.entry(assigned[i]).or_insert(*event);
        if owner != *event {
            wrong_joins[usize::from(i >= 500)] += 1;
        }
    }
    println!(
        "stories put in another event's cluster: {} of the first 500 (before names become \
         common), {} of the other 9,500",
        wrong_joins[0], wrong_joins[1]
    );
}
