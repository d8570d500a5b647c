//! words_query: the query most searches are, some words (all of them, or any), none of some
//! others, within filters, run so that neither its best page nor its count costs a visit to
//! every match when the words are common. At a million stories a common word is in most.
//!
//! - `WordsQuery::best_and_count` pages and counts it. Per segment, where the words are rare,
//!   tantivy's boolean query visits the few matches; where they are common, each word's
//!   postings are read a block at a time into per-document tables (score, words held), a
//!   window of `WINDOW` documents at a time, and one pass over each window counts the matches
//!   and keeps the best page, by score or by date (term at a time, as Lucene's bulk scorer).
//!   A window, or a run of 16 documents, whose greatest score cannot reach the page (this
//!   segment's, or the lowest score of a page another segment found) is only counted; newest
//!   first, only the windows whose latest date can still enter the page have dates read.
//! - One word alone is paged by tantivy's block-max WAND through the `Query` impl below, which
//!   takes an offered document only if it passes the filters and holds no excluded word (an
//!   AND is offered as the OR of its words and checked for every word: correct, but slow for
//!   common words, which score alike in every block, so `best_and_count` uses it for one word
//!   only). Its count is the word's document frequency, or a bitmap pass over its postings
//!   where there are deletions, filters or exclusions.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tantivy::index::SegmentId;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, EnableScoring, Explanation, Occur, Query, Scorer,
    TermQuery, Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, Term};

/// The date field pages by newest are ranked on.
const PUBLISHED: &str = "published";

/// A filter as a clause of a boolean query: it must match and adds nothing to the score.
pub(crate) fn filter_clause(filter: Box<dyn Query>) -> (Occur, Box<dyn Query>) {
    (Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0)))
}

/// A match must hold all the scored words, or any one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    All,
    Any,
}

/// Words scored by BM25 (all or any), words excluded and filters that only restrict.
#[derive(Debug)]
pub(crate) struct WordsQuery {
    /// Each word once.
    words: Vec<Term>,
    /// How many times the query gives each word: a word given twice scores twice, as it would
    /// as two clauses of tantivy's boolean query, but its postings are read once.
    repeats: Vec<Score>,
    needs: Needs,
    excluded: Vec<Term>,
    filters: Vec<Box<dyn Query>>,
}

impl Clone for WordsQuery {
    fn clone(&self) -> WordsQuery {
        WordsQuery {
            words: self.words.clone(),
            repeats: self.repeats.clone(),
            needs: self.needs,
            excluded: self.excluded.clone(),
            filters: self
                .filters
                .iter()
                .map(|filter| filter.box_clone())
                .collect(),
        }
    }
}

impl WordsQuery {
    /// The query's shape, if `query` is one: a term, or a boolean query of terms that are all
    /// `Must` or all `Should`, with any number of `MustNot` terms. `filters` restrict it
    /// further and add nothing to scores.
    pub(crate) fn from_parsed(
        query: &dyn Query,
        filters: Vec<Box<dyn Query>>,
    ) -> Option<WordsQuery> {
        if let Some(term) = query.downcast_ref::<TermQuery>() {
            return Some(WordsQuery {
                words: vec![term.term().clone()],
                repeats: vec![1.0],
                needs: Needs::All,
                excluded: Vec::new(),
                filters,
            });
        }
        let boolean = query.downcast_ref::<BooleanQuery>()?;
        if boolean.get_minimum_number_should_match() > 1 {
            return None;
        }
        let (mut must, mut should, mut excluded) = (Vec::new(), Vec::new(), Vec::new());
        for (occur, clause) in boolean.clauses() {
            let term = clause.downcast_ref::<TermQuery>()?.term().clone();
            match occur {
                Occur::Must => must.push(term),
                Occur::Should => should.push(term),
                Occur::MustNot => excluded.push(term),
            }
        }
        let (words, needs) = match (must.is_empty(), should.is_empty()) {
            (false, true) => (must, Needs::All),
            (true, false) => (should, Needs::Any),
            // Both: the `Should` words would only score; neither: nothing to match.
            _ => return None,
        };
        let mut once: Vec<Term> = Vec::with_capacity(words.len());
        let mut repeats: Vec<Score> = Vec::with_capacity(words.len());
        for term in words {
            match once.iter().position(|seen| *seen == term) {
                Some(seen) => repeats[seen] += 1.0,
                None => {
                    once.push(term);
                    repeats.push(1.0);
                }
            }
        }
        let mut excluded_once: Vec<Term> = Vec::with_capacity(excluded.len());
        for term in excluded {
            if !excluded_once.contains(&term) {
                excluded_once.push(term);
            }
        }
        Some(WordsQuery {
            words: once,
            repeats,
            needs,
            excluded: excluded_once,
            filters,
        })
    }

    /// A word's term query, scored as many times as the query gives it.
    fn scored_word(term: &Term, repeats: Score) -> Box<dyn Query> {
        let query = TermQuery::new(term.clone(), IndexRecordOption::WithFreqs);
        if repeats == 1.0 {
            Box::new(query)
        } else {
            Box::new(BoostQuery::new(Box::new(query), repeats))
        }
    }

