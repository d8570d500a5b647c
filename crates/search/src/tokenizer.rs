//! Words as Unicode defines them (UAX #29 word boundaries, `unicode-segmentation`): marks stay
//! with their letters (Devanagari, Arabic, combining accents), and Chinese and Japanese kanji
//! become one token per character, so a word inside unspaced text is found as a phrase of its
//! characters. Lower-casing and diacritic folding are filters added after it.

use crate::CommonWords;
use std::sync::Arc;
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RawTokenizer, TextAnalyzer, Token, TokenStream, Tokenizer,
};
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
/// equal on texts mixing every class of character the rules name. An all-ASCII piece is read by
/// [`next_ascii_word`], the rest by `unicode-segmentation`.
pub(crate) struct WordIndices<'a> {
    text: &'a str,
    /// Where the next piece starts.
    rest: usize,
    /// The current piece's words, and where the piece starts in `text`.
    piece: Piece<'a>,
    piece_start: usize,
}

/// One piece of the text being read: an all-ASCII piece by [`next_ascii_word`], any other by
/// `unicode-segmentation`.
enum Piece<'a> {
    Ascii { text: &'a str, at: usize },
    Unicode(unicode_segmentation::UnicodeWordIndices<'a>),
}

impl<'a> Piece<'a> {
    /// The piece's next word, with its offset in the piece.
    fn next_word(&mut self) -> Option<(usize, &'a str)> {
        match self {
            Piece::Ascii { text, at } => {
                let (start, end) = next_ascii_word(text.as_bytes(), *at)?;
                *at = end;
                Some((start, text.get(start..end)?))
            }
            Piece::Unicode(words) => words.next(),
        }
    }
}

impl<'a> WordIndices<'a> {
    pub(crate) fn new(text: &'a str) -> WordIndices<'a> {
        WordIndices {
            text,
            rest: 0,
            piece: Piece::Ascii { text: "", at: 0 },
            piece_start: 0,
        }
    }
}

impl<'a> Iterator for WordIndices<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        loop {
            if let Some((offset, word)) = self.piece.next_word() {
                return Some((self.piece_start + offset, word));
            }
            if self.rest >= self.text.len() {
                return None;
            }
            let (end, ascii) = piece_end(self.text.as_bytes(), self.rest);
            // Cuts fall after an ASCII byte, so both ends are character boundaries.
            let piece = self.text.get(self.rest..end)?;
            self.piece = if ascii {
                Piece::Ascii {
                    text: piece,
                    at: 0,
                }
            } else {
                Piece::Unicode(piece.unicode_word_indices())
            };
            self.piece_start = self.rest;
            self.rest = end;
        }
    }
}

