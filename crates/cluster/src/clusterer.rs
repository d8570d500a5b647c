//! The LSH index and the assignment rule.

use crate::params;
use crate::signature::{self, Signature, Similarity, TERM_STREAM, mix64};
use chrono::{DateTime, TimeDelta, Utc};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A story cluster: the stories the clusterer judged to be about the same event. Numbers are
/// handed out in order from 1 and never reused by one `Clusterer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClusterId(pub u64);

impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Thresholds and windows of the assignment rule. [`Config::default`] holds the values chosen on
/// the tuning half of the labelled set (see the crate README for why each).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Near-duplicate: `max(shingle Jaccard, shingle containment)` at least this …
    pub near_duplicate: f64,
    /// … and, when both stories have event terms, a term Jaccard of at least this: one
    /// template filled with other names and numbers (market reports, results, weather) is
    /// not the same story …
    pub near_duplicate_min_terms: f64,
    /// … and at most this far apart in time (rewrites, updates, flash → full story).
    pub near_duplicate_window: TimeDelta,
    /// Same event, same news cycle: event-term Jaccard at least this when the two stories are at
    /// most [`Config::same_event_window`] apart …
    pub same_event: f64,
    pub same_event_window: TimeDelta,
    /// … or at least this when they are further apart, up to [`Config::late_window`]: a day
    /// later, the same names usually mean a follow-up (the coach sacked after the defeat, the
    /// rebound after the slump), and only a story that repeats nearly all of them is still the
    /// same event.
    pub late_same_event: f64,
    pub late_window: TimeDelta,
    /// Both same-event rules also need at least this many shared event terms, at least one of
    /// them a name: numbers alone (a score, a percentage) do not make two stories one event.
    pub same_event_min_shared: usize,
    /// An event term found in at least this many different clusters of the index (the country
    /// of the day's big story, a common figure) is too common to link two stories: the term
    /// measures leave it out.
    pub common_term_clusters: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            near_duplicate: params::NEAR_DUPLICATE,
            near_duplicate_min_terms: params::NEAR_DUPLICATE_MIN_TERMS,
            near_duplicate_window: TimeDelta::hours(params::NEAR_DUPLICATE_WINDOW_HOURS),
            same_event: params::SAME_EVENT,
            same_event_window: TimeDelta::hours(params::SAME_EVENT_WINDOW_HOURS),
            late_same_event: params::LATE_SAME_EVENT,
            late_window: TimeDelta::hours(params::LATE_WINDOW_HOURS),
            same_event_min_shared: params::SAME_EVENT_MIN_SHARED,
            common_term_clusters: params::COMMON_TERM_CLUSTERS,
        }
    }
}

/// Which rule linked two stories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// Same event: different wording, shared names and numbers.
    SameEvent,
    /// Near-duplicate text.
    NearDuplicate,
}

impl Config {
    /// The rule for one pair: which kind of match (if any) `similarity` and the time `gap`
    /// between the two stories make. Near-duplicate wins when both hold.
    pub fn judge(&self, similarity: &Similarity, gap: TimeDelta) -> Option<MatchKind> {
        let gap = gap.abs();
        let terms_agree =
            !similarity.has_terms || similarity.term_jaccard >= self.near_duplicate_min_terms;
        if gap <= self.near_duplicate_window
            && similarity.near_duplicate() >= self.near_duplicate
            && terms_agree
        {
            Some(MatchKind::NearDuplicate)
        } else {
            let needed = if gap <= self.same_event_window {
                self.same_event
            } else if gap <= self.late_window {
                self.late_same_event
            } else {
                return None;
            };
            (similarity.term_jaccard >= needed
                && similarity.shared_terms >= self.same_event_min_shared
                && similarity.shared_names >= 1)
                .then_some(MatchKind::SameEvent)
        }
    }
}

/// The stored story a new one was matched with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    pub id: String,
    pub kind: MatchKind,
    /// The measures as the rule saw them: terms common in the index left out of the term
    /// measures.
    pub similarity: Similarity,
}

/// Where [`Clusterer::insert_explained`] put a story, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub cluster: ClusterId,
    /// The best matching stored story, or `None` when the story started a new cluster (or was
    /// already present and kept its cluster).
    pub matched: Option<Match>,
}

#[derive(Debug, Clone)]
struct Doc {
    id: String,
    seq: u64,
    time: DateTime<Utc>,
    cluster: ClusterId,
    /// `None` once retired: no longer a candidate, still a member of its cluster.
    signature: Option<Signature>,
}

/// An LSH index over story signatures that assigns each inserted story to a cluster.
///
/// A new story joins the cluster of its best match among the stored stories (see
/// [`Config::judge`]; near-duplicates before same-event matches, then the higher score, then the
/// earlier insertion), or starts a new cluster. Clusters are never merged or split afterwards, so
/// a cluster id, once handed out, stays valid. Deterministic: the same calls in the same order
/// give the same clusters.
#[derive(Debug, Clone, Default)]
pub struct Clusterer {
    config: Config,
    slots: Vec<Option<Doc>>,
    free: Vec<usize>,
    // Fx hashing: the keys are ids and already-mixed 64-bit hashes, and SipHash's protection
    // against chosen keys costs more here than it buys (a third of the clusterer's time).
    by_id: FxHashMap<String, usize>,
    buckets: Buckets,
    clusters: BTreeMap<ClusterId, Vec<String>>,
    /// For each event term of the indexed stories: how many indexed stories of each cluster
    /// have it.
    term_clusters: FxHashMap<u64, TermClusters>,
    /// The terms of `term_clusters` found in at least [`Config::common_term_clusters`]
    /// clusters, kept beside it: comparing one story with 200 candidates asks about every term
    /// of each, and a small set answers faster than the map of every term.
    common_terms: FxHashSet<u64>,
    /// How many LSH bands each stored slot shares with the story being matched (all zero
    /// between matches; kept to save an allocation per story).
    /// (At most 128 bands, each key's bucket scanned once per key: a slot's count fits a byte,
    /// and byte counters keep the whole array in cache: at 100,000 stories, 100 KB.)
    shared_bands: Vec<u8>,
    /// The distinct slots of the story being matched, in the order first seen (kept between
    /// matches, like `shared_bands`).
    seen_slots: Vec<u32>,
    last_cluster: u64,
    next_seq: u64,
}

