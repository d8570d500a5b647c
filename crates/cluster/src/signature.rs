//! The signature of one story: a MinHash of its word shingles (near-duplicates) and the set of
//! its event terms (same event, other wording). Both are computed from text folded for
//! comparison; the story's own text is never changed.

use crate::text::{self, Fold, Word};
use crate::{ClusterDoc, params};
use serde::{Deserialize, Serialize};

/// FNV-1a, 64 bit: the base hash of a word. Fixed by its definition, so signatures stored today
/// compare with signatures computed by a later build (unlike `std`'s `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The SplitMix64 finalizer: a bijective mixer with full avalanche.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn word_hash(word: &str) -> u64 {
    mix64(fnv1a(word.as_bytes()))
}

/// The seeds of the hash family `h_i(x) = mix64(x ^ seed_i)`, from a fixed SplitMix64 stream.
fn seeds(count: usize, stream: u64) -> impl Iterator<Item = u64> {
    (1..=count as u64)
        .map(move |i| mix64(stream.wrapping_add(i.wrapping_mul(0x9e37_79b9_7f4a_7c15))))
}

/// MinHash of a set of 64-bit element hashes with `count` hash functions, keeping the high 32 bits
/// of each minimum. An empty set gives an empty vector.
pub(crate) fn minhash(set: &[u64], count: usize, stream: u64) -> Vec<u32> {
    if set.is_empty() {
        return Vec::new();
    }
    seeds(count, stream)
        .map(|seed| {
            set.iter()
                .map(|&x| (mix64(x ^ seed) >> 32) as u32)
                .min()
                .unwrap_or(u32::MAX)
        })
        .collect()
}

/// One-permutation MinHash of the shingle hashes, `count` values from one hash of each element:
/// the hash's high bits choose one of `count` bins, its low 32 bits are the value, and each bin
/// keeps its minimum (Li, Owen and Zhang, "One Permutation Hashing", 2012). A bin no element
/// fell in takes the value of a non-empty bin chosen by a hash of its own index and attempt
/// ("optimal densification", Shrivastava 2017), so two sets still agree in each bin with
/// probability their Jaccard similarity. One hash an element instead of `count / 2`, which were
/// the largest cost of a signature. An empty set gives an empty vector.
pub(crate) fn minhash_one_permutation(set: &[u64], count: usize, stream: u64) -> Vec<u32> {
    if set.is_empty() || count == 0 {
        return Vec::new();
    }
    let bins = count as u64;
    // Lemire's multiply-shift maps 32 random bits onto `0..bins` without a division.
    let bin_of = |bits: u64| (((bits >> 32) * bins) >> 32) as usize;
    let seed = mix64(stream);
    let mut values: Vec<Option<u32>> = vec![None; count];
    for &x in set {
        let hash = mix64(x ^ seed);
        if let Some(slot) = values.get_mut(bin_of(hash)) {
            let value = hash as u32;
            *slot = Some(slot.map_or(value, |held| held.min(value)));
        }
    }
    let densify_seed = mix64(seed ^ 0x4445_4e53_4946_5931); // "DENSIFY1"
    (0..count)
        .map(|bin| {
            if let Some(Some(value)) = values.get(bin) {
                return *value;
            }
            // The attempts are bounded (a set of one element in 128 bins needs 128 on average);
            // past the bound the next non-empty bin to the right is taken, which is as
            // deterministic and still the same for every set with the same empty bins.
            for attempt in 1..=(16 * count as u64) {
                let probe = mix64(densify_seed ^ ((bin as u64) << 32) ^ attempt);
                if let Some(Some(value)) = values.get(bin_of(probe)) {
                    return *value;
                }
            }
            (1..count)
                .find_map(|step| values.get((bin + step) % count).copied().flatten())
                .unwrap_or(u32::MAX)
        })
        .collect()
}

/// For each of the `count` hash functions of [`minhash`], the element of `set` holding the
/// minimum (the first of equal ones). An empty set gives an empty vector.
pub(crate) fn minhash_elements(set: &[u64], count: usize, stream: u64) -> Vec<u64> {
    if set.is_empty() {
        return Vec::new();
    }
    seeds(count, stream)
        .filter_map(|seed| {
            set.iter()
                .copied()
                .min_by_key(|&x| (mix64(x ^ seed) >> 32) as u32)
        })
        .collect()
}