    /// The same matches and scores as tantivy's own boolean query (filters score zero).
    fn as_boolean(&self) -> BooleanQuery {
        let scored = || {
            self.words
                .iter()
                .zip(&self.repeats)
                .map(|(term, &repeats)| WordsQuery::scored_word(term, repeats))
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = match self.needs {
            Needs::All => scored().map(|word| (Occur::Must, word)).collect(),
            Needs::Any => vec![(
                Occur::Must,
                Box::new(BooleanQuery::new(
                    scored().map(|word| (Occur::Should, word)).collect(),
                )),
            )],
        };
        clauses.extend(
            self.filters
                .iter()
                .map(|filter| filter_clause(filter.box_clone())),
        );
        for term in &self.excluded {
            clauses.push((
                Occur::MustNot,
                Box::new(TermQuery::new(term.clone(), IndexRecordOption::Basic)),
            ));
        }
        BooleanQuery::new(clauses)
    }
}

impl Query for WordsQuery {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let unscored = EnableScoring::disabled_from_schema(enable_scoring.schema());
        let basic = |term: &Term| TermQuery::new(term.clone(), IndexRecordOption::Basic);
        // The OR of the words, which tantivy pages by block-max WAND. One word is its term
        // query, whose own pruning pass is block-max; its scores are multiplied by its repeats
        // as they are offered.
        let (offered, offered_repeats): (Box<dyn Query>, Score) =
            match (self.words.as_slice(), self.repeats.as_slice()) {
                ([word], &[repeats]) => (
                    Box::new(TermQuery::new(word.clone(), IndexRecordOption::WithFreqs)),
                    repeats,
                ),
                (words, _) => (
                    Box::new(BooleanQuery::new(
                        words
                            .iter()
                            .zip(&self.repeats)
                            .map(|(term, &repeats)| {
                                (Occur::Should, WordsQuery::scored_word(term, repeats))
                            })
                            .collect(),
                    )),
                    1.0,
                ),
            };
        let mut required: Vec<Box<dyn Weight>> = Vec::new();
        if self.needs == Needs::All && self.words.len() > 1 {
            for term in &self.words {
                required.push(basic(term).weight(unscored)?);
            }
        }
        for filter in &self.filters {
            required.push(filter.weight(unscored)?);
        }
        let excluded = self
            .excluded
            .iter()
            .map(|term| basic(term).weight(unscored))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(Box::new(WordsWeight {
            whole: self.as_boolean().weight(enable_scoring)?,
            offered: offered.weight(enable_scoring)?,
            offered_repeats,
            required,
            excluded,
            counted: self.clone(),
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for term in self.words.iter().chain(&self.excluded) {
            visitor(term, false);
        }
        for filter in &self.filters {
            filter.query_terms(visitor);
        }
    }
}

struct WordsWeight {
    /// The query as tantivy's boolean query: every match, scored, for all but the page.
    whole: Box<dyn Weight>,
    /// The OR of the words, scored: what the page is drawn from.
    offered: Box<dyn Weight>,
    /// What `offered`'s scores are multiplied by (a single word given more than once).
    offered_repeats: Score,
    /// What an offered document must also match: every word (for an AND), every filter.
    required: Vec<Box<dyn Weight>>,
    /// What it must not match.
    excluded: Vec<Box<dyn Weight>>,
    /// The terms and filters, for the count.
    counted: WordsQuery,
}

/// A document set that can say whether it holds `doc`, asked in increasing order of `doc`.
fn holds(docset: &mut dyn Scorer, doc: DocId) -> bool {
    if docset.doc() < doc {
        docset.seek(doc);
    }
    docset.doc() == doc
}

impl Weight for WordsWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        self.whole.scorer(reader, boost)
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.whole.explain(reader, doc)
    }

    fn for_each_pruning(
        &self,
        threshold: Score,
        reader: &SegmentReader,
        callback: &mut dyn FnMut(DocId, Score) -> Score,
    ) -> tantivy::Result<()> {
        let open = |weights: &[Box<dyn Weight>]| {
            weights
                .iter()
                .map(|weight| weight.scorer(reader, 1.0))
                .collect::<tantivy::Result<Vec<_>>>()
        };
        let (mut required, mut excluded) = (open(&self.required)?, open(&self.excluded)?);
        let repeats = self.offered_repeats;
        let mut threshold = threshold / repeats;
        self.offered
            .for_each_pruning(threshold, reader, &mut |doc, score| {
                let taken = required.iter_mut().all(|docset| holds(&mut **docset, doc))
                    && !excluded.iter_mut().any(|docset| holds(&mut **docset, doc));
                if taken {
                    threshold = callback(doc, score * repeats) / repeats;
                }
                threshold
            })
    }

