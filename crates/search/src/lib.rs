//! search: the full-text index of published stories (tantivy), derived from the store and
//! rebuilt from it at will (`verbatim reindex`). Only what is published is ever added; a story
//! that is killed, withheld or superseded is replaced or removed by the follower in `serve`.
//!
//! Query language: words are all required (`harbour fire`); `"exact phrase"`; `OR` between
//! terms (`strike OR walkout`); `-word` or `-"phrase"` excludes; case and diacritics are ignored
//! (`cafe` finds `café`); no stemming, so agency wording is matched as written. Input that is not
//! valid syntax (an unbalanced quote, a lone `OR`) is read leniently, never refused.

mod common;
mod tokenizer;
mod words_query;

pub use common::{
    COMMON_WORDS_FILE, CommonWords, CommonWordsLearner, LEARN_MAX_WORDS, LEARN_MIN_DOCUMENTS,
    LEARN_MIN_FRACTION,
};
use tokenizer::PairTokenizer;
pub use tokenizer::WireTokenizer;
use words_query::{DateWindowsCache, Ranking, WordsQuery, filter_clause};

use chrono::{DateTime, Utc};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{
    DateOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, TextAnalyzer, TokenizerManager,
};
use tantivy::{Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term};

/// The longest query text read (longer input is cut at a character boundary).
pub const MAX_QUERY_CHARS: usize = 1_000;
/// The most hits one page returns.
pub const MAX_LIMIT: usize = 100;
/// The deepest page reachable.
pub const MAX_OFFSET: usize = 10_000;
/// The most threads one query's segments are searched on by default (at most one per core).
const MAX_SEARCH_THREADS: usize = 4;
/// Below this many documents, a query's segments are searched one after another: handing
/// them to threads cost more than it saved at 100,000 stories.
const PARALLEL_MIN_DOCUMENTS: u64 = 500_000;
/// Overrides how many threads one query's segments are searched on (1: the calling thread).
pub const SEARCH_THREADS_VARIABLE: &str = "VERBATIM_SEARCH_THREADS";

/// How many threads a query's segments are searched on: `VERBATIM_SEARCH_THREADS` if set to a
/// number from 1 to 64, else one per core up to 4.
pub fn search_threads() -> usize {
    let chosen = std::env::var(SEARCH_THREADS_VARIABLE)
        .ok()
        .and_then(|value| value.trim().parse::<usize>().ok())
        .filter(|threads| (1..=64).contains(threads));
    chosen.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map_or(1, |cores| cores.get())
            .min(MAX_SEARCH_THREADS)
    })
}
/// The writer's memory budget.
const WRITER_MEMORY: usize = 50_000_000;
/// The least memory tantivy accepts for one indexing thread (`MEMORY_BUDGET_NUM_BYTES_MIN`,
/// not exported; a test opens a writer with every thread count this allows).
const INDEXING_THREAD_MEMORY_MIN: usize = 15_000_000;
/// How many threads tantivy indexes on: half the cores, at least one, and no more than the
/// writer's memory gives each its least (three). Each commit writes a segment per thread that
/// holds documents, and every segment is merged again later; the other half of the cores
/// parse, sign, store and cluster.
fn indexing_threads() -> usize {
    indexing_threads_for(std::thread::available_parallelism().map_or(1, |cores| cores.get()))
}

fn indexing_threads_for(cores: usize) -> usize {
    (cores / 2).clamp(1, WRITER_MEMORY / INDEXING_THREAD_MEMORY_MIN)
}
/// Snippet length, in characters.
const SNIPPET_CHARS: usize = 200;
/// A headline word counts as this many occurrences of it: the headline is indexed this many
/// times in `text`, ahead of the body.
const HEADLINE_WEIGHT: usize = 2;
/// Words, and word pairs where one word is common (`PairTokenizer`, `CommonWords`). Renamed
/// from `verbatim_wire` when pairs were added, and from `verbatim_wire_pairs` (every pair) when
/// pairs were kept to common words, so an index built the older way no longer opens (its common
/// words would not be known) and `serve` rebuilds it.
const TOKENIZER: &str = "verbatim_wire_common_grams";

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index at {path}: {reason} (run `verbatim reindex` to rebuild it)")]
    Open { path: String, reason: String },
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index: another process is writing it")]
    Busy,
}

