//! Words as Unicode defines them (UAX #29 word boundaries, `unicode-segmentation`): marks stay
//! with their letters (Devanagari, Arabic, combining accents), and Chinese and Japanese kanji
//! become one token per character, so a word inside unspaced text is found as a phrase of its
//! characters. Lower-casing and diacritic folding are filters added after it.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
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
