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
    words: WordIndices<'a>,
    token: &'a mut Token,
    position: usize,
}

/// The UAX #29 words of a text with their byte offsets: exactly `text.unicode_word_indices()`,
/// found faster. `unicode-segmentation` reads an all-ASCII text with a quick byte scanner, but
/// one curly quote, dash or accented letter sends the whole text through its general state
/// machine and table lookups (a sixth of the index's tokenizing, which is a quarter of `serve`'s
/// CPU during ingest). So the text is cut at boundaries no rule can see across, and each piece
/// goes the way its own characters allow: in English wire copy, most of it as ASCII.
///
/// A cut is placed between an ASCII white-space character and an ASCII character that is not
/// white space. UAX #29 always breaks there (no rule joins white space to a following letter,
/// digit or punctuation mark, and the only characters that attach backwards, Extend, Format and
/// ZWJ, are not ASCII). Nor does any rule look across it: rules look back or ahead past at most
/// one character, and only for letters, digits, Hebrew letters or regional indicators in
/// specific places, never through white space, which is not one of the characters lookups skip.
/// So a piece's words are the same alone as inside the text; a property test holds the two
/// equal on texts mixing every class of character the rules name.
pub(crate) struct WordIndices<'a> {
    text: &'a str,
    /// Where the next piece starts.
    rest: usize,
    /// The current piece's words, and where the piece starts in `text`.
    piece: unicode_segmentation::UnicodeWordIndices<'a>,
    piece_start: usize,
}

impl<'a> WordIndices<'a> {
    pub(crate) fn new(text: &'a str) -> WordIndices<'a> {
        WordIndices {
            text,
            rest: 0,
            piece: "".unicode_word_indices(),
            piece_start: 0,
        }
    }
}

impl<'a> Iterator for WordIndices<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        loop {
            if let Some((offset, word)) = self.piece.next() {
                return Some((self.piece_start + offset, word));
            }
            if self.rest >= self.text.len() {
                return None;
            }
            let end = piece_end(self.text.as_bytes(), self.rest);
            // Cuts fall after an ASCII byte, so both ends are character boundaries.
            let piece = self.text.get(self.rest..end)?;
            self.piece = piece.unicode_word_indices();
            self.piece_start = self.rest;
            self.rest = end;
        }
    }
}