    fn count(&self, reader: &SegmentReader) -> tantivy::Result<u32> {
        match count_by_bitmaps(&self.counted, reader)? {
            Some(count) => Ok(count),
            None => self.whole.count(reader),
        }
    }
}

/// Below this share of the segment's documents, a word is rare enough that leapfrogging from it
/// (tantivy's intersection) beats reading every word's postings whole.
const RARE_WORD_SHARE: u32 = 64;

/// The query's matches in `reader`, counted on bitmaps, or `None` where tantivy's own count is
/// cheaper (one word and no deletions: its document frequency; an AND with a rare word).
fn count_by_bitmaps(query: &WordsQuery, reader: &SegmentReader) -> tantivy::Result<Option<u32>> {
    let max_doc = reader.max_doc();
    let mut frequencies = Vec::with_capacity(query.words.len());
    for term in &query.words {
        frequencies.push(reader.inverted_index(term.field())?.doc_freq(term)?);
    }
    let simple = query.words.len() == 1 && query.excluded.is_empty() && query.filters.is_empty();
    if simple && reader.alive_bitset().is_none() {
        return Ok(None);
    }
    let rarest = frequencies.iter().copied().min().unwrap_or(0);
    if query.needs == Needs::All && rarest.saturating_mul(RARE_WORD_SHARE) < max_doc {
        return Ok(None);
    }
    let bitmap_len = (max_doc as usize).div_ceil(64);
    let mut matches = vec![0u64; bitmap_len];
    let mut scratch = vec![0u64; bitmap_len];
    for (index, term) in query.words.iter().enumerate() {
        let target = if index == 0 || query.needs == Needs::Any {
            &mut matches
        } else {
            scratch.fill(0);
            &mut scratch
        };
        set_postings(reader, term, target)?;
        if index > 0 && query.needs == Needs::All {
            for (kept, word) in matches.iter_mut().zip(&scratch) {
                *kept &= word;
            }
        }
    }
    for filter in &query.filters {
        scratch.fill(0);
        let filter_weight = filter.weight(EnableScoring::disabled_from_schema(reader.schema()))?;
        let mut docset = filter_weight.scorer(reader, 1.0)?;
        let mut doc = docset.doc();
        while doc != TERMINATED {
            set_bit(&mut scratch, doc);
            doc = docset.advance();
        }
        for (kept, word) in matches.iter_mut().zip(&scratch) {
            *kept &= word;
        }
    }
    for term in &query.excluded {
        scratch.fill(0);
        set_postings(reader, term, &mut scratch)?;
        for (kept, word) in matches.iter_mut().zip(&scratch) {
            *kept &= !word;
        }
    }
    if let Some(alive) = reader.alive_bitset() {
        let mut count = 0;
        each_set_bit(&matches, 0, |doc| count += u32::from(alive.is_alive(doc)));
        return Ok(Some(count));
    }
    Ok(Some(matches.iter().map(|word| word.count_ones()).sum()))
}

/// Calls `each` with the document of every set bit of `words`, a bitmap whose first word is
/// word `first_word` of the segment's.
fn each_set_bit(words: &[u64], first_word: usize, mut each: impl FnMut(DocId)) {
    for (index, &word) in (first_word..).zip(words) {
        let mut word = word;
        while word != 0 {
            each(index as DocId * 64 + word.trailing_zeros());
            word &= word - 1;
        }
    }
}

fn set_bit(bitmap: &mut [u64], doc: DocId) {
    if let Some(word) = bitmap.get_mut(doc as usize / 64) {
        *word |= 1 << (doc % 64);
    }
}

/// Sets the bit of every document holding `term`, a block of postings at a time.
fn set_postings(reader: &SegmentReader, term: &Term, bitmap: &mut [u64]) -> tantivy::Result<()> {
    let Some(mut postings) = reader
        .inverted_index(term.field())?
        .read_block_postings(term, IndexRecordOption::Basic)?
    else {
        return Ok(());
    };
    loop {
        let docs = postings.docs();
        if docs.is_empty() {
            return Ok(());
        }
        for &doc in docs {
            set_bit(bitmap, doc);
        }
        postings.advance();
    }
}

/// What a page is ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ranking {
    /// BM25, best first.
    Relevance,
    /// `published`, newest first.
    Newest,
}

/// The best `keep` of the candidates offered: the greatest keys, and among equal keys the
/// earlier documents (as tantivy's `TopDocs`), whatever order the candidates come in.
struct Best<K> {
    keep: usize,
    found: Vec<(K, DocId)>,
    /// Once `keep` are held, the last of them: what a candidate must beat.
    floor: Option<(K, DocId)>,
}

impl<K: PartialOrd + Copy> Best<K> {
    fn new(keep: usize) -> Best<K> {
        Best {
            keep,
            found: Vec::with_capacity(keep.saturating_mul(2).min(4096)),
            floor: None,
        }
    }

    /// Whether a candidate with `key` could still be taken: a greater key than the floor's,
    /// or an equal one on an earlier document (impossible if every document to come is
    /// `later` than all offered so far).
    #[inline]
    fn could_take(&self, key: K, later: bool) -> bool {
        match self.floor {
            None => true,
            Some((floor, _)) => key > floor || (!later && key == floor),
        }
    }