// A story's bands are counted in a byte (`Clusterer::shared_bands`).
const _: () = assert!(params::SHINGLE_BANDS + params::TERM_BANDS <= u8::MAX as usize);

/// The LSH bucket keys of a signature: one per band of the shingle MinHash and one per band of a
/// MinHash of the event terms.
fn band_keys(sig: &Signature) -> Vec<u64> {
    let mut keys = Vec::with_capacity(params::SHINGLE_BANDS + params::TERM_BANDS);
    let mut band = |tag: u64, index: usize, values: &[u32]| {
        let mut key = mix64(tag ^ (index as u64));
        for &v in values {
            key = mix64(key ^ u64::from(v));
        }
        keys.push(key);
    };
    let rows = params::SHINGLE_HASHES / params::SHINGLE_BANDS;
    for (i, chunk) in sig.shingles.chunks_exact(rows).enumerate() {
        band(0x1000, i, chunk);
    }
    if sig.terms.len() >= params::MIN_TERMS {
        let term_hashes = signature::minhash(&sig.terms, params::TERM_BANDS, TERM_STREAM);
        for (i, value) in term_hashes.iter().enumerate() {
            band(0x2000, i, std::slice::from_ref(value));
        }
    }
    keys
}

impl Clusterer {
    /// An empty index with the measured default [`Config`].
    pub fn new() -> Clusterer {
        Clusterer::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> Clusterer {
        Clusterer {
            config,
            ..Clusterer::default()
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Inserts a story and returns its cluster, the one [`Clusterer::insert_explained`] gives
    /// (the same state after it too), found without always naming the best match: when every
    /// candidate is in one cluster, the first that matches decides.
    pub fn insert(&mut self, id: &str, signature: &Signature, time: DateTime<Utc>) -> ClusterId {
        self.insert_with(id, signature, time, Explain::No).cluster
    }

    /// Inserts a story: it joins the cluster of its best match among the stored stories, or
    /// starts a new cluster. An id already present keeps its cluster (a story's new version
    /// stays where readers found it); its signature and time are replaced.
    pub fn insert_explained(
        &mut self,
        id: &str,
        signature: &Signature,
        time: DateTime<Utc>,
    ) -> Assignment {
        self.insert_with(id, signature, time, Explain::Yes)
    }

    fn insert_with(
        &mut self,
        id: &str,
        signature: &Signature,
        time: DateTime<Utc>,
        explain: Explain,
    ) -> Assignment {
        if let Some(cluster) = self.cluster_of(id) {
            self.unindex(id);
            let keys = band_keys(signature);
            self.index(id, signature, &keys, time, cluster, Member::Already);
            return Assignment {
                cluster,
                matched: None,
            };
        }
        // Computed once for matching and indexing (each key is a MinHash band).
        let keys = band_keys(signature);
        let best = self.best_match(signature, &keys, time, explain);
        let (cluster, matched) = match best {
            Some((slot, m)) => match self.slots.get(slot).and_then(Option::as_ref) {
                Some(doc) => (doc.cluster, Some(m)),
                None => (self.new_cluster(), None),
            },
            None => (self.new_cluster(), None),
        };
        self.index(id, signature, &keys, time, cluster, Member::New);
        Assignment { cluster, matched }
    }

    /// Puts a story back into a known cluster without matching (for rebuilding the index from
    /// stored assignments at start-up). Later new clusters get higher numbers than `cluster`.
    pub fn restore(
        &mut self,
        id: &str,
        signature: &Signature,
        time: DateTime<Utc>,
        cluster: ClusterId,
    ) {
        self.remove(id);
        self.last_cluster = self.last_cluster.max(cluster.0);
        let keys = band_keys(signature);
        self.index(id, signature, &keys, time, cluster, Member::New);
    }

    /// Removes a story from the index and from its cluster; returns the cluster it was in. A
    /// cluster left empty disappears. The other members stay together.
    pub fn remove(&mut self, id: &str) -> Option<ClusterId> {
        let cluster = self.unindex(id)?;
        if let Some(members) = self.clusters.get_mut(&cluster) {
            members.retain(|m| m != id);
            if members.is_empty() {
                self.clusters.remove(&cluster);
            }
        }
        Some(cluster)
    }

    /// Stops matching new stories against stories older than `cutoff` (they stay members of their
    /// clusters). With `cutoff = newest time - the largest window` nothing a new story could match
    /// is lost and memory stays bounded. Returns how many were retired.
    pub fn retire_before(&mut self, cutoff: DateTime<Utc>) -> usize {
        let old: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, doc)| {
                let doc = doc.as_ref()?;
                (doc.signature.is_some() && doc.time < cutoff).then_some(slot)
            })
            .collect();
        for &slot in &old {
            let taken = self
                .slots
                .get_mut(slot)
                .and_then(Option::as_mut)
                .and_then(|doc| Some((doc.signature.take()?, doc.cluster)));
            if let Some((signature, cluster)) = taken {
                self.drop_from_buckets(slot, &signature, cluster);
            }
        }
        old.len()
    }

    /// The cluster of a stored story.
    pub fn cluster_of(&self, id: &str) -> Option<ClusterId> {
        let slot = *self.by_id.get(id)?;
        self.slots.get(slot)?.as_ref().map(|doc| doc.cluster)
    }

    /// The stories of a cluster, in insertion order (empty for an unknown cluster).
    pub fn members(&self, cluster: ClusterId) -> &[String] {
        self.clusters.get(&cluster).map_or(&[], Vec::as_slice)
    }

    /// All clusters, in id order.
    pub fn clusters(&self) -> impl Iterator<Item = (ClusterId, &[String])> {
        self.clusters.iter().map(|(id, m)| (*id, m.as_slice()))
    }

    /// Number of stored stories.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn new_cluster(&mut self) -> ClusterId {
        self.last_cluster += 1;
        ClusterId(self.last_cluster)
    }

