//! words_query: the query most searches are, some words (all of them, or any), none of some
//! others, within filters, run so that neither its best page nor its count costs a visit to
//! every match when the words are common. At a million stories a common word is in most.
//!
//! - `WordsQuery::best_and_count` pages and counts it. Per segment, where the words are rare,
//!   tantivy's boolean query visits the few matches; where they are common, each word's
//!   postings are read a block at a time into per-document tables (score, words held), a
//!   window of `WINDOW` documents at a time, and one pass over each window counts the matches
//!   and keeps the best page, by score or by date (term at a time, as Lucene's bulk scorer).
//! - One word alone is paged by tantivy's block-max WAND through the `Query` impl below, which
//!   takes an offered document only if it passes the filters and holds no excluded word (an
//!   AND is offered as the OR of its words and checked for every word: correct, but slow for
//!   common words, which score alike in every block, so `best_and_count` uses it for one word
//!   only). Its count is the word's document frequency, or a bitmap pass over its postings
//!   where there are deletions, filters or exclusions.

use tantivy::query::{
    BooleanQuery, ConstScoreQuery, EnableScoring, Explanation, Occur, Query, Scorer, TermQuery,
    Weight,
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
    words: Vec<Term>,
    needs: Needs,
    excluded: Vec<Term>,
    filters: Vec<Box<dyn Query>>,
}