    #[inline]
    fn offer(&mut self, key: K, doc: DocId) {
        if let Some((floor, floor_doc)) = self.floor
            && !(key > floor || (key == floor && doc < floor_doc))
        {
            return;
        }
        self.found.push((key, doc));
        if self.found.len() >= self.keep.saturating_mul(2).max(64) {
            self.settle();
        }
    }

    fn settle(&mut self) {
        // Best key first; among equal keys the earlier document (as tantivy's TopDocs).
        self.found.sort_by(|a, b| {
            b.0.partial_cmp(&a.0)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.1.cmp(&b.1))
        });
        self.found.truncate(self.keep);
        if self.found.len() == self.keep {
            self.floor = self.found.last().copied();
        }
    }

    fn finish(mut self) -> Vec<(K, DocId)> {
        self.settle();
        self.found
    }
}

/// Rough costs, in nanoseconds, of the two ways through a segment: a posting added into the
/// per-document tables, a document of the segment checked at the end, and a match found by
/// tantivy's leapfrogging intersection or merged union (seeks, a heap of scorers).
const DENSE_POSTING_NS: u64 = 3;
const DENSE_DOCUMENT_NS: u64 = 2;
const SPARSE_MATCH_NS: u64 = 30;
/// Word counts in one document up to this are scored from a table.
const TABLED_FREQUENCIES: u32 = 16;

/// A date as the newest-first ranking compares it; a document without one comes last.
fn date_key(date: Option<tantivy::DateTime>) -> i64 {
    date.map(|date| date.into_timestamp_nanos())
        .unwrap_or(i64::MIN)
}

/// The latest `published` date in each term-at-a-time window of one segment, and the windows
/// in order of it, latest first: a newest-first page reads the dates of the few windows that
/// can hold it instead of the date of every match.
pub(crate) struct DateWindows {
    pub(crate) latest: Vec<i64>,
    /// Window numbers, latest window first.
    pub(crate) order: Vec<u32>,
}

impl DateWindows {
    pub(crate) fn of(reader: &SegmentReader) -> tantivy::Result<DateWindows> {
        let dates = reader.fast_fields().date(PUBLISHED)?;
        let max_doc = reader.max_doc();
        let mut latest = Vec::with_capacity((max_doc as usize).div_ceil(WINDOW));
        let mut docs: Vec<DocId> = Vec::with_capacity(WINDOW);
        let mut found = vec![None; WINDOW];
        let mut start: DocId = 0;
        while start < max_doc {
            let end = start.saturating_add(WINDOW as DocId).min(max_doc);
            docs.clear();
            docs.extend(start..end);
            let found = &mut found[..docs.len()];
            found.fill(None);
            dates.first_vals(&docs, found);
            latest.push(
                found
                    .iter()
                    .map(|date| date_key(*date))
                    .max()
                    .unwrap_or(i64::MIN),
            );
            start = end;
        }
        let mut order: Vec<u32> = (0..latest.len() as u32).collect();
        order.sort_by_key(|&window| std::cmp::Reverse(latest[window as usize]));
        Ok(DateWindows { latest, order })
    }
}

/// Each segment's [`DateWindows`], computed on a segment's first newest-first page and kept
/// while the segment is searched (segments never change; a merge makes a new one).
#[derive(Default)]
pub(crate) struct DateWindowsCache {
    by_segment: std::sync::Mutex<std::collections::HashMap<SegmentId, Arc<DateWindows>>>,
}

impl DateWindowsCache {
    fn of(&self, reader: &SegmentReader) -> tantivy::Result<Arc<DateWindows>> {
        let id = reader.segment_id();
        let cached = |cache: &Self| {
            cache
                .by_segment
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .get(&id)
                .cloned()
        };
        if let Some(windows) = cached(self) {
            return Ok(windows);
        }
        let windows = Arc::new(DateWindows::of(reader)?);
        self.by_segment
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(id, Arc::clone(&windows));
        Ok(windows)
    }

    /// Drops the windows of segments `searcher` no longer has, once more are kept than it has.
    fn forget_all_but(&self, searcher: &tantivy::Searcher) {
        let mut by_segment = self
            .by_segment
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if by_segment.len() > searcher.segment_readers().len() {
            let live: std::collections::HashSet<SegmentId> = searcher
                .segment_readers()
                .iter()
                .map(SegmentReader::segment_id)
                .collect();
            by_segment.retain(|id, _| live.contains(id));
        }
    }
}