const SHINGLE_STREAM: u64 = 0x5348_494e_474c_4531; // "SHINGLE1"
pub(crate) const TERM_STREAM: u64 = 0x5445_524d_5331_2020; // "TERMS1  "

/// Hashes of the distinct `k`-word shingles of `words`, sorted. A text shorter than `k` words is
/// one shingle; an empty text has none.
fn shingles(words: &[Word], k: usize) -> Vec<u64> {
    let hashes: Vec<u64> = words.iter().map(|w| word_hash(&w.text)).collect();
    let k = k.max(1);
    let mut out: Vec<u64> = if hashes.is_empty() {
        Vec::new()
    } else if hashes.len() < k {
        vec![combine(&hashes)]
    } else {
        hashes.windows(k).map(combine).collect()
    };
    out.sort_unstable();
    out.dedup();
    out
}

fn combine(window: &[u64]) -> u64 {
    window.iter().fold(0x243f_6a88_85a3_08d3, |acc, &h| {
        mix64(acc.rotate_left(23) ^ h)
    })
}

/// The event terms of a story: names and numbers in its headline and lead, as sorted hashes.
///
/// A term is a word of the headline or of the first [`params::LEAD_WORDS`] words of the body that
/// is a number or a name. A name is a word the text itself writes with a capital where a capital
/// is not required: mid-sentence in the body, in all capitals (`DREVIK`), at the start of a
/// sentence when the next word is a mid-sentence capital (`Lumora Systems`), or in the same ways
/// in a sentence-case headline when the body never writes it in lower case. So a name that opens
/// a sentence still counts when the text capitalizes it elsewhere (in German every noun is a
/// name). Left out: the words of the agency's own name (its dateline credit), weekdays, months and
/// capitalized function words, numbers next to a month name (dates) or after a wire slug
/// (`UPDATE 2`), and one-letter words. Each term is cut to its first [`params::TERM_PREFIX`]
/// characters, a crude stemmer so that inflected names match (`Кальск`, `Кальске`; `Valdoria`,
/// `Valdorian`).
fn event_terms(agency: &str, headline: &[Word], body: &[Word]) -> Vec<u64> {
    // The lowest bit tells numbers (1) from names (0), so a match can ask for a shared name.
    let mut terms: Vec<u64> = event_term_words(agency, headline, body)
        .iter()
        .map(|t| {
            let hash = word_hash(t);
            if t.bytes().all(|b| b.is_ascii_digit()) {
                hash | 1
            } else {
                hash & !1
            }
        })
        .collect();
    terms.sort_unstable();
    terms.dedup();
    terms.truncate(params::MAX_TERMS);
    terms
}