fn is_ascii_white_space(byte: u8) -> bool {
    // Space, tab, line feed, carriage return, vertical tab, form feed: UAX #29's WSegSpace, CR,
    // LF, Newline, and (tab) Other.
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// True when a word boundary at `at` can be cut (see [`WordIndices`]).
fn is_cut(bytes: &[u8], at: usize) -> bool {
    let before = at.checked_sub(1).and_then(|before| bytes.get(before));
    before.is_some_and(|&byte| is_ascii_white_space(byte))
        && bytes
            .get(at)
            .is_some_and(|&byte| byte.is_ascii() && !is_ascii_white_space(byte))
}

/// The end of the piece that starts at `start`: the whole rest when it is ASCII; else the last
/// cut before its first non-ASCII byte, which ends an ASCII piece; else (no such cut) the first
/// cut after that byte, which ends a piece holding it.
fn piece_end(bytes: &[u8], start: usize) -> usize {
    let rest = bytes.get(start..).unwrap_or_default();
    let Some(wide) = rest.iter().position(|byte| !byte.is_ascii()) else {
        return bytes.len();
    };
    let wide = start + wide;
    if let Some(cut) = (start + 1..=wide).rev().find(|&at| is_cut(bytes, at)) {
        return cut;
    }
    (wide + 1..bytes.len())
        .find(|&at| is_cut(bytes, at))
        .unwrap_or(bytes.len())
}

impl Tokenizer for WireTokenizer {
    type TokenStream<'a> = WireTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WireTokenStream<'a> {
        self.token.reset();
        WireTokenStream {
            words: WordIndices::new(text),
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
    found: Reused<(Token, bool)>,
    /// The tokens handed out.
    tokens: Reused<Token>,
}

impl PairTokenizer {
    pub(crate) fn new(words: TextAnalyzer, common: Arc<CommonWords>, query: bool) -> PairTokenizer {
        PairTokenizer {
            words,
            common,
            query,
            found: Reused::default(),
            tokens: Reused::default(),
        }
    }
}

/// How many found words and tokens a [`PairTokenizer`] keeps between texts: enough for a
/// 4,000-word story's words and pairs; a longer one's are allocated each time.
const KEPT_ENTRIES: usize = 8_192;

/// Entries written over from text to text: the first `len` are the current text's, the rest are
/// kept from longer texts so that their strings' memory is reused rather than allocated again
/// for every word of every story.
#[derive(Clone, Default)]
struct Reused<T> {
    entries: Vec<T>,
    len: usize,
}

impl<T: Default> Reused<T> {
    /// Starts a new text: no entry in use, and what a very long text left beyond
    /// [`KEPT_ENTRIES`] let go, so that one huge story does not hold its words' memory for as
    /// long as the tokenizer lives.
    fn restart(&mut self) {
        self.entries.truncate(KEPT_ENTRIES);
        self.entries.shrink_to(KEPT_ENTRIES);
        self.len = 0;
    }

    /// The next entry, now in use: a kept one when there is one, else a new one.
    fn next(&mut self) -> &mut T {
        if self.len == self.entries.len() {
            self.entries.push(T::default());
        }
        self.len += 1;
        // In range: `len` never exceeds the entries, and one was pushed if it would have.
        &mut self.entries[self.len - 1]
    }

    /// The entries in use.
    fn in_use(&mut self) -> &mut [T] {
        self.entries.get_mut(..self.len).unwrap_or_default()
    }
}

/// Makes `token` a copy of `word`, keeping its string's memory.
fn copy_word(token: &mut Token, word: &Token) {
    token.text.clear();
    token.text.push_str(&word.text);
    token.offset_from = word.offset_from;
    token.offset_to = word.offset_to;
    token.position = word.position;
    token.position_length = word.position_length;
}

/// Makes `token` the pair term of two adjacent words, keeping its string's memory.
fn copy_pair(token: &mut Token, first: &Token, second: &Token) {
    token.text.clear();
    token.text.push_str(&first.text);
    token.text.push(PAIR_SEPARATOR);
    token.text.push_str(&second.text);
    token.offset_from = first.offset_from;
    token.offset_to = second.offset_to;
    token.position = first.position;
    token.position_length = 2;
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
    tokens: &'a mut [Token],
    next: usize,
}

impl Tokenizer for PairTokenizer {
    type TokenStream<'a> = PairTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> PairTokenStream<'a> {
        self.found.restart();
        self.tokens.restart();
        {
            let mut words = self.words.token_stream(text);
            while words.advance() {
                let word = words.token();
                let common = self.common.contains(&word.text);
                let entry = self.found.next();
                copy_word(&mut entry.0, word);
                entry.1 = common;
            }
        }
        let found = &*self.found.in_use();
        let tokens = &mut self.tokens;
        for (index, entry) in found.iter().enumerate() {
            let word = &entry.0;
            let before = index
                .checked_sub(1)
                .and_then(|before| found.get(before))
                .and_then(|before| paired(before, entry));
            let after = found.get(index + 1).and_then(|after| paired(entry, after));
            if self.query {
                match after {
                    Some((word, after)) => copy_pair(tokens.next(), word, after),
                    None if before.is_none() => copy_word(tokens.next(), word),
                    None => {}
                }
            } else {
                // The pair before the word, then the word: each term's positions ascend.
                if let Some((before, word)) = before {
                    copy_pair(tokens.next(), before, word);
                }
                copy_word(tokens.next(), word);
            }
        }
        PairTokenStream {
            tokens: self.tokens.in_use(),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Characters of every class UAX #29's word rules name, ASCII and not.
    const CLASSES: &[&str] = &[
        "a",
        "Z",
        "7",
        "_",
        ".",
        ",",
        ";",
        ":",
        "'",
        "\"",
        " ",
        "  ",
        "\t",
        "\n",
        "\r",
        "\r\n",
        "\u{b}",
        "\u{c}",
        "-",
        "/",
        "(",
        "$",
        "%",
        "é",
        "\u{301}",
        "\u{200d}",
        "\u{ad}",
        "\u{a0}",
        "\u{202f}",
        "\u{2019}",
        "\u{b7}",
        "\u{2028}",
        "\u{85}",
        "\u{2014}",
        "\u{5d0}",
        "\u{5f4}",
        "\u{30a2}",
        "\u{30fc}",
        "中",
        "ع",
        "\u{915}",
        "\u{94d}",
        "\u{ff11}",
        "\u{1f44d}",
        "\u{1f3fd}",
        "\u{1f1eb}",
        "\u{1f1f7}",
        "\u{2764}",
        "\u{fe0f}",
        "\u{3000}",
        "\u{200b}",
    ];

    fn whole(text: &str) -> Vec<(usize, &str)> {
        text.unicode_word_indices().collect()
    }

    fn cut(text: &str) -> Vec<(usize, &str)> {
        WordIndices::new(text).collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        #[test]
        fn cut_pieces_give_the_words_of_the_whole_text(
            parts in proptest::collection::vec(proptest::sample::select(CLASSES), 0..40)
        ) {
            let text: String = parts.concat();
            proptest::prop_assert_eq!(cut(&text), whole(&text));
        }

        #[test]
        fn cut_pieces_give_the_words_of_wire_shaped_text(
            parts in proptest::collection::vec(
                proptest::sample::select(&[
                    "Reuters", "said", " ", ", ", ". ", "3.5", "1,000", "don't", "U.S.",
                    "\u{2019}s", "\u{201c}", "\u{201d}", " \u{2014} ", "caf\u{e9}", "e\u{301}",
                    "\u{a0}", "\n\n", "\u{627}\u{644}\u{639}", "\u{65e5}\u{672c}", "\u{1f468}\u{200d}\u{1f469}",
                    "10:30", "http://x.example/a_b", "\u{ad}", "#1",
                ][..]),
                0..30,
            )
        ) {
            let text: String = parts.concat();
            proptest::prop_assert_eq!(cut(&text), whole(&text));
        }
    }

    #[test]
    fn a_huge_text_leaves_at_most_the_kept_entries_behind() {
        use tantivy::tokenizer::{TokenStream, Tokenizer};
        let common = Arc::new(CommonWords::from_words(["the"]));
        let mut tokenizer = PairTokenizer::new(crate::words(), common, false);
        let huge = "the harbour reopens ".repeat(10_000);
        let mut stream = tokenizer.token_stream(&huge);
        let mut count = 0;
        while stream.advance() {
            count += 1;
        }
        // 30,000 words, and each "the" paired with the words on both sides of it.
        assert_eq!(count, 30_000 + 10_000 + 9_999);
        let mut stream = tokenizer.token_stream("the harbour");
        let mut short = Vec::new();
        while stream.advance() {
            short.push(stream.token().text.clone());
        }
        assert_eq!(short, ["the", "the\u{1f}harbour", "harbour"]);
        assert!(tokenizer.found.entries.capacity() <= KEPT_ENTRIES);
        assert!(tokenizer.tokens.entries.capacity() <= KEPT_ENTRIES);
    }

    #[test]
    fn a_non_ascii_character_keeps_only_its_own_piece_off_the_quick_path() {
        let text = "The minister\u{2019}s plan, announced at 10:30, costs 1,000.5 euros. Caf\u{e9} owners agree.";
        assert_eq!(cut(text), whole(text));
        let bytes = text.as_bytes();
        // The first piece is the ASCII run up to the word with the curly apostrophe.
        let first = piece_end(bytes, 0);
        assert_eq!(&text[..first], "The ");
        let second = piece_end(bytes, first);
        assert_eq!(&text[first..second], "minister\u{2019}s ");
        let third = piece_end(bytes, second);
        assert_eq!(
            &text[second..third],
            "plan, announced at 10:30, costs 1,000.5 euros. "
        );
        assert_eq!(piece_end(bytes, third), third + "Caf\u{e9} ".len());
        assert_eq!(piece_end(b"all ASCII", 0), 9);
        assert_eq!(piece_end(b"", 0), 0);
    }
}