impl WordsQuery {
    /// The query's best `keep` documents by `ranking` (the score is 0 when by date), and how
    /// many documents match in all; segments are searched on `threads` if given.
    ///
    /// Each segment is read whichever way costs less: where the words are rare, tantivy's
    /// boolean query visits the few matches; where they are common, each word's postings are
    /// read a block at a time and added into per-document tables (a score and how many words
    /// the document holds), term at a time, and one pass over the tables counts the matches
    /// and keeps the best. Scores are BM25 as tantivy's term queries compute them.
    pub(crate) fn best_and_count(
        &self,
        searcher: &tantivy::Searcher,
        threads: Option<&tantivy::Executor>,
        ranking: Ranking,
        keep: usize,
        date_windows: &DateWindowsCache,
    ) -> tantivy::Result<(Vec<(Score, tantivy::DocAddress)>, usize)> {
        let keep = keep.max(1);
        if ranking == Ranking::Relevance && self.words.len() == 1 && self.excluded.is_empty() {
            // One word: tantivy's block-max path finds its best page, and its count is its
            // document frequency where nothing is deleted. (With an excluded word, the page
            // could be drawn from a word most of whose documents are excluded.)
            let best = searcher.search(self, &tantivy::collector::TopDocs::with_limit(keep))?;
            return Ok((best, self.count(searcher)?));
        }
        if ranking == Ranking::Newest {
            date_windows.forget_all_but(searcher);
        }
        let whole = self
            .as_boolean()
            .weight(EnableScoring::enabled_from_searcher(searcher))?;
        let mut weights = Vec::with_capacity(self.words.len());
        for (term, &repeats) in self.words.iter().zip(&self.repeats) {
            let weight =
                tantivy::query::Bm25Weight::for_terms(searcher, std::slice::from_ref(term))?;
            weights.push(WordScores::new(weight.boost_by(repeats)));
        }
        // The lowest score of a whole page in the segments searched so far (as bits).
        let shared_floor = AtomicU32::new(0);
        // Segments largest first, on `threads` if given.
        let mut segments: Vec<(u32, &SegmentReader)> =
            (0u32..).zip(searcher.segment_readers()).collect();
        segments.sort_by_key(|(_, reader)| std::cmp::Reverse(reader.max_doc()));
        let segment = |(ordinal, reader): (u32, &SegmentReader)| {
            let address = |doc: DocId| tantivy::DocAddress::new(ordinal, doc);
            // (score, date, address): one of the first two is 0, as the ranking is by the other.
            let found: (usize, Vec<(Score, i64, tantivy::DocAddress)>) = match ranking {
                Ranking::Relevance => {
                    let (matches, best) =
                        self.segment_by_score(reader, &*whole, &weights, keep, &shared_floor)?;
                    let best = best.into_iter();
                    (
                        matches,
                        best.map(|(score, doc)| (score, 0, address(doc))).collect(),
                    )
                }
                Ranking::Newest => {
                    let (matches, best) =
                        self.segment_by_date(reader, &*whole, keep, date_windows)?;
                    let best = best.into_iter();
                    (
                        matches,
                        best.map(|(date, doc)| (0.0, date, address(doc))).collect(),
                    )
                }
            };
            Ok(found)
        };
        let per_segment = match threads {
            Some(executor) => executor.map(segment, segments.into_iter())?,
            None => segments
                .into_iter()
                .map(segment)
                .collect::<tantivy::Result<_>>()?,
        };
        let total = per_segment.iter().map(|(matches, _)| matches).sum();
        let mut found: Vec<_> = per_segment.into_iter().flat_map(|(_, best)| best).collect();
        found.sort_by(|a, b| {
            b.0.partial_cmp(&a.0)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(b.1.cmp(&a.1))
                .then(a.2.cmp(&b.2))
        });
        found.truncate(keep);
        Ok((
            found
                .into_iter()
                .map(|(score, _, address)| (score, address))
                .collect(),
            total,
        ))
    }

    /// One segment's matches counted and its best `keep` by score, whichever way through the
    /// segment is cheaper. Term at a time, a window whose best match cannot reach the page is
    /// counted and passed over: one that cannot reach this segment's best, or scores below
    /// `shared_floor`, the bits of the lowest score of a whole page found in another segment
    /// (a tie may still be taken: its document may come first).
    fn segment_by_score(
        &self,
        reader: &SegmentReader,
        whole: &dyn Weight,
        weights: &[WordScores],
        keep: usize,
        shared_floor: &AtomicU32,
    ) -> tantivy::Result<(usize, Vec<(Score, DocId)>)> {
        let mut best = Best::new(keep);
        let mut matches = 0;
        if self.dense_is_cheaper(reader)? {
            self.dense(reader, Some(weights), |window| {
                let found = window.matches();
                matches += found;
                if found == 0 {
                    return;
                }
                let shared = Score::from_bits(shared_floor.load(Ordering::Relaxed));
                let top = window.score_bound();
                // Documents come in increasing order: an equal score cannot displace one.
                if top >= shared && best.could_take(top, true) {
                    window.offer_matches(&mut best, shared);
                    if let Some((floor, _)) = best.floor {
                        shared_floor.fetch_max(floor.to_bits(), Ordering::Relaxed);
                    }
                }
            })?;
        } else {
            matches = sparse(reader, whole, true, |doc, score| best.offer(score, doc))?;
        }
        Ok((matches, best.finish()))
    }