/// The event terms as words (see [`event_terms`]), in text order, possibly repeated.
pub(crate) fn event_term_words(agency: &str, headline: &[Word], body: &[Word]) -> Vec<String> {
    use rustc_hash::FxHashSet as HashSet;
    let agency_words: Vec<String> = text::words(agency, Fold::Match, 16)
        .into_iter()
        .map(|w| w.text)
        .collect();
    // Sized for every word at once: growing them a word at a time was a tenth of a signature.
    let mut names: HashSet<&str> =
        HashSet::with_capacity_and_hasher(body.len() + headline.len(), Default::default());
    let mut lower: HashSet<&str> =
        HashSet::with_capacity_and_hasher(body.len(), Default::default());
    // A capital that opens a sentence is evidence only when the next word is a mid-sentence
    // capital too: the first word of a name (`Lumora Systems is recalling …`).
    let opens_name = |words: &[Word], i: usize| {
        words
            .get(i + 1)
            .is_some_and(|n| n.capitalized && !n.sentence_start && !n.number)
    };
    for (i, w) in body.iter().enumerate() {
        if w.all_caps || (w.capitalized && (!w.sentence_start || opens_name(body, i))) {
            names.insert(&w.text);
        } else if !w.capitalized {
            lower.insert(&w.text);
        }
    }
    let alphabetic = headline.iter().filter(|w| !w.number).count();
    let capitalized = headline
        .iter()
        .filter(|w| !w.number && w.capitalized)
        .count();
    let sentence_case = capitalized * 2 <= alphabetic;
    for (i, w) in headline.iter().enumerate() {
        let name_like = w.capitalized && (!w.sentence_start || opens_name(headline, i));
        if w.all_caps || (sentence_case && name_like && !lower.contains(w.text.as_str())) {
            names.insert(&w.text);
        }
    }

    let lead: Vec<&Word> = headline
        .iter()
        .take(params::HEADLINE_WORDS)
        .chain(body.iter().take(params::LEAD_WORDS))
        .collect();
    let mut terms = Vec::new();
    for (i, w) in lead.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| lead.get(p));
        let next = lead.get(i + 1);
        let keep = if w.number {
            let date = prev.is_some_and(|p| text::is_month(&p.text))
                || next.is_some_and(|n| text::is_month(&n.text));
            let slug_number = prev.is_some_and(|p| p.all_caps && text::is_stop_term(&p.text));
            !date && !slug_number
        } else {
            names.contains(w.text.as_str())
                && w.text.chars().count() >= 2
                && !text::is_stop_term(&w.text)
                && !agency_words.contains(&w.text)
        };
        if keep {
            terms.push(if w.number {
                w.text.clone()
            } else {
                w.text.chars().take(params::TERM_PREFIX).collect()
            });
        }
    }
    terms
}

/// The event terms of a text as words, for tests and tuning output.
pub fn event_terms_of(agency: &str, headline: &str, body_text: &str) -> Vec<String> {
    let head = text::words(headline, Fold::Match, params::HEADLINE_WORDS);
    let body = text::words(body_text, Fold::Match, params::MAX_WORDS);
    event_term_words(agency, &head, &body)
}

/// Why a byte string or serialized value is not a signature of this build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature version {found}, this build reads version {expected}: recompute it")]
    Version { found: u8, expected: u8 },
    #[error("signature bytes are truncated or malformed")]
    Malformed,
}

/// The MinHash signature of one story, for matching only. Cheap to keep and to store (at most
/// about 1.5 KiB); [`Signature::to_bytes`]/[`Signature::from_bytes`] give a compact form, and it
/// is serde-serializable. A signature from another [`Signature::VERSION`] is refused: compute it
/// again from the stored text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawSignature", into = "RawSignature")]
pub struct Signature {
    /// Number of distinct word shingles of headline + body (capped at [`params::MAX_WORDS`] words).
    pub(crate) shingle_count: u32,
    /// MinHash of those shingles ([`params::SHINGLE_HASHES`] values), empty when there are none.
    pub(crate) shingles: Vec<u32>,
    /// The event terms, sorted distinct hashes (at most [`params::MAX_TERMS`]).
    pub(crate) terms: Vec<u64>,
}

#[derive(Serialize, Deserialize)]
struct RawSignature {
    version: u8,
    shingle_count: u32,
    shingles: Vec<u32>,
    terms: Vec<u64>,
}

impl From<Signature> for RawSignature {
    fn from(s: Signature) -> Self {
        RawSignature {
            version: Signature::VERSION,
            shingle_count: s.shingle_count,
            shingles: s.shingles,
            terms: s.terms,
        }
    }
}

impl TryFrom<RawSignature> for Signature {
    type Error = SignatureError;
    fn try_from(raw: RawSignature) -> Result<Self, SignatureError> {
        if raw.version != Signature::VERSION {
            return Err(SignatureError::Version {
                found: raw.version,
                expected: Signature::VERSION,
            });
        }
        let shingles_ok = if raw.shingle_count == 0 {
            raw.shingles.is_empty()
        } else {
            raw.shingles.len() == params::SHINGLE_HASHES
        };
        let terms_ok = raw.terms.len() <= params::MAX_TERMS
            && raw.terms.windows(2).all(|pair| pair[0] < pair[1]);
        if !shingles_ok || !terms_ok {
            return Err(SignatureError::Malformed);
        }
        Ok(Signature {
            shingle_count: raw.shingle_count,
            shingles: raw.shingles,
            terms: raw.terms,
        })
    }
}

