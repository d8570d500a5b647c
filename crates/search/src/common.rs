//! The common words of an index: a phrase is only expensive to check word by word when both of
//! two adjacent words are in many stories, so word pairs are indexed only where one of the two
//! words is common (the common-grams idea). The set is part of the index: stored beside it
//! (`common-words.txt`), read when it is opened, and the same at index and query time.

use crate::SearchDoc;
use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use tantivy::tokenizer::{TextAnalyzer, TokenStream};

/// The file in the index folder that holds the index's common words.
pub const COMMON_WORDS_FILE: &str = "common-words.txt";

/// The built-in set (how it was chosen is said at the top of the file).
const BUILT_IN: &str = include_str!("common-words.txt");

/// Learning keeps the words in at least this fraction of the documents…
pub const LEARN_MIN_FRACTION: f64 = 0.02;
/// …and at most this many of them (the most frequent).
pub const LEARN_MAX_WORDS: usize = 500;
/// Fewer documents say little about the ones to come (in two stories every word is in half of
/// them): nothing is learned from them.
pub const LEARN_MIN_DOCUMENTS: u64 = 1_000;

/// Words as the index folds them, in a set. Lines starting with `#` in the files are comments
/// (`#` is never part of a word).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommonWords {
    /// Looked up for every word indexed.
    words: HashSet<String>,
}

impl Default for CommonWords {
    /// The built-in set: the most frequent function words of the languages agencies write in.
    fn default() -> CommonWords {
        CommonWords::from_words(lines(BUILT_IN))
    }
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

impl CommonWords {
    /// No common words: only words are indexed, and phrases are checked word by word.
    pub fn none() -> CommonWords {
        CommonWords {
            words: HashSet::new(),
        }
    }

    /// These words, folded as the index folds words (`Café` is `cafe`). Text that is not one
    /// word (`a b`, punctuation, an over-long word) adds the words it holds, if any.
    pub fn from_words<'a>(words: impl IntoIterator<Item = &'a str>) -> CommonWords {
        let mut analyzer = crate::words();
        let mut set = HashSet::new();
        for text in words {
            let mut stream = analyzer.token_stream(text);
            while stream.advance() {
                set.insert(stream.token().text.clone());
            }
        }
        CommonWords { words: set }
    }

    /// The words in the most documents: those in at least `LEARN_MIN_FRACTION` of them, the
    /// `LEARN_MAX_WORDS` most frequent at most (none from fewer than `LEARN_MIN_DOCUMENTS`
    /// documents), with the built-in set added.
    /// The documents may be given or lent (a generator need not keep them).
    pub fn learn<D: Borrow<SearchDoc>>(docs: impl IntoIterator<Item = D>) -> CommonWords {
        let mut learner = CommonWordsLearner::new(LEARN_MIN_FRACTION, LEARN_MAX_WORDS);
        for doc in docs {
            learner.add(doc.borrow());
        }
        learner.finish().union(&CommonWords::default())
    }

    /// Both sets' words.
    pub fn union(mut self, other: &CommonWords) -> CommonWords {
        self.words.extend(other.words.iter().cloned());
        self
    }

    /// Whether `word` (folded, as the index's tokens are) is common.
    pub fn contains(&self, word: &str) -> bool {
        self.words.contains(word)
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The words, in alphabetical order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let mut words: Vec<&str> = self.words.iter().map(String::as_str).collect();
        words.sort_unstable();
        words.into_iter()
    }

    /// Reads the set stored in an index folder.
    pub(crate) fn read(dir: &Path) -> Result<CommonWords, String> {
        let path = dir.join(COMMON_WORDS_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        // Taken as written: the words were folded before they were stored.
        Ok(CommonWords {
            words: lines(&text).map(str::to_string).collect(),
        })
    }

    /// Stores the set in an index folder (a temporary file renamed over it, so a reader sees
    /// the whole file or none).
    pub(crate) fn write(&self, dir: &Path) -> Result<(), String> {
        let path = dir.join(COMMON_WORDS_FILE);
        let temporary = dir.join(format!("{COMMON_WORDS_FILE}.tmp"));
        let mut text = String::from(
            "# This index's common words: word pairs are indexed where one of the two words is \
             here.\n# Read when the index is opened; changing it needs a rebuild (`verbatim \
             reindex`).\n",
        );
        for word in self.iter() {
            text.push_str(word);
            text.push('\n');
        }
        let written = (|| {
            use std::io::Write;
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temporary, &path)
        })();
        written.map_err(|error| format!("cannot write {}: {error}", path.display()))
    }
}

/// Learns common words from documents seen one at a time (a pass over a store need not keep
/// them): each word's document frequency is counted, approximately when there are many
/// distinct words (lossy counting: every `BUCKET` documents the words that are rare so far are
/// forgotten, so memory stays bounded; a word's count is then short by at most one document in
/// a `BUCKET`, 0.1 %, far below the fractions learning looks for).
pub struct CommonWordsLearner {
    min_fraction: f64,
    max_words: usize,
    analyzer: TextAnalyzer,
    /// Word → (documents counted, most it may be short by, last document counted in).
    counts: HashMap<String, (u64, u64, u64)>,
    docs: u64,
}

/// Documents between two prunings of rare words.
const BUCKET: u64 = 1_000;

impl CommonWordsLearner {
    /// Keeps the words in at least `min_fraction` of the documents, at most `max_words` of them
    /// (the most frequent first; among equals, in alphabetical order).
    pub fn new(min_fraction: f64, max_words: usize) -> CommonWordsLearner {
        CommonWordsLearner {
            min_fraction,
            max_words,
            analyzer: crate::words(),
            counts: HashMap::new(),
            docs: 0,
        }
    }

    /// Counts the words of one document (headline and body).
    pub fn add(&mut self, doc: &SearchDoc) {
        self.docs += 1;
        let (docs, bucket) = (self.docs, self.docs.div_ceil(BUCKET));
        for text in [&doc.headline, &doc.body_text] {
            let mut stream = self.analyzer.token_stream(text);
            while stream.advance() {
                let word = &stream.token().text;
                match self.counts.get_mut(word.as_str()) {
                    Some((count, _, last)) => {
                        if *last != docs {
                            *count += 1;
                            *last = docs;
                        }
                    }
                    None => {
                        self.counts.insert(word.clone(), (1, bucket - 1, docs));
                    }
                }
            }
        }
        if docs % BUCKET == 0 {
            self.counts
                .retain(|_, (count, short, _)| *count + *short > bucket);
        }
    }

    /// How many words are being counted.
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.counts.len()
    }

    /// How many documents were counted.
    pub fn documents(&self) -> u64 {
        self.docs
    }

    /// The words learned (the built-in set is not added: see [`CommonWords::learn`]); none from
    /// fewer than [`LEARN_MIN_DOCUMENTS`] documents.
    pub fn finish(self) -> CommonWords {
        if self.docs < LEARN_MIN_DOCUMENTS {
            return CommonWords::none();
        }
        let least = (self.min_fraction * self.docs as f64).ceil().max(1.0) as u64;
        let mut frequent: Vec<(u64, String)> = self
            .counts
            .into_iter()
            // A count may be short by `short`: a word that could have reached `least` is kept.
            .filter(|(_, (count, short, _))| count + short >= least)
            .map(|(word, (count, short, _))| (count + short, word))
            .collect();
        frequent.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        frequent.truncate(self.max_words);
        CommonWords {
            words: frequent.into_iter().map(|(_, word)| word).collect(),
        }
    }
}