/// One published story as the index holds it.
#[derive(Debug, Clone)]
pub struct SearchDoc {
    pub id: String,
    pub source: String,
    pub language: Option<String>,
    pub headline: String,
    pub body_text: String,
    pub published: DateTime<Utc>,
    /// The sections the routing rules put it in.
    pub sections: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortOrder {
    /// Best match first (BM25; a headline word counts as two occurrences).
    #[default]
    Relevance,
    /// Newest first.
    Newest,
}

#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub text: String,
    pub source: Option<String>,
    pub section: Option<String>,
    pub language: Option<String>,
    /// Only among these stories (saved searches check just the new ones).
    pub only_ids: Option<Vec<String>>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub order: SortOrder,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Debug, Clone)]
pub struct SearchHit {
    pub id: String,
    pub score: f32,
    /// The headline, HTML-escaped, matches in `<b>`.
    pub headline_html: String,
    /// Up to 200 characters of the body around the best match, HTML-escaped, matches in `<b>`.
    pub snippet_html: String,
}

#[derive(Debug, Clone, Default)]
pub struct SearchResults {
    /// All matches, not only this page.
    pub total: usize,
    pub hits: Vec<SearchHit>,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    source: Field,
    language: Field,
    /// Stored for display and snippets; matched through `text`.
    headline: Field,
    /// Stored for display and snippets; matched through `text`.
    body: Field,
    /// What queries match and score: the headline twice, then the body (three values of one
    /// field, so a phrase never runs from one into the next). One field keeps a word one
    /// posting list, so a word's matches and score need no union of fields.
    text: Field,
    published: Field,
    section: Field,
}

fn schema() -> (Schema, Fields) {
    schema_with(TOKENIZER)
}

fn schema_with(tokenizer: &str) -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let matched = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let shown = TextOptions::default().set_stored();
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        source: builder.add_text_field("source", STRING),
        language: builder.add_text_field("language", STRING),
        headline: builder.add_text_field("headline", shown.clone()),
        body: builder.add_text_field("body", shown),
        text: builder.add_text_field("text", matched),
        published: builder.add_date_field(
            "published",
            DateOptions::from(INDEXED).set_fast().set_stored(),
        ),
        section: builder.add_text_field("section", STRING),
    };
    (builder.build(), fields)
}

/// The full-text index. One writer per index folder: a second process opening it for writing
/// gets [`SearchError::Busy`] and may still search.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    /// `None` inside only while [`SearchIndex::finish_merges`] replaces the writer.
    writer: Option<Mutex<Option<IndexWriter>>>,
    fields: Fields,
    /// Reads the query language: words as indexed, phrases as word pairs and words.
    parser: QueryParser,
    /// The index's common words (stored with it), the same for indexing and queries.
    common: Arc<CommonWords>,
    /// The threads a large index's segments are searched on (term at a time), started on
    /// the first search that needs them; `None` inside for one thread.
    executor: std::sync::OnceLock<Option<tantivy::Executor>>,
    /// Each segment's latest date per window, for newest-first pages of common words.
    date_windows: DateWindowsCache,
}