impl Clone for WordsQuery {
    fn clone(&self) -> WordsQuery {
        WordsQuery {
            words: self.words.clone(),
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
        Some(WordsQuery {
            words,
            needs,
            excluded,
            filters,
        })
    }

    /// The same matches and scores as tantivy's own boolean query (filters score zero).
    fn as_boolean(&self) -> BooleanQuery {
        let scored = |term: &Term| -> Box<dyn Query> {
            Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs))
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = match self.needs {
            Needs::All => self
                .words
                .iter()
                .map(|term| (Occur::Must, scored(term)))
                .collect(),
            Needs::Any => vec![(
                Occur::Must,
                Box::new(BooleanQuery::new(
                    self.words
                        .iter()
                        .map(|term| (Occur::Should, scored(term)))
                        .collect(),
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
        // The OR of the words, which tantivy pages by block-max WAND.
        let offered: Box<dyn Query> = match self.words.as_slice() {
            [word] => Box::new(TermQuery::new(word.clone(), IndexRecordOption::WithFreqs)),
            words => Box::new(BooleanQuery::new(
                words
                    .iter()
                    .map(|term| -> (Occur, Box<dyn Query>) {
                        (
                            Occur::Should,
                            Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs)),
                        )
                    })
                    .collect(),
            )),
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
        let mut threshold = threshold;
        self.offered
            .for_each_pruning(threshold, reader, &mut |doc, score| {
                let taken = required.iter_mut().all(|docset| holds(&mut **docset, doc))
                    && !excluded.iter_mut().any(|docset| holds(&mut **docset, doc));
                if taken {
                    threshold = callback(doc, score);
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
        for (index, word) in matches.iter().enumerate() {
            let mut word = *word;
            while word != 0 {
                let doc = index as u32 * 64 + word.trailing_zeros();
                count += u32::from(alive.is_alive(doc));
                word &= word - 1;
            }
        }
        return Ok(Some(count));
    }
    Ok(Some(matches.iter().map(|word| word.count_ones()).sum()))
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

/// The best `keep` of the candidates offered, earlier documents first among equal keys.
struct Best<K> {
    keep: usize,
    found: Vec<(K, DocId)>,
    /// Once `keep` are held, what a candidate must beat.
    floor: Option<K>,
}

impl<K: PartialOrd + Copy> Best<K> {
    fn new(keep: usize) -> Best<K> {
        Best {
            keep,
            found: Vec::with_capacity(keep.saturating_mul(2).min(4096)),
            floor: None,
        }
    }

    #[inline]
    fn offer(&mut self, key: K, doc: DocId) {
        if self.floor.is_some_and(|floor| key <= floor) {
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
            self.floor = self.found.last().map(|(key, _)| *key);
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
    ) -> tantivy::Result<(Vec<(Score, tantivy::DocAddress)>, usize)> {
        let keep = keep.max(1);
        if ranking == Ranking::Relevance && self.words.len() == 1 && self.excluded.is_empty() {
            // One word: tantivy's block-max path finds its best page, and its count is its
            // document frequency where nothing is deleted. (With an excluded word, the page
            // could be drawn from a word most of whose documents are excluded.)
            let best = searcher.search(self, &tantivy::collector::TopDocs::with_limit(keep))?;
            return Ok((best, self.count(searcher)?));
        }
        let whole = self
            .as_boolean()
            .weight(EnableScoring::enabled_from_searcher(searcher))?;
        let mut weights = Vec::with_capacity(self.words.len());
        for term in &self.words {
            weights.push(WordScores::new(tantivy::query::Bm25Weight::for_terms(
                searcher,
                std::slice::from_ref(term),
            )?));
        }
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
                        self.segment_best(reader, &*whole, &weights, true, keep, |_, score| score)?;
                    let best = best.into_iter();
                    (
                        matches,
                        best.map(|(score, doc)| (score, 0, address(doc))).collect(),
                    )
                }
                Ranking::Newest => {
                    let dates = reader.fast_fields().date(PUBLISHED)?;
                    let (matches, best) =
                        self.segment_best(reader, &*whole, &weights, false, keep, |doc, _| {
                            dates
                                .first(doc)
                                .map(|date| date.into_timestamp_nanos())
                                .unwrap_or(i64::MIN)
                        })?;
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

    /// One segment's matches counted and its best `keep` by `key` (of the document and its
    /// score, which is 0 unless `scored`), whichever way through the segment is cheaper.
    fn segment_best<K: PartialOrd + Copy>(
        &self,
        reader: &SegmentReader,
        whole: &dyn Weight,
        weights: &[WordScores],
        scored: bool,
        keep: usize,
        key: impl Fn(DocId, Score) -> K,
    ) -> tantivy::Result<(usize, Vec<(K, DocId)>)> {
        let mut best = Best::new(keep);
        let mut matches = 0;
        if self.dense_is_cheaper(reader)? {
            matches = self.dense(reader, weights, scored, |doc, score| {
                best.offer(key(doc, score), doc)
            })?;
        } else {
            let mut scorer = whole.scorer(reader, 1.0)?;
            let alive = reader.alive_bitset();
            let mut doc = scorer.doc();
            while doc != TERMINATED {
                if alive.is_none_or(|alive| alive.is_alive(doc)) {
                    matches += 1;
                    let score = if scored { scorer.score() } else { 0.0 };
                    best.offer(key(doc, score), doc);
                }
                doc = scorer.advance();
            }
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
    /// into the tables (a score, how many words the document holds), an excluded word's
    /// zero them, the filters and deletions zero the documents they leave out, and every
    /// match is offered with its score (0 unless `scored`). Returns how many matched.
    fn dense(
        &self,
        reader: &SegmentReader,
        weights: &[WordScores],
        scored: bool,
        mut offer: impl FnMut(DocId, Score),
    ) -> tantivy::Result<usize> {
        let max_doc = reader.max_doc();
        let option = if scored {
            IndexRecordOption::WithFreqs
        } else {
            IndexRecordOption::Basic
        };
        let mut words = Vec::with_capacity(self.words.len());
        for (term, weight) in self.words.iter().zip(weights) {
            let inverted = reader.inverted_index(term.field())?;
            if let Some(postings) = inverted.read_block_postings(term, option)? {
                words.push(Cursor::new(postings, scored.then_some(weight)));
            }
        }
        let norms = match self.words.first() {
            Some(term) if scored => Some(reader.get_fieldnorms_reader(term.field())?),
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
        let mut held = vec![0u8; WINDOW];
        let mut scores = vec![0.0 as Score; WINDOW];
        let mut matches = 0;
        let mut start: DocId = 0;
        while start < max_doc {
            let end = start.saturating_add(WINDOW as DocId).min(max_doc);
            held.fill(0);
            if scored {
                scores.fill(0.0);
            }
            for word in &mut words {
                word.add(start, end, norms.as_ref(), &mut held, &mut scores);
            }
            for word in &mut excluded {
                word.each(end, |doc| {
                    if let Some(count) = held.get_mut(doc.wrapping_sub(start) as usize) {
                        *count = 0;
                    }
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
                    if let Some(gap) = held.get_mut(gap) {
                        gap.fill(0);
                    }
                    next = passed.saturating_add(1);
                    if passed < end {
                        filter.advance();
                    }
                }
            }
            for (doc, (&count, &score)) in (start..end).zip(held.iter().zip(&scores)) {
                if count >= needed && alive.is_none_or(|alive| alive.is_alive(doc)) {
                    matches += 1;
                    offer(doc, score);
                }
            }
            start = end;
        }
        Ok(matches)
    }
}

/// Documents a term-at-a-time window spans: its tables (5 bytes a document) fit a core's
/// first-level cache.
const WINDOW: usize = 4096;

/// A word's BM25 scores: its weight, and a table of its scores by count in the document (1 to
/// `TABLED_FREQUENCIES`) and field length (256 to a count), computed once per query.
struct WordScores {
    weight: tantivy::query::Bm25Weight,
    table: Vec<Score>,
}

impl WordScores {
    fn new(weight: tantivy::query::Bm25Weight) -> WordScores {
        let table = (1..=TABLED_FREQUENCIES)
            .flat_map(|freq| (0..=u8::MAX).map(move |fieldnorm_id| (fieldnorm_id, freq)))
            .map(|(fieldnorm_id, freq)| weight.score(fieldnorm_id, freq))
            .collect();
        WordScores { weight, table }
    }

    #[inline]
    fn score(&self, fieldnorm_id: u8, freq: u32) -> Score {
        let tabled = (freq as usize).wrapping_sub(1) * 256 + usize::from(fieldnorm_id);
        match self.table.get(tabled) {
            Some(score) if freq >= 1 => *score,
            _ => self.weight.score(fieldnorm_id, freq),
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
    /// with `norms`, the word's score.
    fn add(
        &mut self,
        start: DocId,
        end: DocId,
        norms: Option<&tantivy::fieldnorm::FieldNormReader>,
        held: &mut [u8],
        scores: &mut [Score],
    ) {
        loop {
            let docs = self.postings.docs();
            if docs.is_empty() {
                return;
            }
            let freqs = if norms.is_some() {
                self.postings.freqs()
            } else {
                &[]
            };
            while let Some(&doc) = docs.get(self.at) {
                if doc >= end {
                    return;
                }
                let slot = (doc - start) as usize;
                if let Some(count) = held.get_mut(slot) {
                    *count = count.saturating_add(1);
                }
                if let (Some(norms), Some(word), Some(score), Some(&freq)) =
                    (norms, self.scores, scores.get_mut(slot), freqs.get(self.at))
                {
                    *score += word.score(norms.fieldnorm_id(doc), freq);
                }
                self.at += 1;
            }
            self.postings.advance();
            self.at = 0;
        }
    }
}