    /// One segment's matches counted and its newest `keep`. Term at a time, the matches are
    /// marked in a bitmap and then only the windows that can hold the page, latest first,
    /// have their dates read.
    fn segment_by_date(
        &self,
        reader: &SegmentReader,
        whole: &dyn Weight,
        keep: usize,
        date_windows: &DateWindowsCache,
    ) -> tantivy::Result<(usize, Vec<(i64, DocId)>)> {
        let dates = reader.fast_fields().date(PUBLISHED)?;
        let mut best = Best::new(keep);
        if !self.dense_is_cheaper(reader)? {
            let matches = sparse(reader, whole, false, |doc, _| {
                best.offer(date_key(dates.first(doc)), doc)
            })?;
            return Ok((matches, best.finish()));
        }
        let mut matched = vec![0u64; (reader.max_doc() as usize).div_ceil(64)];
        let mut matches = 0;
        self.dense(reader, None, |window| {
            let found = window.matches();
            matches += found;
            if found > 0 {
                window.mark_matches(&mut matched);
            }
        })?;
        let windows = date_windows.of(reader)?;
        for &window in &windows.order {
            let latest = windows.latest.get(window as usize).copied();
            if !latest.is_some_and(|latest| best.could_take(latest, false)) {
                break;
            }
            let first_word = window as usize * WINDOW / 64;
            let words = matched
                .get(first_word..(first_word + WINDOW / 64).min(matched.len()))
                .unwrap_or_default();
            each_set_bit(words, first_word, |doc| {
                best.offer(date_key(dates.first(doc)), doc)
            });
        }
        Ok((matches, best.finish()))
    }

    /// Whether the term-at-a-time pass is the cheaper way through `reader`.
    pub(crate) fn dense_is_cheaper(&self, reader: &SegmentReader) -> tantivy::Result<bool> {
        if self.words.len() > usize::from(u8::MAX) {
            return Ok(false);
        }
        let mut frequencies = Vec::with_capacity(self.words.len());
        for term in self.words.iter().chain(&self.excluded) {
            frequencies.push(u64::from(
                reader.inverted_index(term.field())?.doc_freq(term)?,
            ));
        }
        let postings: u64 = frequencies.iter().sum();
        let dense = postings * DENSE_POSTING_NS + u64::from(reader.max_doc()) * DENSE_DOCUMENT_NS;
        let word_frequencies = &frequencies[..self.words.len()];
        let candidates = match self.needs {
            Needs::All => word_frequencies.iter().copied().min().unwrap_or(0),
            Needs::Any => word_frequencies.iter().sum(),
        };
        Ok(candidates * SPARSE_MATCH_NS > dense)
    }

    /// The term-at-a-time pass over one segment, a window of `WINDOW` documents at a time so
    /// its tables stay in the core's own cache: each word's postings in the window are added
    /// into the tables (how many words the document holds and, with `weights`, its score), an
    /// excluded word's zero them, the filters and deletions zero the documents they leave out,
    /// and `each_window` is given the window's tables.
    fn dense(
        &self,
        reader: &SegmentReader,
        weights: Option<&[WordScores]>,
        mut each_window: impl FnMut(&Window<'_>),
    ) -> tantivy::Result<()> {
        let max_doc = reader.max_doc();
        let option = if weights.is_some() {
            IndexRecordOption::WithFreqs
        } else {
            IndexRecordOption::Basic
        };
        let mut words = Vec::with_capacity(self.words.len());
        for (number, term) in self.words.iter().enumerate() {
            let inverted = reader.inverted_index(term.field())?;
            if let Some(postings) = inverted.read_block_postings(term, option)? {
                let scores = weights.and_then(|weights| weights.get(number));
                words.push(Cursor::new(postings, scores));
            }
        }
        let norms = match self.words.first() {
            Some(term) if weights.is_some() => Some(field_lengths(reader, term.field())?),
            _ => None,
        };
        let mut excluded = Vec::with_capacity(self.excluded.len());
        for term in &self.excluded {
            let inverted = reader.inverted_index(term.field())?;
            if let Some(postings) = inverted.read_block_postings(term, IndexRecordOption::Basic)? {
                excluded.push(Cursor::new(postings, None));
            }
        }
        let mut filters = Vec::with_capacity(self.filters.len());
        for filter in &self.filters {
            let weight = filter.weight(EnableScoring::disabled_from_schema(reader.schema()))?;
            filters.push(weight.scorer(reader, 1.0)?);
        }
        let needed = match self.needs {
            Needs::All => self.words.len() as u8,
            Needs::Any => 1,
        };
        let alive = reader.alive_bitset();
        let mut held = Box::new([0u8; WINDOW]);
        let mut scores = Box::new([0.0 as Score; WINDOW]);
        let mut start: DocId = 0;
        while start < max_doc {
            let end = start.saturating_add(WINDOW as DocId).min(max_doc);
            let span = (end - start) as usize;
            held.fill(0);
            if weights.is_some() {
                scores.fill(0.0);
            }
            for word in &mut words {
                word.add(start, end, norms.as_deref(), &mut held, &mut scores);
            }
            // What is left out holds no word and scores 0.
            for word in &mut excluded {
                word.each(end, |doc| {
                    let slot = doc.wrapping_sub(start) as usize & (WINDOW - 1);
                    held[slot] = 0;
                    scores[slot] = 0.0;
                });
            }
            for filter in &mut filters {
                // Zero what the filter leaves out: the gaps between its documents.
                let mut next = start;
                if filter.doc() < start {
                    filter.seek(start);
                }
                while next < end {
                    let passed = filter.doc().min(end);
                    let gap =
                        next.saturating_sub(start) as usize..passed.saturating_sub(start) as usize;
                    if let Some(gap) = held.get_mut(gap.clone()) {
                        gap.fill(0);
                    }
                    if let Some(gap) = scores.get_mut(gap) {
                        gap.fill(0.0);
                    }
                    next = passed.saturating_add(1);
                    if passed < end {
                        filter.advance();
                    }
                }
            }
            if let Some(alive) = alive {
                for ((count, score), doc) in held.iter_mut().zip(scores.iter_mut()).zip(start..end)
                {
                    if !alive.is_alive(doc) {
                        *count = 0;
                        *score = 0.0;
                    }
                }
            }
            each_window(&Window {
                start,
                held: held.get(..span).unwrap_or_default(),
                scores: scores.get(..span).unwrap_or_default(),
                needed,
            });
            start = end;
        }
        Ok(())
    }
}

/// The field length (fieldnorm id) of every document of the segment, a byte each, as stored.
fn field_lengths(
    reader: &SegmentReader,
    field: tantivy::schema::Field,
) -> tantivy::Result<tantivy::directory::OwnedBytes> {
    let file = reader
        .fieldnorms_readers()
        .get_inner_file()
        .open_read(field)
        .ok_or_else(|| {
            tantivy::TantivyError::SchemaError(format!(
                "no field lengths for field {}",
                field.field_id()
            ))
        })?;
    Ok(file.read_bytes()?)
}

/// The sparse way through a segment: tantivy's boolean query visits each match, which is
/// given to `each` with its score (0 unless `scored`). Returns how many matched.
fn sparse(
    reader: &SegmentReader,
    whole: &dyn Weight,
    scored: bool,
    mut each: impl FnMut(DocId, Score),
) -> tantivy::Result<usize> {
    let mut scorer = whole.scorer(reader, 1.0)?;
    let alive = reader.alive_bitset();
    let mut matches = 0;
    let mut doc = scorer.doc();
    while doc != TERMINATED {
        if alive.is_none_or(|alive| alive.is_alive(doc)) {
            matches += 1;
            each(doc, if scored { scorer.score() } else { 0.0 });
        }
        doc = scorer.advance();
    }
    Ok(matches)
}

/// One window's tables once every word, exclusion, filter and deletion is in: the document
/// `start + i` matches if `held[i]` is at least `needed`, with the score `scores[i]`.
struct Window<'t> {
    start: DocId,
    held: &'t [u8],
    scores: &'t [Score],
    needed: u8,
}

