//! Words as Unicode defines them (UAX #29 word boundaries, `unicode-segmentation`): marks stay
//! with their letters (Devanagari, Arabic, combining accents), and Chinese and Japanese kanji
//! become one token per character, so a word inside unspaced text is found as a phrase of its
//! characters. Lower-casing and diacritic folding are filters added after it.

use crate::CommonWords;
use std::sync::Arc;
use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};
use unicode_segmentation::UnicodeSegmentation;

#[derive(Clone, Default)]
pub struct WireTokenizer {
    token: Token,
}

pub struct WireTokenStream<'a> {
    words: unicode_segmentation::UnicodeWordIndices<'a>,
    token: &'a mut Token,
    position: usize,
}

impl Tokenizer for WireTokenizer {
    type TokenStream<'a> = WireTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WireTokenStream<'a> {
        self.token.reset();
        WireTokenStream {
            words: text.unicode_word_indices(),
            token: &mut self.token,
            position: 0,
        }
    }
}

impl TokenStream for WireTokenStream<'_> {
    fn advance(&mut self) -> bool {
        let Some((offset, word)) = self.words.next() else {
            return false;
        };
        self.token.text.clear();
        self.token.text.push_str(word);
        self.token.offset_from = offset;
        self.token.offset_to = offset + word.len();
        self.token.position = self.position;
        self.token.position_length = 1;
        self.position += 1;
        true
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// Joins the two words of a pair term. Never part of a word (UAX #29 words hold no control
/// characters), so a pair can never be mistaken for a word.
pub(crate) const PAIR_SEPARATOR: char = '\u{1f}';

/// Word pairs where one of the two words is common, so that a phrase is found from one posting
/// list instead of by checking the positions of each of its words in every story that holds them
/// all. That check is only expensive when both words are in many stories; a rarer word drives
/// the intersection and leaves few positions to check, so pairs are kept to where they pay off
/// (the common-grams idea). The pairs of two rarer words, nearly each one a term of its own and
/// most of the distinct terms every pair made, are no longer indexed.
///
/// Indexing (`query: false`) emits every word, as the inner analyzer does, and also each pair of
/// adjacent words of which at least one is common, at the first word's position. Querying
/// (`query: true`) reads a run of adjacent words `w0 … wn` as: the pair `wi␟wi+1` at position i
/// wherever `wi` or `wi+1` is common, and the word `wi` at position i wherever no emitted pair
/// covers it. Every term of the query is then one the index holds at the same places, so the
/// phrase of them (pair and word terms at their positions, gaps included) matches exactly the
/// stories where `w0 … wn` occurs: `"the harbour reopens"` with `the` common is `the␟harbour` at
/// 0 and `reopens` at 2. A lone word (a one-word query, or a word separated from the others by a
/// removed over-long token) stays a word.
#[derive(Clone)]
pub(crate) struct PairTokenizer {
    words: TextAnalyzer,
    common: Arc<CommonWords>,
    query: bool,
    /// The words of the text, each with whether it is common.
    found: Vec<(Token, bool)>,
    tokens: Vec<Token>,
}

impl PairTokenizer {
    pub(crate) fn new(words: TextAnalyzer, common: Arc<CommonWords>, query: bool) -> PairTokenizer {
        PairTokenizer {
            words,
            common,
            query,
            found: Vec::new(),
            tokens: Vec::new(),
        }
    }
}

fn pair(first: &Token, second: &Token) -> Token {
    let mut text = String::with_capacity(first.text.len() + 1 + second.text.len());
    text.push_str(&first.text);
    text.push(PAIR_SEPARATOR);
    text.push_str(&second.text);
    Token {
        offset_from: first.offset_from,
        offset_to: second.offset_to,
        position: first.position,
        text,
        position_length: 2,
    }
}

/// The pair of two found words, if they are adjacent and one of them is common.
fn paired<'t>(
    first: &'t (Token, bool),
    second: &'t (Token, bool),
) -> Option<(&'t Token, &'t Token)> {
    let ((first, first_common), (second, second_common)) = (first, second);
    (first.position + 1 == second.position && (*first_common || *second_common))
        .then_some((first, second))
}

pub struct PairTokenStream<'a> {
    tokens: &'a mut Vec<Token>,
    next: usize,
}

impl Tokenizer for PairTokenizer {
    type TokenStream<'a> = PairTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> PairTokenStream<'a> {
        self.found.clear();
        self.tokens.clear();
        {
            let mut words = self.words.token_stream(text);
            while words.advance() {
                let word = words.token();
                let common = self.common.contains(&word.text);
                self.found.push((word.clone(), common));
            }
        }
        let found = &self.found;
        for (index, entry) in found.iter().enumerate() {
            let word = &entry.0;
            let before = index
                .checked_sub(1)
                .and_then(|before| found.get(before))
                .and_then(|before| paired(before, entry));
            let after = found.get(index + 1).and_then(|after| paired(entry, after));
            if self.query {
                match after {
                    Some((word, after)) => self.tokens.push(pair(word, after)),
                    None if before.is_none() => self.tokens.push(word.clone()),
                    None => {}
                }
            } else {
                // The pair before the word, then the word: each term's positions ascend.
                if let Some((before, word)) = before {
                    self.tokens.push(pair(before, word));
                }
                self.tokens.push(word.clone());
            }
        }
        PairTokenStream {
            tokens: &mut self.tokens,
            next: 0,
        }
    }
}

impl TokenStream for PairTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    // Only read after `advance` returned true (tantivy's contract): `next` ≥ 1 and in range.
    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    // Only after `advance` returned true (tantivy's contract): `next` ≥ 1 and in range.
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}