impl Signature {
    /// Bumped whenever a change (folding, shingle size, hash family, term rule) would make new
    /// signatures incomparable with stored ones.
    /// Version 2: the shingle MinHash takes two values from each hash.
    /// Version 3: the shingle MinHash is one-permutation ([`minhash_one_permutation`]).
    pub const VERSION: u8 = 3;

    /// The signature of a story's headline and body; `agency` is used only to leave the agency's
    /// own name out of the event terms.
    pub fn new(agency: &str, headline: &str, body_text: &str) -> Signature {
        let head = text::words(headline, Fold::Match, params::HEADLINE_WORDS);
        let body = text::words(body_text, Fold::Match, params::MAX_WORDS);
        let terms = event_terms(agency, &head, &body);
        let mut words = head;
        words.extend(body);
        let set = shingles(&words, params::SHINGLE_WORDS);
        Signature {
            shingle_count: u32::try_from(set.len()).unwrap_or(u32::MAX),
            shingles: minhash_one_permutation(&set, params::SHINGLE_HASHES, SHINGLE_STREAM),
            terms,
        }
    }

    /// The signature of a [`ClusterDoc`].
    pub fn of(doc: &ClusterDoc) -> Signature {
        Signature::new(&doc.agency, &doc.headline, &doc.body_text)
    }

    /// Number of event terms (names and numbers of headline and lead).
    pub fn term_count(&self) -> usize {
        self.terms.len()
    }

    /// Number of distinct word shingles.
    pub fn shingle_count(&self) -> u32 {
        self.shingle_count
    }

    /// True when the text had no word at all: such a story never matches anything.
    pub fn is_empty(&self) -> bool {
        self.shingle_count == 0
    }

    /// Compact little-endian form: version (1 byte), shingle count (u32), number of MinHash values
    /// (u16) and the values (u32 each), number of terms (u16) and the terms (u64 each).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + 4 * self.shingles.len() + 8 * self.terms.len());
        out.push(Signature::VERSION);
        out.extend_from_slice(&self.shingle_count.to_le_bytes());
        // Both lengths are bounded by the constructors (128 and 64), far below u16::MAX.
        out.extend_from_slice(&(self.shingles.len() as u16).to_le_bytes());
        for v in &self.shingles {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&(self.terms.len() as u16).to_le_bytes());
        for t in &self.terms {
            out.extend_from_slice(&t.to_le_bytes());
        }
        out
    }

    /// Reads [`Signature::to_bytes`] output back; refuses other versions and malformed input.
    pub fn from_bytes(bytes: &[u8]) -> Result<Signature, SignatureError> {
        let mut r = Reader(bytes);
        let version = r.take::<1>()?[0];
        if version != Signature::VERSION {
            return Err(SignatureError::Version {
                found: version,
                expected: Signature::VERSION,
            });
        }
        let shingle_count = u32::from_le_bytes(r.take()?);
        let n = usize::from(u16::from_le_bytes(r.take()?));
        let shingles = (0..n)
            .map(|_| r.take().map(u32::from_le_bytes))
            .collect::<Result<Vec<_>, _>>()?;
        let n = usize::from(u16::from_le_bytes(r.take()?));
        let terms = (0..n)
            .map(|_| r.take().map(u64::from_le_bytes))
            .collect::<Result<Vec<_>, _>>()?;
        if !r.0.is_empty() {
            return Err(SignatureError::Malformed);
        }
        Signature::try_from(RawSignature {
            version,
            shingle_count,
            shingles,
            terms,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], SignatureError> {
        let (head, tail) = self
            .0
            .split_at_checked(N)
            .ok_or(SignatureError::Malformed)?;
        self.0 = tail;
        head.try_into().map_err(|_| SignatureError::Malformed)
    }
}

/// How alike two signatures are, by each measure the clusterer uses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Similarity {
    /// Estimated Jaccard similarity of the shingle sets (share of equal MinHash values).
    pub shingle_jaccard: f64,
    /// Estimated share of the smaller text's shingles found in the other (containment), from the
    /// Jaccard estimate and both set sizes; 0 when the smaller text has fewer than
    /// [`params::MIN_CONTAINMENT_SHINGLES`] shingles.
    pub shingle_containment: f64,
    /// Both stories have at least [`params::MIN_TERMS`] event terms, so the term measures
    /// count.
    pub has_terms: bool,
    /// Exact Jaccard similarity of the event-term sets; 0 when either has fewer than
    /// [`params::MIN_TERMS`] terms.
    pub term_jaccard: f64,
    /// Number of event terms the two share …
    pub shared_terms: usize,
    /// … and how many of those are names (not numbers).
    pub shared_names: usize,
}