impl Window<'_> {
    /// How many documents of the window match (a loop the compiler runs on vectors).
    fn matches(&self) -> usize {
        self.held
            .iter()
            .filter(|&&held| held >= self.needed)
            .count()
    }

    /// A score no match of the window passes: the greatest in its score table, where a
    /// document left out by an exclusion, a filter or a deletion scores 0 and one holding
    /// only some of the words its part. Taken 16 lanes at a time, which the compiler runs on
    /// vectors.
    fn score_bound(&self) -> Score {
        let mut lanes = [0.0 as Score; LANES];
        for chunk in self.scores.chunks(LANES) {
            for (lane, &score) in lanes.iter_mut().zip(chunk) {
                *lane = if score > *lane { score } else { *lane };
            }
        }
        lanes_max(&lanes)
    }

    /// Offers `best` every match that could enter it and scores at least `shared`, in
    /// document order. Runs of 16 documents none of which scores that much are passed over
    /// on vectors.
    fn offer_matches(&self, best: &mut Best<Score>, shared: Score) {
        // What a score must beat: this page's floor (documents come in increasing order, so an
        // equal score cannot displace one), and just below `shared` (a tie with another
        // segment's page may still win on its document).
        let least = |best: &Best<Score>| {
            let own = best.floor.map_or(Score::NEG_INFINITY, |(floor, _)| floor);
            own.max(shared.next_down())
        };
        let mut above = least(best);
        let chunks = self.held.chunks(LANES).zip(self.scores.chunks(LANES));
        for (first, (held, scores)) in (self.start..).step_by(LANES).zip(chunks) {
            let mut lanes = [0.0 as Score; LANES];
            for (lane, &score) in lanes.iter_mut().zip(scores) {
                *lane = score;
            }
            if lanes_max(&lanes) <= above {
                continue;
            }
            for ((doc, &held), &score) in (first..).zip(held).zip(scores) {
                if held >= self.needed && score > above {
                    best.offer(score, doc);
                    above = least(best);
                }
            }
        }
    }

    /// Sets the bit of every match in `bitmap`, a bit per document of the segment (the window
    /// starts on a multiple of 64).
    fn mark_matches(&self, bitmap: &mut [u64]) {
        let first_word = self.start as usize / 64;
        for (chunk, word) in self.held.chunks(64).zip(bitmap.iter_mut().skip(first_word)) {
            let mut bits = 0u64;
            for (bit, &held) in chunk.iter().enumerate() {
                bits |= u64::from(held >= self.needed) << bit;
            }
            *word |= bits;
        }
    }
}