/// The next UAX #29 word of an all-ASCII text at or after byte `at`, as `(start, end)`: what
/// `unicode_word_indices` gives, without its general state machine (which still cost about
/// 500 instructions a word on an ASCII piece). In ASCII the word rules come down to these: a
/// word is a run of letters, digits and `_` (WB5, WB8–WB10, WB13a/b); `:` joins two letters
/// (WB6/7, MidLetter), `.` and `'` two letters or two digits (WB6/7, WB11/12, MidNumLetQ), `,`
/// and `;` two digits (WB11/12, MidNum); everything else breaks; and a run of `_` alone is no
/// word (it holds nothing alphanumeric). ASCII has no Extend, Format or ZWJ characters, and
/// the quotation mark only joins Hebrew letters. The property tests below hold it equal to
/// `unicode_word_indices` on texts of every class of character the rules name.
fn next_ascii_word(bytes: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let in_word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    loop {
        let start = at + bytes.get(at..)?.iter().position(|&byte| in_word(byte))?;
        let mut last = bytes.get(start).copied()?;
        let mut end = start + 1;
        while let Some(&byte) = bytes.get(end) {
            if in_word(byte) {
                last = byte;
                end += 1;
                continue;
            }
            let Some(&after) = bytes.get(end + 1) else {
                break;
            };
            let letters = last.is_ascii_alphabetic() && after.is_ascii_alphabetic();
            let digits = last.is_ascii_digit() && after.is_ascii_digit();
            let joins = match byte {
                b':' => letters,
                b'.' | b'\'' => letters || digits,
                b',' | b';' => digits,
                _ => false,
            };
            if !joins {
                break;
            }
            last = after;
            end += 2;
        }
        if bytes
            .get(start..end)?
            .iter()
            .any(|byte| byte.is_ascii_alphanumeric())
        {
            return Some((start, end));
        }
        at = end;
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

/// The end of the piece that starts at `start`, and whether the piece is all ASCII: the whole
/// rest when it is ASCII; else the last cut before its first non-ASCII byte, which ends an
/// ASCII piece; else (no such cut) the first cut after that byte, which ends a piece holding it.
fn piece_end(bytes: &[u8], start: usize) -> (usize, bool) {
    let rest = bytes.get(start..).unwrap_or_default();
    let Some(wide) = rest.iter().position(|byte| !byte.is_ascii()) else {
        return (bytes.len(), true);
    };
    let wide = start + wide;
    if let Some(cut) = (start + 1..=wide).rev().find(|&at| is_cut(bytes, at)) {
        return (cut, true);
    }
    let end = (wide + 1..bytes.len())
        .find(|&at| is_cut(bytes, at))
        .unwrap_or(bytes.len());
    (end, false)
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

/// Words of 100 bytes or more are not indexed (their positions stay taken).
pub(crate) const MAX_WORD_BYTES: usize = 100;

/// The words as the index holds them (`crate::words`): [`WireTokenizer`]'s words, each of
/// [`MAX_WORD_BYTES`] or more dropped with its position kept, lower-cased and folded to ASCII
/// exactly as tantivy's `RemoveLongFilter`, `LowerCaser` and `AsciiFoldingFilter` after it
/// would. One stream instead of three boxed filters a word: an ASCII word only needs
/// lower-casing (both filters leave it otherwise as it is), and any other word goes through the
/// two filters themselves, one word at a time. A property test holds it equal to the chain.
#[derive(Clone)]
pub(crate) struct FoldedWordTokenizer {
    token: Token,
    /// `LowerCaser` and `AsciiFoldingFilter` over one whole word.
    fold: TextAnalyzer,
}

impl Default for FoldedWordTokenizer {
    fn default() -> FoldedWordTokenizer {
        FoldedWordTokenizer {
            token: Token::default(),
            fold: TextAnalyzer::builder(RawTokenizer::default())
                .filter(LowerCaser)
                .filter(AsciiFoldingFilter)
                .build(),
        }
    }
}

pub(crate) struct FoldedWordStream<'a> {
    words: WordIndices<'a>,
    token: &'a mut Token,
    fold: &'a mut TextAnalyzer,
    position: usize,
}

impl Tokenizer for FoldedWordTokenizer {
    type TokenStream<'a> = FoldedWordStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> FoldedWordStream<'a> {
        self.token.reset();
        FoldedWordStream {
            words: WordIndices::new(text),
            token: &mut self.token,
            fold: &mut self.fold,
            position: 0,
        }
    }
}

impl TokenStream for FoldedWordStream<'_> {
    fn advance(&mut self) -> bool {
        loop {
            let Some((offset, word)) = self.words.next() else {
                return false;
            };
            let position = self.position;
            self.position += 1;
            if word.len() >= MAX_WORD_BYTES {
                continue;
            }
            self.token.text.clear();
            if word.is_ascii() {
                self.token.text.push_str(word);
                self.token.text.make_ascii_lowercase();
            } else {
                let mut folded = self.fold.token_stream(word);
                if folded.advance() {
                    self.token.text.push_str(&folded.token().text);
                }
            }
            self.token.offset_from = offset;
            self.token.offset_to = offset + word.len();
            self.token.position = position;
            self.token.position_length = 1;
            return true;
        }
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        #[test]
        fn ascii_pieces_give_the_unicode_words(
            parts in proptest::collection::vec(
                proptest::sample::select(&CLASSES[..22]),
                0..60,
            )
        ) {
            let text: String = parts.concat();
            proptest::prop_assert!(text.is_ascii());
            proptest::prop_assert_eq!(cut(&text), whole(&text));
        }
    }

    /// The index's words as they were made before [`FoldedWordTokenizer`]: tantivy's filters.
    fn filter_chain() -> TextAnalyzer {
        TextAnalyzer::builder(WireTokenizer::default())
            .filter(tantivy::tokenizer::RemoveLongFilter::limit(MAX_WORD_BYTES))
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build()
    }

    fn tokens(mut analyzer: TextAnalyzer, text: &str) -> Vec<(String, usize, usize, usize, usize)> {
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            let token = stream.token();
            out.push((
                token.text.clone(),
                token.offset_from,
                token.offset_to,
                token.position,
                token.position_length,
            ));
        }
        out
    }

    /// Letters that lower-case or fold to something else, and parts of over-long words.
    const CASED: &[&str] = &[
        "A", "Q", "\u{c9}", "\u{e9}", "\u{3a3}", "\u{3c2}", "\u{130}", "\u{212a}", "\u{df}",
        "\u{1e9e}", "\u{c6}", "\u{152}", "\u{416}", "\u{fb01}", "\u{2160}", "\u{24b6}",
        "\u{ff21}", "x", "7", " ", ".", "'", "Reuters", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        #[test]
        fn folded_words_are_the_filter_chains_words(
            parts in proptest::collection::vec(
                proptest::sample::select([CLASSES, CASED].concat()),
                0..40,
            )
        ) {
            let text: String = parts.concat();
            proptest::prop_assert_eq!(
                tokens(TextAnalyzer::from(FoldedWordTokenizer::default()), &text),
                tokens(filter_chain(), &text)
            );
        }
    }

    #[test]
    fn over_long_words_are_dropped_and_keep_their_positions() {
        let long = "x".repeat(MAX_WORD_BYTES);
        let text = format!("Caf\u{c9} {long} \u{3a3}\u{39f}\u{3a6}\u{39f}\u{3a3} {} END", &long[1..]);
        let folded = tokens(TextAnalyzer::from(FoldedWordTokenizer::default()), &text);
        assert_eq!(folded, tokens(filter_chain(), &text));
        let words: Vec<(&str, usize)> = folded
            .iter()
            .map(|(word, _, _, position, _)| (word.as_str(), *position))
            .collect();
        assert_eq!(
            words,
            [("cafe", 0), ("σοφοσ", 2), (&long[1..], 3), ("end", 4)]
        );
    }

    #[test]
    fn ascii_words_follow_the_word_rules() {
        let text = "U.S. 3.5 1,000;2 don't a:b 10:30 a,b 1:2 __ _a a_ x.1 1.x it's' 'tis a..b 3,,4 _1_";
        assert_eq!(cut(text), whole(text));
        let words: Vec<&str> = cut(text).into_iter().map(|(_, word)| word).collect();
        assert_eq!(
            words,
            [
                "U.S", "3.5", "1,000;2", "don't", "a:b", "10", "30", "a", "b", "1", "2", "_a",
                "a_", "x", "1", "1", "x", "it's", "tis", "a", "b", "3", "4", "_1_"
            ]
        );
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
        let (first, ascii) = piece_end(bytes, 0);
        assert_eq!((&text[..first], ascii), ("The ", true));
        let (second, ascii) = piece_end(bytes, first);
        assert_eq!((&text[first..second], ascii), ("minister\u{2019}s ", false));
        let (third, ascii) = piece_end(bytes, second);
        assert_eq!(
            (&text[second..third], ascii),
            ("plan, announced at 10:30, costs 1,000.5 euros. ", true)
        );
        assert_eq!(piece_end(bytes, third), (third + "Caf\u{e9} ".len(), false));
        assert_eq!(piece_end(b"all ASCII", 0), (9, true));
        assert_eq!(piece_end(b"", 0), (0, true));
    }
}
