//! words_query: the query most searches are, some words (all of them, or any), none of some
//! others, within filters, run so that neither its best page nor its count costs a visit to
//! every match. At a million stories a common word matches most of them.
//!
//! - The page: tantivy skips blocks of postings that cannot reach the page (block-max WAND)
//!   for an OR of words only. An AND is paged as the OR of its words, and a document the OR
//!   offers is taken only if it holds every word (and passes the filters, and holds no
//!   excluded word). A document holding every word scores the same in both, so nothing the
//!   AND would rank is skipped; documents with some of the words are offered only while their
//!   score could still reach the page.
//! - The count: the words' postings are read a block at a time into bitmaps and combined, a
//!   pass with no scoring and no seeking. Where one word is rare, tantivy's own leapfrogging
//!   intersection is cheaper and is used instead.

use tantivy::query::{
    BooleanQuery, ConstScoreQuery, EnableScoring, Explanation, Occur, Query, Scorer, TermQuery,
    Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, Term};

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
        for filter in &self.filters {
            clauses.push((
                Occur::Must,
                Box::new(ConstScoreQuery::new(filter.box_clone(), 0.0)),
            ));
        }
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