    /// The best match (see [`Clusterer`]) among the stored stories that share the most bands
    /// with the story. Unexplained, and with every candidate in one cluster, the first match
    /// found instead: the story joins that cluster whichever of them matches best.
    fn best_match(
        &mut self,
        signature: &Signature,
        keys: &[u64],
        time: DateTime<Utc>,
        explain: Explain,
    ) -> Option<(usize, Match)> {
        if signature.is_empty() {
            return None;
        }
        // (bands shared, slot): the more bands a stored story shares, the more alike LSH
        // estimates the two. Only the most alike are compared, so a story's cost is bounded
        // however many stories share a common word's band. Counted in place rather than by
        // sorting every hit (up to 512 per band), which was 40 % of the clusterer's time.
        let mut shared_bands = std::mem::take(&mut self.shared_bands);
        shared_bands.resize(self.slots.len(), 0);
        // A term band is one event term: the one with the band's minimum hash. When that term is
        // common (in many clusters), every story sharing it collides there, and the match rules
        // leave the term out; such a bucket names no candidate worth comparing, so it is not
        // read (a story is still filed under it).
        let band_terms = if signature.terms.len() >= params::MIN_TERMS {
            signature::minhash_elements(&signature.terms, params::TERM_BANDS, TERM_STREAM)
        } else {
            Vec::new()
        };
        // Every bucket is looked up before any is counted: each lookup is a miss in a map of
        // 128 keys a story, and a loop that only looks up has many of them in flight at once.
        let lists: Vec<(Option<u32>, &[u32])> = keys
            .iter()
            .enumerate()
            .filter(|(band, _)| {
                let band_term = band
                    .checked_sub(params::SHINGLE_BANDS)
                    .and_then(|term_band| band_terms.get(term_band));
                !band_term.is_some_and(|&term| self.is_common(term))
            })
            .map(|(_, &key)| self.buckets.recent(key, params::MAX_BUCKET_SCAN))
            .collect();
        // Each slot is written to the next place of `seen`, and the place kept only when the
        // slot's count was zero: no branch on whether a slot is new, which the processor
        // mispredicted often (a story's lists hold thousands of slots).
        let listed: usize = lists
            .iter()
            .map(|(first, more)| usize::from(first.is_some()) + more.len())
            .sum();
        let mut seen = std::mem::take(&mut self.seen_slots);
        if seen.len() < listed {
            seen.resize(listed, 0);
        }
        let mut distinct = 0;
        let mut count = |slot: u32| {
            if let Some(count) = shared_bands.get_mut(slot as usize) {
                if let Some(place) = seen.get_mut(distinct) {
                    *place = slot;
                }
                distinct += usize::from(*count == 0);
                *count = count.saturating_add(1);
            }
        };
        for (first, more) in lists {
            if let Some(slot) = first {
                count(slot);
            }
            for &slot in more {
                count(slot);
            }
        }
        let mut candidates: Vec<(usize, usize)> = seen
            .get(..distinct)
            .unwrap_or_default()
            .iter()
            .map(|&slot| {
                let slot = slot as usize;
                let bands = shared_bands.get_mut(slot).map_or(0, std::mem::take);
                (usize::from(bands), slot)
            })
            .collect();
        self.shared_bands = shared_bands;
        self.seen_slots = seen;
        if candidates.len() > params::MAX_CANDIDATES {
            candidates.select_nth_unstable_by(params::MAX_CANDIDATES - 1, |a, b| {
                b.0.cmp(&a.0).then(a.1.cmp(&b.1))
            });
            candidates.truncate(params::MAX_CANDIDATES);
        }
        // The story's own terms without the common ones, once rather than once per candidate.
        let kept: Vec<u64> = signature
            .terms
            .iter()
            .copied()
            .filter(|term| !self.is_common(*term))
            .collect();
        if explain == Explain::No && self.in_one_cluster(&candidates) {
            // In a busy event's cluster nearly every candidate matches: comparing all of them
            // to rank them was a third of an insert's instructions.
            return candidates.iter().find_map(|&(_, slot)| {
                let (_, kind, similarity) = self.compare(signature, &kept, slot, time)?;
                self.named_match(slot, kind, similarity)
            });
        }
        self.load_ahead(&candidates);

        let mut best: Option<(MatchKind, f64, u64, usize, Similarity)> = None;
        for (_, slot) in candidates {
            let Some((doc, kind, sim)) = self.compare(signature, &kept, slot, time) else {
                continue;
            };
            let score = match kind {
                MatchKind::NearDuplicate => sim.near_duplicate(),
                MatchKind::SameEvent => sim.term_jaccard,
            };
            let better = match &best {
                None => true,
                Some((bk, bs, bseq, _, _)) => {
                    (kind, score) > (*bk, *bs) || ((kind, score) == (*bk, *bs) && doc.seq < *bseq)
                }
            };
            if better {
                best = Some((kind, score, doc.seq, slot, sim));
            }
        }
        best.and_then(|(kind, _, _, slot, similarity)| self.named_match(slot, kind, similarity))
    }

