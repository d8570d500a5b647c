//! Properties over arbitrary text: a story is identical to itself, signatures survive their byte
//! form, and no input or sequence of calls panics the clusterer.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use verbatim_cluster::{Clusterer, Signature, exact_duplicate_key, similarity};

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Text that mixes scripts, numbers, punctuation, emoji, combining marks and controls.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[A-Za-z]{1,12}",
            "[А-Яа-яЁё]{1,10}",
            "[0-9]{1,6}([.,][0-9]{1,3})?",
            Just("Zürich".to_string()),
            Just("東京で".to_string()),
            Just("e\u{301}\u{308}".to_string()),
            Just("🔥👨‍👩‍👧".to_string()),
            Just("\u{202e}\u{200d}\u{feff}".to_string()),
            "[ \\n\\t.,;:!?()\"'«»—-]{1,3}",
            any::<String>(),
        ],
        0..60,
    )
    .prop_map(|parts| parts.join(" "))
}

/// A wire-like story: one of a few events' lead sentences, some of a small pool of names and
/// figures, and filler words, so stories match within an event, link across events through
/// shared names, and a story's candidates often span several clusters.
fn wire_story() -> impl Strategy<Value = String> {
    const LEADS: [&str; 4] = [
        "A magnitude 6.4 earthquake struck Kessara province on Tuesday, killing 12 people in Hollin.",
        "Voters in Brevia chose a new parliament on Sunday after Premier Odran Valek resigned.",
        "Floods closed the Tarn bridge at Norvik as the river rose 3.2 metres overnight.",
        "Ostmark Steel cut 1,400 jobs at its Larsby plant, the company said on Friday.",
    ];
    const NAMES: [&str; 8] = [
        "Kessara", "Hollin", "Brevia", "Valek", "Norvik", "Tarn", "Ostmark", "Larsby",
    ];
    const WORDS: [&str; 10] = [
        "rescue",
        "teams",
        "said",
        "officials",
        "reported",
        "later",
        "more",
        "after",
        "the",
        "vote",
    ];
    (
        0usize..4,
        prop::collection::vec(0usize..8, 0..5),
        prop::collection::vec(0usize..10, 0..12),
        0u32..40,
    )
        .prop_map(|(lead, names, words, figure)| {
            let names: Vec<&str> = names.into_iter().map(|n| NAMES[n]).collect();
            let words: Vec<&str> = words.into_iter().map(|w| WORDS[w]).collect();
            format!(
                "{} {} {figure} {}.",
                LEADS[lead],
                names.join(" and "),
                words.join(" ")
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `insert` finds the cluster without always ranking the candidates; it puts every story
    /// where `insert_explained` does, and leaves the same clusters, through inserts, new
    /// versions, removals and retirements.
    #[test]
    fn insert_and_insert_explained_give_the_same_clusters(
        ops in prop::collection::vec((0u8..6, 0usize..30, wire_story(), -60i64..60), 1..80)
    ) {
        let (mut fast, mut explained) = (Clusterer::new(), Clusterer::new());
        for (op, n, body, hours) in ops {
            let id = format!("s{n}");
            let time = base() + TimeDelta::hours(hours);
            match op {
                0..=3 => {
                    let sig = Signature::new("Agency", "", &body);
                    let cluster = fast.insert(&id, &sig, time);
                    prop_assert_eq!(cluster, explained.insert_explained(&id, &sig, time).cluster);
                }
                4 => {
                    prop_assert_eq!(fast.remove(&id), explained.remove(&id));
                }
                _ => {
                    prop_assert_eq!(fast.retire_before(time), explained.retire_before(time));
                }
            }
            let fast_clusters: Vec<_> = fast.clusters().map(|(c, m)| (c, m.to_vec())).collect();
            let explained_clusters: Vec<_> =
                explained.clusters().map(|(c, m)| (c, m.to_vec())).collect();
            prop_assert_eq!(fast_clusters, explained_clusters);
        }
    }

    #[test]
    fn a_story_is_identical_to_itself(agency in text(), headline in text(), body in text()) {
        let sig = Signature::new(&agency, &headline, &body);
        prop_assert_eq!(&sig, &Signature::new(&agency, &headline, &body));
        let own = similarity(&sig, &sig);
        if sig.is_empty() {
            prop_assert_eq!(own.shingle_jaccard, 0.0);
        } else {
            prop_assert_eq!(own.shingle_jaccard, 1.0);
            prop_assert_eq!(own.near_duplicate(), 1.0);
            prop_assert!(own.term_jaccard == 1.0 || sig.term_count() < 3);
        }
        prop_assert_eq!(Signature::from_bytes(&sig.to_bytes()), Ok(sig));
    }

    #[test]
    fn similarity_is_symmetric_and_bounded(a in text(), b in text()) {
        let (x, y) = (Signature::new("N", "", &a), Signature::new("N", "", &b));
        let (s, t) = (similarity(&x, &y), similarity(&y, &x));
        prop_assert_eq!(s, t);
        for v in [s.shingle_jaccard, s.shingle_containment, s.term_jaccard] {
            prop_assert!((0.0..=1.0).contains(&v));
        }
    }

    #[test]
    fn from_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..700)) {
        let _ = Signature::from_bytes(&bytes);
    }

    #[test]
    fn exact_key_ignores_spacing_and_punctuation_only(body in text()) {
        let respaced = body.split_whitespace().collect::<Vec<_>>().join("  \n ");
        let key = exact_duplicate_key("Northwire", &body);
        prop_assert_eq!(&key, &exact_duplicate_key("Northwire", &respaced));
        prop_assert_eq!(&key, &exact_duplicate_key("NORTHWIRE", &format!("{body} ...")));
        if key.is_some() {
            prop_assert_ne!(&key, &exact_duplicate_key("Pacific Newsline", &body));
            prop_assert_ne!(&key, &exact_duplicate_key("Northwire", &format!("{body} more")));
        }
    }

    /// Arbitrary interleavings of insert, re-insert, remove and retire never panic, and every
    /// stored story is listed in exactly the cluster `cluster_of` reports.
    #[test]
    fn insert_never_panics(ops in prop::collection::vec((0u8..4, 0usize..12, text(), -72i64..72), 1..40)) {
        let mut c = Clusterer::new();
        for (op, n, body, hours) in ops {
            let id = format!("s{n}");
            let time = base() + TimeDelta::hours(hours);
            match op {
                0 | 1 => {
                    let sig = Signature::new("Agency", "Headline", &body);
                    let cluster = c.insert(&id, &sig, time);
                    prop_assert_eq!(c.cluster_of(&id), Some(cluster));
                }
                2 => { c.remove(&id); }
                _ => { c.retire_before(time); }
            }
            let mut listed = 0;
            for (cluster, members) in c.clusters() {
                prop_assert!(!members.is_empty());
                for m in members {
                    prop_assert_eq!(c.cluster_of(m), Some(cluster));
                    listed += 1;
                }
            }
            prop_assert_eq!(listed, c.len());
        }
    }
}
