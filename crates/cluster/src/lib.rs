//! cluster: groups stories about the same event (one agency's updates and duplicates, and other
//! agencies' own write-ups) into story clusters, with MinHash + LSH over word shingles and over
//! each story's names and numbers. Pure: plain data in, cluster ids out; it never combines texts.

mod clusterer;
mod signature;
mod text;

pub use clusterer::{Assignment, ClusterId, Clusterer, Config, Match, MatchKind};
pub use signature::{Signature, SignatureError, Similarity, event_terms_of, similarity};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The fields of a story the clusterer reads. Nothing here is modified or combined: clustering
/// only groups ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterDoc {
    pub id: String,
    pub agency: String,
    pub headline: String,
    pub body_text: String,
    pub published: DateTime<Utc>,
}

impl ClusterDoc {
    pub fn signature(&self) -> Signature {
        Signature::of(self)
    }
}

impl Clusterer {
    /// Computes the story's signature and inserts it at its publication time.
    pub fn insert_doc(&mut self, doc: &ClusterDoc) -> ClusterId {
        self.insert(&doc.id, &doc.signature(), doc.published)
    }
}

/// A key equal for two copies of the same agency story that reached us through two feeds: same
/// agency, same body text once lowercased and with punctuation and spacing dropped (numbers keep
/// their separators, letters their accents, so `1.5` ≠ `15`). The caller folds items with equal
/// keys into one. `None` when the body has no word (nothing to compare). SHA-256 hex, so it can be
/// stored and indexed.
pub fn exact_duplicate_key(agency: &str, body_text: &str) -> Option<String> {
    let body = text::words(body_text, text::Fold::Exact, usize::MAX);
    if body.is_empty() {
        return None;
    }
    let agency = text::words(agency, text::Fold::Exact, usize::MAX);
    let mut key = String::from("verbatim-cluster exact v1\u{0}");
    push_joined(&mut key, &agency);
    key.push('\u{0}');
    push_joined(&mut key, &body);
    Some(verbatim_item::sha256_hex(key.as_bytes()))
}

fn push_joined(out: &mut String, words: &[text::Word]) {
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&w.text);
    }
}

/// The parameters, in one place. Changing any of the first group changes signatures: bump
/// [`Signature::VERSION`].
pub mod params {
    /// Words per shingle.
    pub const SHINGLE_WORDS: usize = 3;
    /// MinHash values per shingle signature.
    pub const SHINGLE_HASHES: usize = 128;
    /// Body words read at most (longer texts are compared on their start).
    pub const MAX_WORDS: usize = 20_000;
    /// Headline words read at most.
    pub const HEADLINE_WORDS: usize = 40;
    /// Body words read for event terms: the lead, where wire copy says who, what, where.
    pub const LEAD_WORDS: usize = 60;
    /// Event terms kept at most (never reached: headline + lead are shorter).
    pub const MAX_TERMS: usize = 100;
    /// Characters of a name kept as its event term (a crude stemmer for inflected languages).
    pub const TERM_PREFIX: usize = 6;

    /// LSH bands over the shingle MinHash (`SHINGLE_HASHES / SHINGLE_BANDS` = 2 rows each): a
    /// pair with shingle Jaccard 0.3 is a candidate with probability 1 - (1 - 0.3²)⁶⁴ = 0.998.
    pub const SHINGLE_BANDS: usize = 64;
    /// LSH bands over a MinHash of the event terms, one row each: a pair with term Jaccard 0.15
    /// is a candidate with probability 1 - 0.85⁶⁴ > 0.9999.
    pub const TERM_BANDS: usize = 64;
    /// Most recent entries of one bucket looked at per insert (bounds the cost of a text sent
    /// thousands of times).
    pub const MAX_BUCKET_SCAN: usize = 512;
    /// At most this many stored stories, those sharing the most LSH bands, are compared with a
    /// new story in full.
    pub const MAX_CANDIDATES: usize = 200;

    /// Containment is used only when the smaller text has at least this many shingles.
    pub const MIN_CONTAINMENT_SHINGLES: usize = 8;
    /// The term measure is used only when both stories have at least this many terms.
    pub const MIN_TERMS: usize = 3;

    /// Near-duplicate threshold on `max(shingle Jaccard, containment)`, and its window.
    pub const NEAR_DUPLICATE: f64 = 0.5;
    /// Event-term Jaccard a near-duplicate needs too, when both stories have terms.
    pub const NEAR_DUPLICATE_MIN_TERMS: f64 = 0.3;
    pub const NEAR_DUPLICATE_WINDOW_HOURS: i64 = 48;
    /// Same-event threshold on event-term Jaccard within the news cycle, and that window.
    pub const SAME_EVENT: f64 = 0.15;
    pub const SAME_EVENT_WINDOW_HOURS: i64 = 12;
    /// Same-event threshold for stories further apart, up to the late window.
    pub const LATE_SAME_EVENT: f64 = 0.6;
    pub const LATE_WINDOW_HOURS: i64 = 48;
    /// Shared event terms needed by both same-event rules.
    pub const SAME_EVENT_MIN_SHARED: usize = 2;
    /// A term in this many different clusters of the index no longer counts as evidence.
    pub const COMMON_TERM_CLUSTERS: usize = 5;
}