    /// The stored story in `slot` compared with a new one (`kept`: its terms without the common
    /// ones): the stored story, and the kind of match with the measures, if the rule finds one.
    fn compare(
        &self,
        signature: &Signature,
        kept: &[u64],
        slot: usize,
        time: DateTime<Utc>,
    ) -> Option<(&Doc, MatchKind, Similarity)> {
        let doc = self.slots.get(slot)?.as_ref()?;
        let stored = doc.signature.as_ref()?;
        let similarity = signature::similarity_to(signature, kept, stored, |t| self.is_common(t));
        let kind = self.config.judge(&similarity, time - doc.time)?;
        Some((doc, kind, similarity))
    }

    /// A match with the stored story in `slot`, named by its id.
    fn named_match(
        &self,
        slot: usize,
        kind: MatchKind,
        similarity: Similarity,
    ) -> Option<(usize, Match)> {
        let doc = self.slots.get(slot)?.as_ref()?;
        Some((
            slot,
            Match {
                id: doc.id.clone(),
                kind,
                similarity,
            },
        ))
    }

    /// Whether every candidate that can be compared (a stored story with a signature) is in the
    /// same cluster.
    fn in_one_cluster(&self, candidates: &[(usize, usize)]) -> bool {
        let mut clusters = candidates.iter().filter_map(|&(_, slot)| {
            let doc = self.slots.get(slot)?.as_ref()?;
            doc.signature.as_ref().map(|_| doc.cluster)
        });
        let first = clusters.next();
        clusters.all(|cluster| Some(cluster) == first)
    }

    /// Reads one value from each cache line of the candidates' signatures before they are
    /// compared. The candidates are scattered over the whole index, so comparing them one after
    /// the other waited for memory once per candidate (the slot, then its signature): a third of
    /// the inserts' time. This loop has no branch or result between candidates, so the processor
    /// has many of their lines in flight at once, and the compares then find them in cache.
    fn load_ahead(&self, candidates: &[(usize, usize)]) {
        const VALUES_A_LINE: usize = 64 / std::mem::size_of::<u32>();
        const TERMS_A_LINE: usize = 64 / std::mem::size_of::<u64>();
        let mut read = 0u64;
        for &(_, slot) in candidates {
            let signature = self
                .slots
                .get(slot)
                .and_then(Option::as_ref)
                .and_then(|doc| doc.signature.as_ref());
            if let Some(signature) = signature {
                for &value in signature.shingles.iter().step_by(VALUES_A_LINE) {
                    read ^= u64::from(value);
                }
                for &term in signature.terms.iter().step_by(TERMS_A_LINE) {
                    read ^= term;
                }
            }
        }
        // Keeps the reads: without a use of their result the compiler would drop them.
        std::hint::black_box(read);
    }

    /// True when `term` is in at least [`Config::common_term_clusters`] clusters.
    fn is_common(&self, term: u64) -> bool {
        self.common_terms.contains(&term)
    }

    fn count_terms(&mut self, signature: &Signature, cluster: ClusterId, add: bool) {
        let threshold = self.config.common_term_clusters;
        for &term in &signature.terms {
            let by_cluster = self.term_clusters.entry(term).or_insert(TermClusters::None);
            let before = by_cluster.len();
            by_cluster.count(cluster, add);
            let after = by_cluster.len();
            if after == 0 {
                self.term_clusters.remove(&term);
            }
            // The set holds the terms in at least `threshold` clusters: it changes when a count
            // crosses the threshold (or, with a threshold of 0, when a term is first seen).
            if after >= threshold && (before < threshold || before == 0) {
                self.common_terms.insert(term);
            } else if after < threshold && before >= threshold {
                self.common_terms.remove(&term);
            }
        }
    }

    fn index(
        &mut self,
        id: &str,
        signature: &Signature,
        keys: &[u64],
        time: DateTime<Utc>,
        cluster: ClusterId,
        member: Member,
    ) {
        let doc = Doc {
            id: id.to_string(),
            seq: self.next_seq,
            time,
            cluster,
            signature: Some(signature.clone()),
        };
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(place) = self.slots.get_mut(slot) {
                    *place = Some(doc);
                }
                slot
            }
            None => {
                self.slots.push(Some(doc));
                self.slots.len() - 1
            }
        };
        self.by_id.insert(id.to_string(), slot);
        if !signature.is_empty() {
            for &key in keys {
                self.buckets.push(key, slot);
            }
        }
        self.count_terms(signature, cluster, true);
        if member == Member::New {
            self.clusters
                .entry(cluster)
                .or_default()
                .push(id.to_string());
        }
    }

    /// Takes a story out of the slots and buckets (not out of its cluster's member list).
    fn unindex(&mut self, id: &str) -> Option<ClusterId> {
        let slot = self.by_id.remove(id)?;
        let doc = self.slots.get_mut(slot)?.take()?;
        if let Some(signature) = &doc.signature {
            self.drop_from_buckets(slot, signature, doc.cluster);
        }
        self.free.push(slot);
        Some(doc.cluster)
    }

    fn drop_from_buckets(&mut self, slot: usize, signature: &Signature, cluster: ClusterId) {
        self.count_terms(signature, cluster, false);
        for key in band_keys(signature) {
            self.buckets.remove(key, slot);
        }
    }
}