/// Documents a term-at-a-time window spans: its tables (5 bytes a document) fit a core's
/// first-level cache.
pub(crate) const WINDOW: usize = 4096;

/// Scores compared at once where a window is scanned for its best (a multiple of 4, the
/// floats of one vector register).
const LANES: usize = 16;

/// The greatest of `lanes`, four at a time.
fn lanes_max(lanes: &[Score; LANES]) -> Score {
    let mut four = [0.0 as Score; 4];
    for quad in lanes.chunks_exact(4) {
        for (top, &score) in four.iter_mut().zip(quad) {
            *top = if score > *top { score } else { *top };
        }
    }
    four.into_iter()
        .fold(0.0, |top, lane| if lane > top { lane } else { top })
}

/// A word's BM25 scores: its weight, and a table of its scores by count in the document (1 to
/// `TABLED_FREQUENCIES`) and field length (256 to a count), computed once per query.
struct WordScores {
    weight: tantivy::query::Bm25Weight,
    table: Box<[Score; TABLE_SIZE]>,
}

/// Scores tabled per word: 256 field lengths for each count from 1 to `TABLED_FREQUENCIES`.
const TABLE_SIZE: usize = TABLED_FREQUENCIES as usize * 256;

impl WordScores {
    fn new(weight: tantivy::query::Bm25Weight) -> WordScores {
        let mut table = Box::new([0.0; TABLE_SIZE]);
        for (place, score) in table.iter_mut().enumerate() {
            let (freq, fieldnorm_id) = (place / 256 + 1, place % 256);
            *score = weight.score(fieldnorm_id as u8, freq as u32);
        }
        WordScores { weight, table }
    }

    #[inline]
    fn score(&self, fieldnorm_id: u8, freq: u32) -> Score {
        if (1..=TABLED_FREQUENCIES).contains(&freq) {
            // In bounds: the mask keeps the place below `TABLE_SIZE`, a power of two.
            self.table[((freq as usize - 1) * 256 + usize::from(fieldnorm_id)) & (TABLE_SIZE - 1)]
        } else {
            self.weight.score(fieldnorm_id, freq)
        }
    }
}

/// One term's postings, read a block at a time and a window at a time.
struct Cursor<'a> {
    postings: tantivy::postings::BlockSegmentPostings,
    /// The next posting's place in the current block.
    at: usize,
    /// The word's scores, if it is scored.
    scores: Option<&'a WordScores>,
}

impl<'a> Cursor<'a> {
    fn new(
        postings: tantivy::postings::BlockSegmentPostings,
        scores: Option<&'a WordScores>,
    ) -> Cursor<'a> {
        Cursor {
            postings,
            at: 0,
            scores,
        }
    }

    /// Calls `each` with every document before `end` not yet passed.
    fn each(&mut self, end: DocId, mut each: impl FnMut(DocId)) {
        loop {
            let docs = self.postings.docs();
            if docs.is_empty() {
                return;
            }
            while let Some(&doc) = docs.get(self.at) {
                if doc >= end {
                    return;
                }
                each(doc);
                self.at += 1;
            }
            self.postings.advance();
            self.at = 0;
        }
    }

    /// Adds the postings of the window `start..end` into its tables: one more word held and,
    /// with `norms` (the field length of each document of the segment), the word's score.
    fn add(
        &mut self,
        start: DocId,
        end: DocId,
        norms: Option<&[u8]>,
        held: &mut [u8; WINDOW],
        scores: &mut [Score; WINDOW],
    ) {
        loop {
            let docs = self.postings.docs();
            let from = self.at;
            let Some(rest) = docs.get(from..) else {
                return;
            };
            if docs.is_empty() {
                return;
            }
            // This block's postings in the window; the window's slots are reached by a mask,
            // which every document from `start` to `end` passes unchanged.
            let until = match rest.last() {
                Some(&last) if last < end => docs.len(),
                _ => from + rest.partition_point(|&doc| doc < end),
            };
            let in_window = docs.get(from..until).unwrap_or_default();
            let slot = |doc: DocId| doc.wrapping_sub(start) as usize & (WINDOW - 1);
            match (norms, self.scores) {
                (Some(norms), Some(word)) => {
                    let freqs = self.postings.freqs().get(from..until).unwrap_or_default();
                    for (&doc, &freq) in in_window.iter().zip(freqs) {
                        let slot = slot(doc);
                        // At most 255 words are read this way, one count each.
                        held[slot] = held[slot].wrapping_add(1);
                        let fieldnorm_id = norms.get(doc as usize).copied().unwrap_or(0);
                        scores[slot] += word.score(fieldnorm_id, freq);
                    }
                }
                _ => {
                    for &doc in in_window {
                        let slot = slot(doc);
                        held[slot] = held[slot].wrapping_add(1);
                    }
                }
            }
            if until < docs.len() {
                self.at = until;
                return;
            }
            self.postings.advance();
            self.at = 0;
        }
    }
}