impl Similarity {
    /// The near-duplicate score: the larger of shingle Jaccard and containment.
    pub fn near_duplicate(&self) -> f64 {
        self.shingle_jaccard.max(self.shingle_containment)
    }
}

/// Compares two signatures. Symmetric; a story with at least one word is identical to itself
/// (every measure 1, or 0 for the term measure when it has too few terms).
pub fn similarity(a: &Signature, b: &Signature) -> Similarity {
    similarity_ignoring(a, b, |_| false)
}

/// [`similarity`] with the event terms for which `common` is true left out of the term measures
/// (the clusterer leaves out terms already spread over many clusters). Whether the stories have
/// enough terms at all is judged on the full sets.
pub(crate) fn similarity_ignoring(
    a: &Signature,
    b: &Signature,
    common: impl Fn(u64) -> bool,
) -> Similarity {
    let kept: Vec<u64> = a.terms.iter().copied().filter(|t| !common(*t)).collect();
    similarity_to(a, &kept, b, common)
}

/// [`similarity_ignoring`] for a story compared with many: `a_kept` is `a`'s event terms with
/// the common ones already left out (once per story, not once per candidate), and `b`'s are
/// filtered while they are merged, so comparing allocates nothing.
pub(crate) fn similarity_to(
    a: &Signature,
    a_kept: &[u64],
    b: &Signature,
    common: impl Fn(u64) -> bool,
) -> Similarity {
    let (shingle_jaccard, shingle_containment) =
        if a.shingles.is_empty() || b.shingles.is_empty() || a.shingles.len() != b.shingles.len() {
            (0.0, 0.0)
        } else {
            let equal = equal_values(&a.shingles, &b.shingles);
            let j = equal as f64 / a.shingles.len() as f64;
            let (na, nb) = (f64::from(a.shingle_count), f64::from(b.shingle_count));
            let small = na.min(nb);
            let containment = if small < params::MIN_CONTAINMENT_SHINGLES as f64 {
                0.0
            } else {
                (j * (na + nb) / ((1.0 + j) * small)).min(1.0)
            };
            (j, containment)
        };
    let has_terms = a.terms.len() >= params::MIN_TERMS && b.terms.len() >= params::MIN_TERMS;
    let (b_kept, shared_terms, shared_names) = count_shared_kept(a_kept, &b.terms, common);
    let union = a_kept.len() + b_kept - shared_terms;
    let term_jaccard = if !has_terms || union == 0 {
        0.0
    } else {
        shared_terms as f64 / union as f64
    };
    Similarity {
        shingle_jaccard,
        shingle_containment,
        has_terms,
        term_jaccard,
        shared_terms,
        shared_names,
    }
}