/// For one event term: how many indexed stories of each cluster have it. Nearly every term is in
/// one cluster, so that case is held inline rather than in a map of its own, which took an
/// allocation (about 100 bytes) for every distinct term of the index.
#[derive(Debug, Clone, PartialEq)]
enum TermClusters {
    /// In no cluster (only between a term's lookup and its first count).
    None,
    One(ClusterId, u32),
    /// In two or more clusters (or fewer, after removals).
    Many(FxHashMap<ClusterId, u32>),
}

impl TermClusters {
    /// In how many clusters the term is.
    fn len(&self) -> usize {
        match self {
            TermClusters::None => 0,
            TermClusters::One(..) => 1,
            TermClusters::Many(map) => map.len(),
        }
    }

    /// Counts one story of `cluster` more (`add`) or one fewer (never below zero; a cluster
    /// whose count reaches zero is no longer one of the term's).
    fn count(&mut self, cluster: ClusterId, add: bool) {
        match self {
            TermClusters::None => {
                if add {
                    *self = TermClusters::One(cluster, 1);
                }
            }
            TermClusters::One(only, stories) if *only == cluster => {
                if add {
                    *stories += 1;
                } else {
                    *stories = stories.saturating_sub(1);
                    if *stories == 0 {
                        *self = TermClusters::None;
                    }
                }
            }
            TermClusters::One(only, stories) => {
                if add {
                    let mut map = FxHashMap::default();
                    map.insert(*only, *stories);
                    map.insert(cluster, 1);
                    *self = TermClusters::Many(map);
                }
            }
            TermClusters::Many(map) => {
                if add {
                    *map.entry(cluster).or_default() += 1;
                } else if let Some(stories) = map.get_mut(&cluster) {
                    *stories = stories.saturating_sub(1);
                    if *stories == 0 {
                        map.remove(&cluster);
                    }
                }
            }
        }
    }
}

/// Whether an insert must name the best match ([`Clusterer::insert_explained`]) or only find
/// the cluster ([`Clusterer::insert`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Explain {
    Yes,
    No,
}

/// Whether a story being indexed is already in its cluster's member list (a new version of a
/// stored story) or joins it. Told rather than looked up: a busy cluster's list is long, and
/// scanning it for every insert was 6 % of a whole ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    New,
    Already,
}

/// The LSH buckets: for each band key, the slots of the stories with it, oldest first. Most
/// keys belong to one story, so a key's first slot is kept in a map of its own and only the
/// rest in a list: 128 keys a story, each its own list, cost about 3.5 KB more a story.
#[derive(Debug, Clone, Default)]
struct Buckets {
    first: FxHashMap<u64, u32>,
    more: FxHashMap<u64, Vec<u32>>,
}

impl Buckets {
    fn push(&mut self, key: u64, slot: usize) {
        // Slots index a `Vec` of stories held in memory: far below 2^32.
        let slot = u32::try_from(slot).unwrap_or(u32::MAX);
        match self.first.entry(key) {
            std::collections::hash_map::Entry::Vacant(vacant) => {
                vacant.insert(slot);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.more.entry(key).or_default().push(slot);
            }
        }
    }

    /// The last `at_most` slots of `key`'s bucket, oldest first: the first slot when it is one of
    /// them, then the rest.
    fn recent(&self, key: u64, at_most: usize) -> (Option<u32>, &[u32]) {
        let Some(&first) = self.first.get(&key) else {
            return (None, &[]);
        };
        let more: &[u32] = self.more.get(&key).map_or(&[], Vec::as_slice);
        let first = (more.len() < at_most).then_some(first);
        let more = more
            .get(more.len().saturating_sub(at_most)..)
            .unwrap_or(&[]);
        (first, more)
    }