/// Words as the index holds them: UAX #29 words, over-long ones dropped, lower-cased, folded.
fn words() -> TextAnalyzer {
    TextAnalyzer::builder(WireTokenizer::default())
        .filter(RemoveLongFilter::limit(100))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

impl SearchIndex {
    /// Opens (or creates, with the built-in common words) the index in `dir` for reading and
    /// writing.
    pub fn open(dir: &Path) -> Result<SearchIndex, SearchError> {
        Self::open_with(dir, true, None)
    }

    /// Opens the index in `dir` for reading and writing, creating it with these common words
    /// (learned with [`CommonWords::learn`], say) if the folder holds no index yet. An existing
    /// index keeps the words it was built with.
    pub fn create_with_common(dir: &Path, common: CommonWords) -> Result<SearchIndex, SearchError> {
        Self::open_with(dir, true, Some(common))
    }

    /// Opens the index in `dir` for searching only (another process writes it).
    pub fn open_read_only(dir: &Path) -> Result<SearchIndex, SearchError> {
        Self::open_with(dir, false, None)
    }

    fn open_with(
        dir: &Path,
        write: bool,
        common: Option<CommonWords>,
    ) -> Result<SearchIndex, SearchError> {
        let failed = |reason: String| SearchError::Open {
            path: dir.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|error| failed(error.to_string()))?;
        let directory = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|error| failed(error.to_string()))?;
        let exists = Index::exists(&directory).map_err(|error| failed(error.to_string()))?;
        if !exists {
            // A new index: its common words are stored before the index is, so an index of
            // this version is never without them.
            common.unwrap_or_default().write(dir).map_err(failed)?;
        }
        let (schema, fields) = schema();
        let index = Index::open_or_create(directory, schema)
            .map_err(|error| failed(format!("not an index of this version: {error}")))?;
        let common = CommonWords::read(dir).map_err(failed)?;
        Self::ready(index, fields, write, common)
    }

    /// An index in memory, with the built-in common words (tests, benchmarks).
    pub fn in_memory() -> Result<SearchIndex, SearchError> {
        Self::in_memory_with_common(CommonWords::default())
    }

    /// An index in memory with these common words.
    pub fn in_memory_with_common(common: CommonWords) -> Result<SearchIndex, SearchError> {
        let (schema, fields) = schema();
        Self::ready(Index::create_in_ram(schema), fields, true, common)
    }

    /// The search threads (`search_threads`), started the first time they are asked for;
    /// `None` where one thread is configured or the threads could not be started.
    fn executor(&self) -> Option<&tantivy::Executor> {
        self.executor
            .get_or_init(|| {
                let threads = search_threads();
                (threads > 1)
                    .then(|| tantivy::Executor::multi_thread(threads, "verbatim-search-").ok())
                    .flatten()
            })
            .as_ref()
    }

    /// The common words the index was built with: pairs are indexed where one word is common.
    pub fn common_words(&self) -> &CommonWords {
        &self.common
    }

    fn ready(
        index: Index,
        fields: Fields,
        write: bool,
        common: CommonWords,
    ) -> Result<SearchIndex, SearchError> {
        let common = Arc::new(common);
        index.tokenizers().register(
            TOKENIZER,
            PairTokenizer::new(words(), Arc::clone(&common), false),
        );
        let query_tokenizers = TokenizerManager::default();
        query_tokenizers.register(
            TOKENIZER,
            PairTokenizer::new(words(), Arc::clone(&common), true),
        );
        let mut parser = QueryParser::new(index.schema(), vec![fields.text], query_tokenizers);
        parser.set_conjunction_by_default();
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()?;
        let writer = if write {
            match index.writer_with_num_threads(indexing_threads(), WRITER_MEMORY) {
                Ok(writer) => {
                    // A process killed mid-commit leaves files no commit refers to (segments,
                    // `.del` files). Their names can come round again (a `.del` file is named
                    // by segment and opstamp, and the opstamp restarts from the last commit),
                    // so they are removed before anything is written.
                    writer.garbage_collect_files().wait()?;
                    Some(Mutex::new(Some(writer)))
                }
                Err(tantivy::TantivyError::LockFailure(..)) => return Err(SearchError::Busy),
                Err(error) => return Err(error.into()),
            }
        } else {
            None
        };
        Ok(SearchIndex {
            index,
            reader,
            writer,
            fields,
            parser,
            common,
            executor: std::sync::OnceLock::new(),
            date_windows: DateWindowsCache::default(),
        })
    }

    fn with_writer<T>(
        &self,
        work: impl FnOnce(&mut IndexWriter) -> Result<T, SearchError>,
    ) -> Result<T, SearchError> {
        let writer = self.writer.as_ref().ok_or(SearchError::Busy)?;
        let mut writer = writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let writer = writer.as_mut().ok_or(SearchError::Busy)?;
        work(writer)
    }

    /// Waits until the background merges of committed segments are done and searches see the
    /// merged segments (after a bulk load, such as a rebuild or a benchmark's). Uncommitted
    /// changes are dropped, so commit first.
    pub fn finish_merges(&self) -> Result<(), SearchError> {
        let slot = self.writer.as_ref().ok_or(SearchError::Busy)?;
        let mut slot = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let waited = match slot.take() {
            Some(writer) => writer.wait_merging_threads(),
            None => Ok(()),
        };
        *slot = Some(
            self.index
                .writer_with_num_threads(indexing_threads(), WRITER_MEMORY)?,
        );
        drop(slot);
        waited?;
        self.reader.reload()?;
        Ok(())
    }

    /// How many segments searches go through (each is searched in turn).
    pub fn segments(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// Adds the story, replacing what the index had under its id.
    pub fn upsert(&self, doc: &SearchDoc) -> Result<(), SearchError> {
        let fields = self.fields;
        self.with_writer(|writer| {
            writer.delete_term(Term::from_field_text(fields.id, &doc.id));
            let mut document = TantivyDocument::default();
            document.add_text(fields.id, &doc.id);
            document.add_text(fields.source, &doc.source);
            if let Some(language) = &doc.language {
                document.add_text(fields.language, primary_language(language));
            }
            document.add_text(fields.headline, &doc.headline);
            document.add_text(fields.body, &doc.body_text);
            for _ in 0..HEADLINE_WEIGHT {
                document.add_text(fields.text, &doc.headline);
            }
            document.add_text(fields.text, &doc.body_text);
            document.add_date(fields.published, to_tantivy_time(doc.published));
            for section in &doc.sections {
                document.add_text(fields.section, section);
            }
            writer.add_document(document)?;
            Ok(())
        })
    }

    /// Removes the story (killed, withheld, no longer published).
    pub fn remove(&self, id: &str) -> Result<(), SearchError> {
        let fields = self.fields;
        self.with_writer(|writer| {
            writer.delete_term(Term::from_field_text(fields.id, id));
            Ok(())
        })
    }

    /// Empties the index (before a rebuild).
    pub fn clear(&self) -> Result<(), SearchError> {
        self.with_writer(|writer| {
            writer.delete_all_documents()?;
            Ok(())
        })
    }

    /// Makes every change so far visible to searches, at once.
    pub fn commit(&self) -> Result<(), SearchError> {
        self.with_writer(|writer| {
            writer.commit()?;
            Ok(())
        })?;
        self.reader.reload()?;
        Ok(())
    }

    /// Commits with a mark saved atomically alongside (the follower's position in the store),
    /// so after a restart the index knows how far it got.
    pub fn commit_with_mark(&self, mark: &str) -> Result<(), SearchError> {
        self.with_writer(|writer| {
            let mut prepared = writer.prepare_commit()?;
            prepared.set_payload(mark);
            prepared.commit()?;
            Ok(())
        })?;
        self.reader.reload()?;
        Ok(())
    }

    /// The mark of the last [`SearchIndex::commit_with_mark`], if any.
    pub fn mark(&self) -> Option<String> {
        self.index.load_metas().ok().and_then(|metas| metas.payload)
    }

    /// Whether this handle can write (it holds the folder's writer lock).
    pub fn is_writer(&self) -> bool {
        self.writer.is_some()
    }

    /// Picks up commits made by another process (read-only indexes).
    pub fn refresh(&self) -> Result<(), SearchError> {
        self.reader.reload()?;
        Ok(())
    }

    /// How many stories the index holds.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn search(&self, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        let searcher = self.reader.searcher();
        let fields = self.fields;
        let text: String = query.text.chars().take(MAX_QUERY_CHARS).collect();
        let text = text.trim();
        let limit = query.limit.clamp(1, MAX_LIMIT);
        let offset = query.offset.min(MAX_OFFSET);
        let matching: Box<dyn Query> = if text.is_empty() {
            Box::new(AllQuery)
        } else {
            // Lenient: whatever cannot be read as syntax is read as words.
            let (parsed, _ignored) = self.parser.parse_query_lenient(&user_syntax(text));
            parsed
        };
        // Filters restrict and add nothing to scores.
        let mut filters: Vec<Box<dyn Query>> = Vec::new();
        let exact = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            ))
        };
        if let Some(source) = &query.source {
            filters.push(exact(fields.source, source));
        }
        if let Some(section) = &query.section {
            filters.push(exact(fields.section, section));
        }
        if let Some(ids) = &query.only_ids {
            let terms = ids
                .iter()
                .map(|id| Term::from_field_text(fields.id, id))
                .collect::<Vec<_>>();
            filters.push(Box::new(tantivy::query::TermSetQuery::new(terms)));
        }
        if let Some(language) = &query.language {
            filters.push(exact(fields.language, &primary_language(language)));
        }
        if query.since.is_some() || query.until.is_some() {
            let bound = |time: Option<DateTime<Utc>>, inclusive: bool| match time {
                Some(time) => {
                    let term = Term::from_field_date(fields.published, to_tantivy_time(time));
                    if inclusive {
                        std::ops::Bound::Included(term)
                    } else {
                        std::ops::Bound::Excluded(term)
                    }
                }
                None => std::ops::Bound::Unbounded,
            };
            filters.push(Box::new(RangeQuery::new(
                bound(query.since, true),
                bound(query.until, true),
            )));
        }
        // Words only (all of them or any, none of some: most searches) run as a `WordsQuery`,
        // whose page and count need no visit to every match; a phrase of words none of which is
        // common, or an empty query, runs as tantivy's boolean query.
        let words = WordsQuery::from_parsed(
            &*matching,
            filters.iter().map(|filter| filter.box_clone()).collect(),
        );
        let threads = if searcher.num_docs() >= PARALLEL_MIN_DOCUMENTS {
            self.executor()
        } else {
            None
        };
        if let Some(words) = words {
            let ranking = match query.order {
                SortOrder::Relevance => Ranking::Relevance,
                SortOrder::Newest => Ranking::Newest,
            };
            let (best, total) = words.best_and_count(
                &searcher,
                threads,
                ranking,
                offset + limit,
                &self.date_windows,
            )?;
            let page = best.into_iter().skip(offset).collect();
            return self.results(&searcher, &*matching, page, total, threads);
        }
        let filtered: Box<dyn Query> = if filters.is_empty() {
            matching.box_clone()
        } else {
            let mut clauses: Vec<(Occur, Box<dyn Query>)> =
                filters.into_iter().map(filter_clause).collect();
            clauses.push((Occur::Must, matching.box_clone()));
            Box::new(BooleanQuery::new(clauses))
        };
        // Every match is visited: page and count in one pass.
        let window = TopDocs::with_limit(limit).and_offset(offset);
        let (addresses, total): (Vec<(f32, tantivy::DocAddress)>, usize) = match query.order {
            SortOrder::Relevance => searcher.search(&*filtered, &(window, Count))?,
            SortOrder::Newest => {
                let (newest, total) = searcher.search(
                    &*filtered,
                    &(
                        window.order_by_fast_field::<tantivy::DateTime>("published", Order::Desc),
                        Count,
                    ),
                )?;
                (
                    newest
                        .into_iter()
                        .map(|(_, address)| (0.0, address))
                        .collect(),
                    total,
                )
            }
        };
        self.results(&searcher, &*matching, addresses, total, threads)
    }

    /// The page's hits, with their headlines and snippets marked.
    fn results(
        &self,
        searcher: &tantivy::Searcher,
        matching: &dyn Query,
        addresses: Vec<(f32, tantivy::DocAddress)>,
        total: usize,
        threads: Option<&tantivy::Executor>,
    ) -> Result<SearchResults, SearchError> {
        let fields = self.fields;
        // Snippets mark the query's words (as `SnippetGenerator::create` would, rarer words
        // weigh more) in the stored headline and body; they are matched through `text`.
        let mut marked = std::collections::BTreeSet::new();
        matching.query_terms(&mut |term, _| {
            if term.field() == fields.text {
                marked.insert(term.clone());
            }
        });
        let mut weights = std::collections::BTreeMap::new();
        for term in marked {
            let frequency = searcher.doc_freq(&term)?;
            if let Some(word) = term.value().as_str()
                && frequency > 0
            {
                weights.insert(word.to_string(), 1.0 / (1.0 + frequency as f32));
            }
        }
        // The text is tokenized as indexed; without a word pair among the marked terms, its
        // words alone give the same marks without building pairs.
        let analyzer = if weights
            .keys()
            .any(|term: &String| term.contains(tokenizer::PAIR_SEPARATOR))
        {
            searcher.index().tokenizer_for_field(fields.text)?
        } else {
            words()
        };
        let body_snippets = SnippetGenerator::new(
            weights.clone(),
            analyzer.clone(),
            fields.body,
            SNIPPET_CHARS,
        );
        let headline_snippets = SnippetGenerator::new(weights, analyzer, fields.headline, 10_000);
        let hit = |(score, address): (f32, tantivy::DocAddress)| -> tantivy::Result<SearchHit> {
            let document: TantivyDocument = searcher.doc(address)?;
            let text_of = |field: Field| {
                document
                    .get_first(field)
                    .and_then(|value| value.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let body = text_of(fields.body);
            let headline = text_of(fields.headline);
            let snippet = body_snippets.snippet(&body);
            let snippet_html = if snippet.fragment().is_empty() {
                escape_html(&body.chars().take(SNIPPET_CHARS).collect::<String>())
            } else {
                marked_html(&snippet)
            };
            let headline_snippet = headline_snippets.snippet(&headline);
            let headline_html = if headline_snippet.fragment().is_empty() {
                escape_html(&headline)
            } else {
                marked_html(&headline_snippet)
            };
            Ok(SearchHit {
                id: text_of(fields.id),
                score,
                headline_html,
                snippet_html,
            })
        };
        // Each hit reads its document from the store and marks its text: on the search threads
        // where the index has them.
        let hits = match threads {
            Some(executor) if addresses.len() > 1 => executor.map(hit, addresses.into_iter())?,
            _ => addresses
                .into_iter()
                .map(hit)
                .collect::<tantivy::Result<Vec<_>>>()?,
        };
        Ok(SearchResults { total, hits })
    }
}

/// The user's syntax in tantivy's: `-word` is tantivy's too; a trailing lone `-`, quotes left
/// open and field prefixes (`body:x`, which would let a query reach other fields) are neutralised.
fn user_syntax(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quotes = 0;
    for ch in text.chars() {
        match ch {
            '"' => {
                quotes += 1;
                out.push('"');
            }
            // Field, boost, range and grouping syntax are not part of our language.
            ':' | '^' | '[' | ']' | '{' | '}' | '(' | ')' | '\\' | '~' | '*' | '+' => out.push(' '),
            _ => out.push(ch),
        }
    }
    if quotes % 2 == 1 {
        // An unbalanced quote: read the whole input as words.
        return out.replace('"', " ");
    }
    out
}

/// The snippet, HTML-escaped, its matches in `<b>`. Matches separated by spaces only are one
/// run: a phrase is matched as pairs and words (`The harbour` and `reopens`) and is shown as the
/// one run it is (`<b>The harbour reopens</b>`).
fn marked_html(snippet: &tantivy::snippet::Snippet) -> String {
    let fragment = snippet.fragment();
    let mut ranges: Vec<std::ops::Range<usize>> = snippet.highlighted().to_vec();
    ranges.sort_by_key(|range| (range.start, range.end));
    let mut runs: Vec<std::ops::Range<usize>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match runs.last_mut() {
            Some(run)
                if range.start <= run.end
                    || fragment
                        .get(run.end..range.start)
                        .is_some_and(|between| between.chars().all(char::is_whitespace)) =>
            {
                run.end = run.end.max(range.end);
            }
            _ => runs.push(range),
        }
    }
    let mut out = String::with_capacity(fragment.len() + 7 * runs.len());
    let mut done = 0;
    for run in runs {
        let (Some(before), Some(marked)) =
            (fragment.get(done..run.start), fragment.get(run.clone()))
        else {
            continue;
        };
        verbatim_normalize::escape_into(before, &mut out);
        out.push_str("<b>");
        verbatim_normalize::escape_into(marked, &mut out);
        out.push_str("</b>");
        done = run.end;
    }
    verbatim_normalize::escape_into(fragment.get(done..).unwrap_or_default(), &mut out);
    out
}

/// `en-GB` → `en`: the language filter matches the primary subtag, lower-cased.
fn primary_language(language: &str) -> String {
    language
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn to_tantivy_time(time: DateTime<Utc>) -> tantivy::DateTime {
    tantivy::DateTime::from_timestamp_secs(time.timestamp())
}

/// The project's one HTML escape (`verbatim_normalize::escape_into`).
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    verbatim_normalize::escape_into(text, &mut out);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