/// How many positions of `a` and `b` hold the same value. Counted in eight 32-bit lanes over
/// fixed chunks, a shape the compiler turns into vector compares (a story is compared with up to
/// 200 candidates, so this runs 25,000 times a story).
fn equal_values(a: &[u32], b: &[u32]) -> usize {
    const LANES: usize = 8;
    let mut lanes = [0u32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .filter(|(x, y)| x == y)
        .count();
    for (x, y) in a_chunks.zip(b_chunks) {
        for ((lane, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *lane += u32::from(x == y);
        }
    }
    lanes.iter().map(|&lane| lane as usize).sum::<usize>() + tail
}

/// Merges `kept` (sorted, distinct, no common term) with `terms` (sorted, distinct) leaving
/// `terms`' common ones out: how many of `terms` are kept, how many of those are shared with
/// `kept`, and how many of the shared are names (lowest bit 0).
fn count_shared_kept(
    kept: &[u64],
    terms: &[u64],
    common: impl Fn(u64) -> bool,
) -> (usize, usize, usize) {
    let (mut i, mut kept_terms, mut shared, mut names) = (0, 0, 0, 0);
    for &term in terms {
        if common(term) {
            continue;
        }
        kept_terms += 1;
        while kept.get(i).is_some_and(|&x| x < term) {
            i += 1;
        }
        if kept.get(i) == Some(&term) {
            shared += 1;
            names += usize::from(term & 1 == 0);
            i += 1;
        }
    }
    (kept_terms, shared, names)
}

/// Size of the intersection of two sorted, distinct slices, and how many of the shared values
/// are names (lowest bit 0).
#[cfg(test)]
fn count_shared(a: &[u64], b: &[u64]) -> (usize, usize) {
    let (mut i, mut j, mut n, mut names) = (0, 0, 0, 0);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        match x.cmp(y) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                names += usize::from(x & 1 == 0);
                i += 1;
                j += 1;
            }
        }
    }
    (n, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "DREVIK, Valdoria, March 4 (Northwire) - A magnitude 6.4 earthquake struck \
        Kessara province in northern Valdoria early on Tuesday, killing at least 12 people, the \
        national civil protection agency said. Rescue teams searched the rubble of a collapsed \
        apartment block in the village of Hollin.";

    #[test]
    fn equal_values_counts_every_position_with_the_same_value() {
        for length in [0, 1, 7, 8, 9, 128, 131] {
            let a: Vec<u32> = (0..length as u32).collect();
            let b: Vec<u32> = (0..length as u32)
                .map(|n| if n % 3 == 0 { n } else { n + 1 })
                .collect();
            let expected = a.iter().zip(&b).filter(|(x, y)| x == y).count();
            assert_eq!(equal_values(&a, &b), expected, "length {length}");
            assert_eq!(equal_values(&a, &a), length);
        }
    }

    #[test]
    fn minhash_elements_hold_each_minimum() {
        let set: Vec<u64> = (1..=40u64).map(|n| mix64(n * 7)).collect();
        let values = minhash(&set, 64, TERM_STREAM);
        let elements = minhash_elements(&set, 64, TERM_STREAM);
        assert_eq!(elements.len(), 64);
        for ((seed, value), element) in seeds(64, TERM_STREAM).zip(&values).zip(&elements) {
            assert!(set.contains(element));
            assert_eq!((mix64(element ^ seed) >> 32) as u32, *value);
        }
        assert!(minhash_elements(&[], 64, TERM_STREAM).is_empty());
    }

    /// One-permutation MinHash: every bin filled, and the share of equal bins estimates the
    /// Jaccard similarity, for large sets and for sets smaller than the number of bins (where
    /// densification fills most bins).
    #[test]
    fn one_permutation_minhash_estimates_jaccard() {
        assert!(minhash_one_permutation(&[], 128, SHINGLE_STREAM).is_empty());
        let single = minhash_one_permutation(&[42], 128, SHINGLE_STREAM);
        assert_eq!(single.len(), 128);
        assert!(single.iter().all(|&value| value == single[0]));
        let elements = |range: std::ops::Range<u64>| -> Vec<u64> { range.map(mix64).collect() };
        // (|A|, |B|, shared): Jaccard 1/3, 1/3, 0.6, 0.
        for (a_len, b_len, shared) in [(1000, 1000, 500), (30, 30, 15), (50, 50, 37), (40, 40, 0)] {
            let a = elements(0..a_len);
            let b = elements(a_len - shared..a_len - shared + b_len);
            let jaccard = shared as f64 / (a_len + b_len - shared) as f64;
            let (x, y) = (
                minhash_one_permutation(&a, 128, SHINGLE_STREAM),
                minhash_one_permutation(&b, 128, SHINGLE_STREAM),
            );
            let estimate = equal_values(&x, &y) as f64 / 128.0;
            assert!(
                (estimate - jaccard).abs() < 0.15,
                "{a_len}/{b_len}/{shared}: estimate {estimate}, Jaccard {jaccard}"
            );
        }
    }

    #[test]
    fn signatures_are_deterministic() {
        let a = Signature::new("Northwire", "Quake kills 12 in Valdoria", BODY);
        let b = Signature::new("Northwire", "Quake kills 12 in Valdoria", BODY);
        assert_eq!(a, b);
        assert_eq!(a.to_bytes(), b.to_bytes());
        assert_eq!(a.shingles.len(), params::SHINGLE_HASHES);
        // Pinned: a change here means stored signatures no longer compare; bump VERSION.
        assert_eq!(word_hash("valdoria"), 0x1e1d_4c28_3362_1a3e_u64);
        assert_eq!(
            verbatim_item::sha256_hex(&a.to_bytes()),
            "74709795b4d621f167d9cf6ace0d15e28413b1903ac42b7e4650f61950223e96"
        );
    }

    #[test]
    fn self_similarity_is_one() {
        let a = Signature::new("Northwire", "Quake kills 12 in Valdoria", BODY);
        let s = similarity(&a, &a);
        assert_eq!(s.shingle_jaccard, 1.0);
        assert_eq!(s.shingle_containment, 1.0);
        assert_eq!(s.term_jaccard, 1.0);
        assert_eq!(s.shared_terms, a.terms.len());
    }

    #[test]
    fn event_terms_are_names_and_numbers_not_dates_or_the_agency() {
        let terms = event_terms_of("Northwire", "UPDATE 2-Quake kills 12 in Valdoria", BODY);
        for expected in ["valdor", "12", "drevik", "64", "kessar", "hollin"] {
            assert!(
                terms.iter().any(|t| t == expected),
                "{expected} missing: {terms:?}"
            );
        }
        for unwanted in [
            "northw", "4", "2", "update", "march", "tuesda", "a", "rescue",
        ] {
            assert!(
                !terms.iter().any(|t| t == unwanted),
                "{unwanted} kept: {terms:?}"
            );
        }
    }

    #[test]
    fn a_name_opening_a_sentence_counts_when_followed_by_a_name() {
        let terms = event_terms_of("X", "Recall", "Lumora Systems is recalling power banks.");
        assert_eq!(terms, ["lumora", "system"]);
        let terms = event_terms_of("X", "Recall", "Lumora is recalling power banks.");
        assert!(terms.is_empty(), "{terms:?}");
    }

    #[test]
    fn inflected_names_share_a_term() {
        let a = event_terms_of("X", "", "Паром сел на мель у порта Кальск.");
        let b = event_terms_of("X", "", "Пассажиров эвакуируют в Кальске.");
        assert!(a.contains(&"кальск".to_string()) && b.contains(&"кальск".to_string()));
    }

    #[test]
    fn near_duplicates_score_high_and_different_texts_low() {
        let a = Signature::new("N", "Quake kills 12 in Valdoria", BODY);
        let edited = BODY.replace("at least 12 people", "at least 19 people");
        let b = Signature::new("N", "Quake kills 19 in Valdoria", &edited);
        let s = similarity(&a, &b);
        assert!(s.near_duplicate() >= 0.6, "{s:?}");
        let c = Signature::new(
            "N",
            "Lumora recalls power banks",
            "Lumora Systems is recalling about 2 million Volt 3 portable power banks sold \
             worldwide because a faulty battery cell can overheat and catch fire.",
        );
        let s = similarity(&a, &c);
        assert!(s.near_duplicate() < 0.1 && s.term_jaccard < 0.1, "{s:?}");
    }

    #[test]
    fn a_flash_is_contained_in_its_full_story() {
        let flash = Signature::new(
            "N",
            "Quake in Valdoria",
            "A magnitude 6.4 earthquake struck Kessara province in northern Valdoria early on \
             Tuesday, killing at least 12 people, the national civil protection agency said.",
        );
        let full = Signature::new("N", "Quake kills 12 in Valdoria", &BODY.repeat(3));
        let s = similarity(&flash, &full);
        assert!(s.shingle_containment > s.shingle_jaccard, "{s:?}");
    }

    #[test]
    fn empty_text_matches_nothing() {
        let empty = Signature::new("", "", "");
        assert!(empty.is_empty());
        let s = similarity(&empty, &empty);
        assert_eq!((s.shingle_jaccard, s.term_jaccard), (0.0, 0.0));
        let punctuation = Signature::new("N", "!!!", "… — 🔥🔥 \u{301}");
        assert!(punctuation.is_empty());
    }

    #[test]
    fn bytes_round_trip_and_bad_bytes_are_refused() {
        let a = Signature::new("Northwire", "Quake kills 12 in Valdoria", BODY);
        let bytes = a.to_bytes();
        assert_eq!(Signature::from_bytes(&bytes), Ok(a.clone()));
        for cut in 0..bytes.len() {
            assert!(
                Signature::from_bytes(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            Signature::from_bytes(&longer),
            Err(SignatureError::Malformed)
        );
        let mut other = bytes.clone();
        other[0] = Signature::VERSION + 1;
        assert!(matches!(
            Signature::from_bytes(&other),
            Err(SignatureError::Version { .. })
        ));
        let empty = Signature::new("", "", "");
        assert_eq!(Signature::from_bytes(&empty.to_bytes()), Ok(empty));
    }

    #[test]
    fn serde_round_trip_checks_the_version() {
        let a = Signature::new("Northwire", "Quake kills 12 in Valdoria", BODY);
        let json = serde_json::to_string(&a).unwrap_or_default();
        let back: Result<Signature, _> = serde_json::from_str(&json);
        assert_eq!(back.ok(), Some(a));
        let version = format!("\"version\":{}", Signature::VERSION);
        assert!(json.contains(&version));
        let wrong = json.replacen(&version, "\"version\":9", 1);
        assert!(serde_json::from_str::<Signature>(&wrong).is_err());
        let short = r#"{"version":2,"shingle_count":3,"shingles":[1,2],"terms":[]}"#;
        assert!(serde_json::from_str::<Signature>(short).is_err());
    }

    #[test]
    fn never_panics_on_odd_text() {
        let huge = "word ".repeat(200_000);
        let s = Signature::new("N", &huge, &huge);
        assert!(!s.is_empty());
        let mixed = "Zürich 東京 🔥👨‍👩‍👧 e\u{301}\u{301}\u{301} \u{202e}RTL\u{200d} ١٢٣ Ελλάδα Москва 1.2.3,4,,5..";
        let t = Signature::new("🔥", mixed, mixed);
        assert_eq!(similarity(&t, &t).shingle_jaccard, 1.0);
        let marks: String = std::iter::repeat_n('\u{301}', 10_000).collect();
        let _ = Signature::new(&marks, &marks, &marks);
        let digits = "9".repeat(100_000);
        let _ = Signature::new("N", &digits, &format!("{digits}.{digits}"));
    }

    proptest::proptest! {
        /// The allocation-free merge counts what filtering both sides and intersecting does.
        #[test]
        fn kept_merge_counts_what_filtering_then_intersecting_counts(
            a in proptest::collection::btree_set(0u64..400, 0..60),
            b in proptest::collection::btree_set(0u64..400, 0..60),
            common in proptest::collection::btree_set(0u64..400, 0..80),
        ) {
            let is_common = |t: u64| common.contains(&t);
            let kept_a: Vec<u64> = a.iter().copied().filter(|t| !is_common(*t)).collect();
            let kept_b: Vec<u64> = b.iter().copied().filter(|t| !is_common(*t)).collect();
            let b: Vec<u64> = b.into_iter().collect();
            let (shared, names) = count_shared(&kept_a, &kept_b);
            proptest::prop_assert_eq!(
                count_shared_kept(&kept_a, &b, is_common),
                (kept_b.len(), shared, names)
            );
        }
    }
}