    /// Takes every occurrence of `slot` out of `key`'s bucket.
    fn remove(&mut self, key: u64, slot: usize) {
        let Ok(slot) = u32::try_from(slot) else {
            return;
        };
        let Some(&first) = self.first.get(&key) else {
            return;
        };
        let mut rest = self.more.remove(&key).unwrap_or_default();
        rest.retain(|&kept| kept != slot);
        if first == slot {
            if rest.is_empty() {
                self.first.remove(&key);
                return;
            }
            self.first.insert(key, rest.remove(0));
        }
        if !rest.is_empty() {
            self.more.insert(key, rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A small deterministic generator for the model tests: each call draws a number below
    /// `bound`.
    fn draws(seed: u64) -> impl FnMut(u64) -> u64 {
        let mut state = seed;
        move |bound| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % bound
        }
    }

    #[test]
    fn buckets_keep_the_order_and_the_recent_slots_of_a_list_per_key() {
        // Against the plain model: a list of slots per key, oldest first.
        let mut buckets = Buckets::default();
        let mut model: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        let mut next = draws(7);
        for _ in 0..20_000 {
            let (key, slot) = (next(40), next(30) as usize);
            if next(3) == 0 {
                buckets.remove(key, slot);
                if let Some(list) = model.get_mut(&key) {
                    list.retain(|&kept| kept != slot);
                    if list.is_empty() {
                        model.remove(&key);
                    }
                }
            } else {
                buckets.push(key, slot);
                model.entry(key).or_default().push(slot);
            }
            let at_most = next(6) as usize;
            let (first, more) = buckets.recent(key, at_most);
            let seen: Vec<usize> = first
                .iter()
                .chain(more)
                .map(|&slot| slot as usize)
                .collect();
            let list = model.get(&key).map_or(&[][..], Vec::as_slice);
            assert_eq!(seen, list[list.len().saturating_sub(at_most)..]);
        }
        assert_eq!(buckets.first.len(), model.len());
        assert_eq!(
            buckets.more.values().map(Vec::len).sum::<usize>(),
            model.values().map(|list| list.len() - 1).sum::<usize>()
        );
    }

    #[test]
    fn term_counts_and_common_terms_follow_a_map_of_maps() {
        // Against the plain model: a map of every term's clusters, and the common set updated
        // after every count, for thresholds either side of the inline case.
        for threshold in [0, 1, 2, 3, 5] {
            let mut clusterer = Clusterer::with_config(Config {
                common_term_clusters: threshold,
                ..Config::default()
            });
            let mut model: BTreeMap<u64, BTreeMap<ClusterId, u32>> = BTreeMap::new();
            let mut model_common: std::collections::BTreeSet<u64> = Default::default();
            let mut next = draws(11 + threshold as u64);
            for _ in 0..6_000 {
                let mut terms: Vec<u64> = (0..next(4)).map(|_| next(12)).collect();
                terms.sort_unstable();
                terms.dedup();
                let signature = Signature {
                    shingle_count: 0,
                    shingles: Vec::new(),
                    terms,
                };
                let cluster = ClusterId(next(6));
                let add = next(5) < 3;
                clusterer.count_terms(&signature, cluster, add);
                for &term in &signature.terms {
                    let by_cluster = model.entry(term).or_default();
                    let count = by_cluster.entry(cluster).or_default();
                    *count = if add {
                        *count + 1
                    } else {
                        count.saturating_sub(1)
                    };
                    if *count == 0 {
                        by_cluster.remove(&cluster);
                    }
                    if by_cluster.len() >= threshold {
                        model_common.insert(term);
                    } else {
                        model_common.remove(&term);
                    }
                    if by_cluster.is_empty() {
                        model.remove(&term);
                    }
                }
                let counted: BTreeMap<u64, BTreeMap<ClusterId, u32>> = clusterer
                    .term_clusters
                    .iter()
                    .map(|(&term, by_cluster)| {
                        let counts = match by_cluster {
                            TermClusters::None => BTreeMap::new(),
                            TermClusters::One(cluster, stories) => {
                                BTreeMap::from([(*cluster, *stories)])
                            }
                            TermClusters::Many(map) => map.iter().map(|(c, n)| (*c, *n)).collect(),
                        };
                        assert_eq!(counts.len(), by_cluster.len());
                        (term, counts)
                    })
                    .collect();
                assert_eq!(counted, model, "threshold {threshold}");
                let common: std::collections::BTreeSet<u64> =
                    clusterer.common_terms.iter().copied().collect();
                assert_eq!(common, model_common, "threshold {threshold}");
            }
        }
    }

    fn at(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 4, 6, 0, 0)
            .single()
            .unwrap_or_default()
            + TimeDelta::hours(hours)
    }

    const QUAKE: &str = "DREVIK, Valdoria (Northwire) - A magnitude 6.4 earthquake struck Kessara \
        province in northern Valdoria early on Tuesday, killing at least 12 people, the national \
        civil protection agency said. Rescue teams searched the rubble of a collapsed apartment \
        block in the village of Hollin, where officials feared more people were trapped.";
    const QUAKE_OTHER_AGENCY: &str = "At least a dozen people died when a tremor of magnitude \
        6.4 shook Kessara province in the north of Valdoria, authorities said. Neighbours in \
        Hollin dug through the ruins of an apartment block near Drevik.";
    const RECALL: &str = "Lumora Systems is recalling about 2 million Volt 3 portable power banks \
        sold worldwide because a faulty battery cell can overheat, the electronics maker said.";

    fn quake() -> Signature {
        Signature::new("Northwire", "Strong earthquake kills 12 in Valdoria", QUAKE)
    }

    #[test]
    fn near_identical_stories_share_a_cluster() {
        let mut c = Clusterer::new();
        let first = c.insert("a", &quake(), at(0));
        let retold = QUAKE.replace("feared more people", "feared that more people");
        let b = Signature::new(
            "Northwire",
            "Strong earthquake kills 12 in Valdoria",
            &retold,
        );
        let assignment = c.insert_explained("b", &b, at(1));
        assert_eq!(assignment.cluster, first);
        let matched = assignment.matched.as_ref().map(|m| (m.id.as_str(), m.kind));
        assert_eq!(matched, Some(("a", MatchKind::NearDuplicate)));
    }

    #[test]
    fn the_true_match_survives_the_candidate_cap() {
        // Far more stored stories than are compared in full share the new story's common
        // words; its retold original shares the most bands and is still found.
        let mut c = Clusterer::new();
        for i in 0..(params::MAX_CANDIDATES + 50) {
            let text = format!(
                "Officials in the capital said on Tuesday that the council budget vote number {i} \
                 would go ahead as planned despite protests outside the parliament building."
            );
            // The quake's headline over another text: candidates through the headline's terms.
            let other =
                Signature::new("Northwire", "Strong earthquake kills 12 in Valdoria", &text);
            c.insert(&format!("other{i}"), &other, at(0));
        }
        let original = c.insert("quake", &quake(), at(0));
        let retold = QUAKE.replace("feared more people", "feared that more people");
        let copy = Signature::new(
            "Northwire",
            "Strong earthquake kills 12 in Valdoria",
            &retold,
        );
        let assignment = c.insert_explained("copy", &copy, at(1));
        assert_eq!(assignment.cluster, original);
        let matched = assignment.matched.as_ref().map(|m| (m.id.as_str(), m.kind));
        assert_eq!(matched, Some(("quake", MatchKind::NearDuplicate)));
    }

    #[test]
    fn lsh_finds_every_near_identical_copy() {
        // Many different stories, each with a lightly edited copy: every copy must find its
        // original through the LSH buckets (candidate recall), and no other.
        let mut c = Clusterer::new();
        let words = [
            "harbour", "council", "budget", "river", "bridge", "school", "festival", "railway",
            "museum", "forest", "airport", "hospital", "market", "stadium", "library", "factory",
        ];
        let story = |i: usize| -> String {
            (0..60)
                .map(|k| words[(i * 7 + k * (i % 5 + 1) + k / 3) % words.len()].to_string())
                .collect::<Vec<_>>()
                .join(" ")
                + &format!(" story number {i} ends here with figure {}", i * 31 + 7)
        };
        let mut originals = Vec::new();
        for i in 0..200 {
            let sig = Signature::new("N", &format!("Headline {i}"), &story(i));
            originals.push(c.insert(&format!("orig-{i}"), &sig, at(0)));
        }
        for (i, original) in originals.iter().enumerate() {
            let edited = story(i).replacen(words[0], "harbor", 1) + " Corrects a typo.";
            let sig = Signature::new("N", &format!("Headline {i}"), &edited);
            let cluster = c.insert(&format!("copy-{i}"), &sig, at(1));
            assert_eq!(cluster, *original, "copy {i}");
        }
    }

    #[test]
    fn other_agency_coverage_joins_by_event_terms() {
        let mut c = Clusterer::new();
        let first = c.insert("nw", &quake(), at(0));
        let other = Signature::new(
            "Pacific Newsline",
            "Valdoria: deadly tremor in Kessara",
            QUAKE_OTHER_AGENCY,
        );
        let assignment = c.insert_explained("pn", &other, at(2));
        assert_eq!(assignment.cluster, first);
        assert_eq!(
            assignment.matched.map(|m| m.kind),
            Some(MatchKind::SameEvent)
        );
        let unrelated = Signature::new("Northwire", "Lumora recalls power banks", RECALL);
        assert_ne!(c.insert("recall", &unrelated, at(2)), first);
    }

    #[test]
    fn time_windows_end_events() {
        let mut c = Clusterer::new();
        let first = c.insert("a", &quake(), at(0));
        // The same text 47 hours later is still the same story; 49 hours later it is not.
        assert_eq!(c.insert("b", &quake(), at(47)), first);
        let mut c = Clusterer::new();
        let first = c.insert("a", &quake(), at(0));
        assert_ne!(c.insert("b", &quake(), at(49)), first);
        // Other wording: linked within the news cycle; after it only with the late threshold
        // (these two short texts share nearly all their names, so they pass it), and never
        // after the late window.
        let other = Signature::new(
            "P",
            "Valdoria: deadly tremor in Kessara",
            QUAKE_OTHER_AGENCY,
        );
        let sim = signature::similarity(&quake(), &other);
        assert!(sim.term_jaccard >= 0.6, "{sim:?}");
        let mut c = Clusterer::new();
        let first = c.insert("a", &quake(), at(0));
        assert_eq!(c.insert("b", &other, at(11)), first);
        let mut c = Clusterer::new();
        let first = c.insert("a", &quake(), at(0));
        assert_eq!(c.insert("b", &other, at(30)), first);
        let mut c = Clusterer::new();
        let first = c.insert("a", &quake(), at(0));
        assert_ne!(c.insert("b", &other, at(49)), first);
        let strict = Config {
            late_same_event: f64::INFINITY,
            ..Config::default()
        };
        let mut c = Clusterer::with_config(strict);
        let first = c.insert("a", &quake(), at(0));
        assert_ne!(c.insert("b", &other, at(13)), first);
        // Time runs both ways: a late-arriving earlier story still matches.
        let mut c = Clusterer::new();
        let first = c.insert("a", &quake(), at(10));
        assert_eq!(c.insert("b", &other, at(2)), first);
    }

    #[test]
    fn judge_rules() {
        let config = Config::default();
        let sim = |near: f64, terms: f64, shared: usize, names: usize| Similarity {
            shingle_jaccard: near,
            shingle_containment: 0.0,
            has_terms: false,
            term_jaccard: terms,
            shared_terms: shared,
            shared_names: names,
        };
        let h = TimeDelta::hours;
        assert_eq!(
            config.judge(&sim(0.5, 0.0, 0, 0), h(48)),
            Some(MatchKind::NearDuplicate)
        );
        assert_eq!(config.judge(&sim(0.49, 0.0, 0, 0), h(0)), None);
        assert_eq!(
            config.judge(&sim(0.0, 0.15, 2, 1), h(-12)),
            Some(MatchKind::SameEvent)
        );
        assert_eq!(config.judge(&sim(0.0, 0.15, 2, 1), h(13)), None);
        assert_eq!(
            config.judge(&sim(0.0, 0.6, 2, 1), h(48)),
            Some(MatchKind::SameEvent)
        );
        assert_eq!(config.judge(&sim(0.0, 0.9, 9, 9), h(49)), None);
        // A template filled with other names is not a near-duplicate.
        let template = Similarity {
            has_terms: true,
            ..sim(0.9, 0.29, 2, 2)
        };
        assert_eq!(config.judge(&template, h(20)), None);
        let update = Similarity {
            has_terms: true,
            ..sim(0.9, 0.3, 2, 2)
        };
        assert_eq!(config.judge(&update, h(30)), Some(MatchKind::NearDuplicate));
        // Numbers alone, or a single shared term, are not enough.
        assert_eq!(config.judge(&sim(0.0, 0.5, 2, 0), h(0)), None);
        assert_eq!(config.judge(&sim(0.0, 0.5, 1, 1), h(0)), None);
    }

    #[test]
    fn a_term_spread_over_many_clusters_stops_linking() {
        let a = Signature::new(
            "N",
            "Talks",
            "Officials met in Corvel, Valdoria with Alma Brisk on 77 points.",
        );
        let b = Signature::new(
            "N",
            "Vote",
            "Voters in Orlen, Valdoria backed Tomas Reyl by 77 votes.",
        );
        // Fresh index: `Valdoria` and `77` are enough to link the two.
        let mut c = Clusterer::new();
        let first = c.insert("a", &a, at(0));
        assert_eq!(c.insert("b", &b, at(1)), first);
        // Once `Valdoria` is in five other clusters it no longer counts, and `77` alone is a
        // number.
        let mut c = Clusterer::new();
        let others = [
            "Ardel, Valdoria - Crews in Ardel cleared roads for Piet Hamar.",
            "Brisen, Valdoria - The Brisen Opera named Ines Coll as its director.",
            "Calmor, Valdoria - Farmers near Calmor protested outside Halden Dairy.",
            "Dunvik, Valdoria - Dunvik Harbour reopened after Storm Ilse passed.",
            "Estra, Valdoria - Estra United signed the forward Milo Sarn.",
        ];
        for (k, text) in others.iter().enumerate() {
            c.insert(
                &format!("other-{k}"),
                &Signature::new("N", "Brief", text),
                at(0),
            );
        }
        assert_eq!(c.clusters().count(), 5);
        let first = c.insert("a", &a, at(0));
        assert_ne!(c.insert("b", &b, at(1)), first);
        // Removing those stories makes the term rare again.
        for k in 0..5 {
            c.remove(&format!("other-{k}"));
        }
        c.remove("b");
        assert_eq!(c.insert("b", &b, at(1)), first);
    }

    #[test]
    fn remove_and_members() {
        let mut c = Clusterer::new();
        let cluster = c.insert("a", &quake(), at(0));
        c.insert("b", &quake(), at(1));
        c.insert("c", &quake(), at(2));
        assert_eq!(c.members(cluster), ["a", "b", "c"]);
        assert_eq!(c.remove("b"), Some(cluster));
        assert_eq!(c.remove("b"), None);
        assert_eq!(c.cluster_of("b"), None);
        assert_eq!(c.members(cluster), ["a", "c"]);
        // A removed story is no longer a candidate; the rest of its cluster still is.
        assert_eq!(c.remove("a"), Some(cluster));
        assert_eq!(c.insert("d", &quake(), at(3)), cluster);
        assert_eq!(c.remove("c"), Some(cluster));
        assert_eq!(c.remove("d"), Some(cluster));
        assert!(c.members(cluster).is_empty());
        assert_eq!(c.clusters().count(), 0);
        assert!(c.is_empty());
        // With nothing left to match, the same text starts a new cluster.
        assert_ne!(c.insert("e", &quake(), at(4)), cluster);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn reinsert_keeps_the_cluster_and_replaces_the_signature() {
        let mut c = Clusterer::new();
        let quake_cluster = c.insert("a", &quake(), at(0));
        let recall = Signature::new("N", "Lumora recalls power banks", RECALL);
        let recall_cluster = c.insert("r", &recall, at(0));
        assert_ne!(quake_cluster, recall_cluster);
        // `a` is sent again with the recall text: it stays where it was …
        assert_eq!(c.insert("a", &recall, at(1)), quake_cluster);
        assert_eq!(c.members(quake_cluster), ["a"]);
        // … and now matches as the recall text, not as the quake.
        let c2 = c.insert("q", &quake(), at(1));
        assert_ne!(c2, quake_cluster);
    }

    #[test]
    fn restore_and_retire() {
        let mut c = Clusterer::new();
        c.restore("a", &quake(), at(0), ClusterId(41));
        assert_eq!(c.cluster_of("a"), Some(ClusterId(41)));
        assert_eq!(c.insert("b", &quake(), at(1)), ClusterId(41));
        let recall = Signature::new("N", "Lumora recalls power banks", RECALL);
        assert_eq!(c.insert("r", &recall, at(1)), ClusterId(42));
        assert_eq!(c.retire_before(at(1)), 1);
        assert_eq!(c.cluster_of("a"), Some(ClusterId(41)));
        assert_eq!(c.members(ClusterId(41)), ["a", "b"]);
        assert_eq!(c.retire_before(at(100)), 2);
        assert_eq!(c.retire_before(at(100)), 0);
        assert_ne!(c.insert("c", &quake(), at(2)), ClusterId(41));
        assert_eq!(c.remove("a"), Some(ClusterId(41)));
    }

    #[test]
    fn empty_stories_get_their_own_cluster() {
        let mut c = Clusterer::new();
        let empty = Signature::new("", "", "");
        let a = c.insert("a", &empty, at(0));
        let b = c.insert("b", &empty, at(0));
        assert_ne!(a, b);
        assert_eq!(c.remove("a"), Some(a));
    }

    #[test]
    fn same_order_same_clusters() {
        let docs: Vec<(String, Signature)> = (0..40)
            .map(|i| {
                let text = match i % 3 {
                    0 => QUAKE.to_string(),
                    1 => QUAKE_OTHER_AGENCY.to_string(),
                    _ => format!("{RECALL} Batch {}", i / 3),
                };
                (format!("d{i}"), Signature::new("N", "Headline", &text))
            })
            .collect();
        let run = || {
            let mut c = Clusterer::new();
            docs.iter()
                .enumerate()
                .map(|(i, (id, sig))| c.insert(id, sig, at(i as i64 / 4)))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}
