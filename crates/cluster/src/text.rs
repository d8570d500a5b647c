//! Text → words, for comparison only. Nothing here changes a stored text: the folded words exist
//! only to be hashed.
//!
//! A word is a maximal run of letters and digits (Unicode `Alphabetic`/`Numeric`), with combining
//! marks kept inside it; everything else (punctuation, spaces, symbols, emoji) separates words.
//! Han, kana and other scripts written without spaces give one word per character. Digits joined
//! by `.` or `,` stay one number (`6.4`, `6,4`, `1,200`, `1.200`).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// How words are folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fold {
    /// For similarity: compatibility decomposition, combining marks dropped (so `Río` = `Rio`,
    /// `ё` = `е`), lowercase, and the separators inside numbers dropped (so `6,4` = `6.4` and
    /// `1.200` = `1,200`).
    Match,
    /// For the exact-duplicate key: canonical composition and lowercase only; numbers keep their
    /// separators, so `1.5` and `15` stay different.
    Exact,
}

/// One word of a text, folded, with what the original spelling said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub text: String,
    /// The original word started with an upper-case letter.
    pub capitalized: bool,
    /// The original word had at least two letters, all upper case (`DREVIK`, `ECB`).
    pub all_caps: bool,
    /// The word opens a sentence (start of the text, or after `.`, `!`, `?`, `:`, a line break,
    /// or a dash standing between spaces), so its capital says nothing.
    pub sentence_start: bool,
    /// The folded word is all ASCII digits.
    pub number: bool,
}

/// Scripts written without spaces between words: each character counts as a word.
fn is_unspaced_script(c: char) -> bool {
    // Checked for every character: ASCII, most of wire copy, answers before the ranges.
    !c.is_ascii()
        && matches!(c as u32,
            0x3040..=0x30FF   // Hiragana, Katakana
            | 0x3400..=0x4DBF // CJK Extension A
            | 0x4E00..=0x9FFF // CJK Unified Ideographs
            | 0xF900..=0xFAFF // CJK Compatibility Ideographs
            | 0x0E00..=0x0E7F // Thai
            | 0x0E80..=0x0EFF // Lao
            | 0x1000..=0x109F // Myanmar
            | 0x1780..=0x17FF // Khmer
            | 0x20000..=0x2FFFF // CJK Extensions B–F
        )
}

/// `char::is_alphanumeric` and `char::is_alphabetic` for the Basic Multilingual Plane, read from
/// bitmaps filled once from those functions. The standard library answers for a character
/// outside ASCII by searching its tables, about 300 instructions, and a word of Cyrillic, Greek
/// or Arabic asked it three times a character: a sixth of a signature's instructions. Exact by
/// construction; characters of the other planes still ask the functions.
struct LetterTables {
    alphanumeric: Box<[u64]>,
    alphabetic: Box<[u64]>,
}

const PLANE_ZERO: u32 = 0x1_0000;

fn letter_tables() -> &'static LetterTables {
    static TABLES: std::sync::OnceLock<LetterTables> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let words = (PLANE_ZERO / u64::BITS) as usize;
        let mut tables = LetterTables {
            alphanumeric: vec![0; words].into_boxed_slice(),
            alphabetic: vec![0; words].into_boxed_slice(),
        };
        for c in (0..PLANE_ZERO).filter_map(char::from_u32) {
            let (word, bit) = ((c as u32 / u64::BITS) as usize, c as u32 % u64::BITS);
            if let Some(bits) = tables.alphanumeric.get_mut(word) {
                *bits |= u64::from(c.is_alphanumeric()) << bit;
            }
            if let Some(bits) = tables.alphabetic.get_mut(word) {
                *bits |= u64::from(c.is_alphabetic()) << bit;
            }
        }
        tables
    })
}

/// Whether `c`'s bit is set in `table` (`None` outside the Basic Multilingual Plane).
fn in_table(table: &[u64], c: char) -> Option<bool> {
    let code = c as u32;
    let bits = table.get((code / u64::BITS) as usize)?;
    Some((bits >> (code % u64::BITS)) & 1 == 1)
}

/// `char::is_alphanumeric`, answered from [`LetterTables`].
fn is_alphanumeric(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    in_table(&letter_tables().alphanumeric, c).unwrap_or_else(|| c.is_alphanumeric())
}

/// `char::is_alphabetic`, answered from [`LetterTables`].
fn is_alphabetic(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    in_table(&letter_tables().alphabetic, c).unwrap_or_else(|| c.is_alphabetic())
}

/// A combining mark (no ASCII character is one: the common case skips the table).
fn is_mark(c: char) -> bool {
    !c.is_ascii() && is_combining_mark(c)
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '–' | '—' | '‒' | '―')
}

/// After these a capital says nothing (a colon counts: `Football: Aren double sinks Varnholm`).
fn ends_sentence(c: char) -> bool {
    matches!(
        c,
        '.' | '!' | '?' | '…' | ':' | '。' | '！' | '？' | '：' | '\n' | '\r'
    )
}

/// Latin, IPA, Greek, Cyrillic (and their extensions): scripts whose combining marks are accents
/// that writers and feeds add or leave out, so they are dropped for matching. Marks on other
/// scripts (kana voicing, Indic vowel signs) change the word and are kept.
fn accents_are_optional(base: char) -> bool {
    matches!(base as u32, 0x0000..=0x052F | 0x1C80..=0x1C8F | 0x1D00..=0x1FFF | 0x2DE0..=0x2DFF | 0xA640..=0xA69F | 0xA720..=0xA7FF)
}

fn fold_word(raw: &str, fold: Fold) -> String {
    // A word of ASCII letters and digits has no marks and no compatibility forms: both folds
    // only lowercase it (most wire copy; the Unicode path below costs several times more).
    if raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return raw.to_ascii_lowercase();
    }
    // Folding rarely lengthens a word: sized once rather than grown a character at a time (the
    // growing was a tenth of a signature's instructions).
    let mut folded = String::with_capacity(raw.len());
    match fold {
        Fold::Match => {
            let mut base = 'a';
            folded.extend(
                raw.nfkd()
                    .filter(|&c| {
                        if is_combining_mark(c) {
                            !accents_are_optional(base)
                        } else {
                            base = c;
                            true
                        }
                    })
                    .flat_map(char::to_lowercase)
                    .filter(|&c| is_alphanumeric(c) || is_combining_mark(c)),
            );
        }
        Fold::Exact => folded.extend(raw.nfc().flat_map(char::to_lowercase)),
    }
    folded
}

/// The words of `text`, at most `limit` of them, appended to `out`.
pub(crate) fn words_into(text: &str, fold: Fold, limit: usize, out: &mut Vec<Word>) {
    let mut raw = String::new();
    let mut raw_all_digits = true;
    let mut sentence_start = true;
    let mut pushed = 0usize;
    let mut prev: Option<char> = None;
    let mut chars = text.chars().peekable();

    let mut flush = |raw: &mut String, sentence_start: &mut bool, pushed: &mut usize| {
        if raw.is_empty() {
            return;
        }
        let folded = fold_word(raw, fold);
        if !folded.is_empty() && *pushed < limit {
            let letters = raw.chars().filter(|&c| is_alphabetic(c));
            let (count, upper) = letters.fold((0usize, 0usize), |(n, u), c| {
                (n + 1, u + usize::from(c.is_uppercase()))
            });
            let number = folded.bytes().all(|b| b.is_ascii_digit());
            out.push(Word {
                capitalized: raw.chars().next().is_some_and(char::is_uppercase),
                all_caps: count >= 2 && upper == count,
                sentence_start: *sentence_start,
                number,
                text: folded,
            });
            *pushed += 1;
            *sentence_start = false;
        }
        raw.clear();
    };

    // The current word is one character of an unspaced script (it takes only following marks).
    let mut raw_unspaced = false;
    while let Some(c) = chars.next() {
        if pushed >= limit {
            break;
        }
        if raw_unspaced && !is_mark(c) {
            flush(&mut raw, &mut sentence_start, &mut pushed);
            raw_unspaced = false;
            raw_all_digits = true;
        }
        if is_unspaced_script(c) && !is_mark(c) {
            flush(&mut raw, &mut sentence_start, &mut pushed);
            raw.push(c);
            raw_unspaced = true;
            raw_all_digits = false;
        } else if is_alphanumeric(c) || (is_mark(c) && !raw.is_empty()) {
            raw_all_digits &= c.is_ascii_digit();
            raw.push(c);
        } else if matches!(c, '.' | ',')
            && !raw.is_empty()
            && raw_all_digits
            && chars.peek().is_some_and(char::is_ascii_digit)
        {
            // A separator inside a number: `6.4`, `1,200`.
            if fold == Fold::Exact {
                raw.push(c);
            }
        } else {
            flush(&mut raw, &mut sentence_start, &mut pushed);
            raw_all_digits = true;
            let spaced_dash = is_dash(c)
                && prev.is_some_and(char::is_whitespace)
                && chars.peek().is_some_and(|n| n.is_whitespace());
            if ends_sentence(c) || spaced_dash {
                sentence_start = true;
            }
        }
        prev = Some(c);
    }
    flush(&mut raw, &mut sentence_start, &mut pushed);
}

/// The folded words of `text` (at most `limit`).
pub(crate) fn words(text: &str, fold: Fold, limit: usize) -> Vec<Word> {
    let mut out = Vec::new();
    words_into(text, fold, limit, &mut out);
    out
}

/// Words that never identify an event: function words that appear capitalized, titles before
/// names, the words of wire slugs, weekdays, and months (`is_month`) (in the languages of the labelled set; folded: lowercase, no
/// diacritics, so `März` is `marz` and `й` is `и`).
pub(crate) fn is_stop_term(word: &str) -> bool {
    const STOP: &[&str] = &[
        // English function words that open clauses after a colon, quote or dash.
        "a",
        "an",
        "the",
        "in",
        "on",
        "at",
        "of",
        "to",
        "for",
        "by",
        "with",
        "from",
        "and",
        "or",
        "but",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "it",
        "its",
        "this",
        "that",
        "he",
        "she",
        "they",
        "we",
        "i",
        "you",
        "his",
        "her",
        "their",
        "our",
        "after",
        "before",
        "when",
        "who",
        "mr",
        "mrs",
        "ms",
        "dr",
        // Titles before names: shared by every story about any mayor or president.
        "mayor",
        "president",
        "minister",
        "prime",
        "governor",
        "chancellor",
        "king",
        "queen",
        "prince",
        "general",
        "coach",
        "chief",
        "police",
        "officials",
        "secretary",
        "spokesman",
        "spokeswoman",
        "senator",
        "judge",
        "captain",
        "burgermeister",
        "prasident",
        "kanzler",
        "polizei",
        "alcalde",
        "presidente",
        "ministro",
        "gobernador",
        "policia",
        "мэр",
        "президент",
        "министр",
        "губернатор",
        "полиция",
        // Wire slugs and labels.
        "flash",
        "urgent",
        "update",
        "updated",
        "refile",
        "corrected",
        "correction",
        "breaking",
        "exclusive",
        "analysis",
        "factbox",
        "brief",
        "adds",
        "recasts",
        "lead",
        // Weekdays and months: English.
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        // German.
        "montag",
        "dienstag",
        "mittwoch",
        "donnerstag",
        "freitag",
        "samstag",
        "sonnabend",
        "sonntag",
        "der",
        "die",
        "das",
        "den",
        "dem",
        "des",
        "ein",
        "eine",
        "und",
        "im",
        "am",
        "vom",
        "zum",
        // Spanish.
        "lunes",
        "martes",
        "miercoles",
        "jueves",
        "viernes",
        "sabado",
        "domingo",
        "el",
        "la",
        "los",
        "las",
        "un",
        "una",
        "del",
        "en",
        "y",
        // Russian (nominative, accusative and genitive forms that wire copy uses).
        "понедельник",
        "вторник",
        "среда",
        "среду",
        "четверг",
        "пятница",
        "пятницу",
        "суббота",
        "субботу",
        "воскресенье",
        "в",
        "на",
        "и",
        "по",
    ];
    STOP.contains(&word) || is_month(word)
}

/// Month names (and their abbreviations) whose neighbouring numbers are dates, not facts.
pub(crate) fn is_month(word: &str) -> bool {
    const MONTHS: &[&str] = &[
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "januar",
        "februar",
        "marz",
        "mai",
        "juni",
        "juli",
        "oktober",
        "dezember",
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
        "ene",
        "abr",
        "ago",
        "dic",
        "январь",
        "февраль",
        "март",
        "апрель",
        "маи",
        "июнь",
        "июль",
        "август",
        "сентябрь",
        "октябрь",
        "ноябрь",
        "декабрь",
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ];
    MONTHS.contains(&word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<String> {
        words(text, Fold::Match, usize::MAX)
            .into_iter()
            .map(|w| w.text)
            .collect()
    }

    #[test]
    fn splits_on_punctuation_and_lowercases() {
        assert_eq!(
            texts("Ferry capsizes on Tarnland's Lake Miren, five missing!"),
            [
                "ferry", "capsizes", "on", "tarnland", "s", "lake", "miren", "five", "missing"
            ]
        );
    }

    #[test]
    fn folds_diacritics_and_numbers_across_languages() {
        assert_eq!(
            texts("Río Claro, 1.200 hectáreas"),
            ["rio", "claro", "1200", "hectareas"]
        );
        assert_eq!(texts("1,200 hectares"), ["1200", "hectares"]);
        assert_eq!(texts("Stärke 6,4"), ["starke", "64"]);
        assert_eq!(texts("magnitude 6.4."), ["magnitude", "64"]);
        assert_eq!(texts("Верхнеозёрск"), texts("Верхнеозерск"));
        assert_eq!(texts("ПАРОМ «Северянка»"), ["паром", "северянка"]);
        assert_eq!(texts("Großbrand"), ["großbrand"]);
    }

    #[test]
    fn exact_fold_keeps_number_separators_and_marks() {
        let exact: Vec<String> = words("Río 1.5 and 15", Fold::Exact, usize::MAX)
            .into_iter()
            .map(|w| w.text)
            .collect();
        assert_eq!(exact, ["río", "1.5", "and", "15"]);
    }

    #[test]
    fn combining_marks_stay_inside_words() {
        // `e` + COMBINING ACUTE ACCENT is the same word as the precomposed `é`.
        assert_eq!(texts("cafe\u{301} noir"), texts("café noir"));
        assert_eq!(texts("cafe\u{301} noir"), ["cafe", "noir"]);
        // A mark with no base is dropped, not a word.
        assert_eq!(texts("\u{301}\u{301} x"), ["x"]);
    }

    #[test]
    fn unspaced_scripts_give_one_word_per_character() {
        assert_eq!(texts("東京で地震"), ["東", "京", "て\u{3099}", "地", "震"]);
        // Precomposed or decomposed, the kana is the same word, and its voicing mark is kept.
        assert_eq!(texts("て\u{3099}"), texts("で"));
        assert_ne!(texts("て"), texts("で"));
        assert_eq!(texts("Tokyo東京 2025"), ["tokyo", "東", "京", "2025"]);
    }

    #[test]
    fn emoji_and_symbols_separate_words() {
        assert_eq!(texts("fire🔥alarm 👨‍👩‍👧 ok"), ["fire", "alarm", "ok"]);
    }

    #[test]
    fn marks_capitals_and_sentence_starts() {
        let w = words(
            "DREVIK, Valdoria (Northwire) - A quake hit Kessara. Rescue teams came",
            Fold::Match,
            usize::MAX,
        );
        let flags: Vec<(&str, bool, bool, bool)> = w
            .iter()
            .map(|w| (w.text.as_str(), w.capitalized, w.all_caps, w.sentence_start))
            .collect();
        assert_eq!(
            flags,
            [
                ("drevik", true, true, true),
                ("valdoria", true, false, false),
                ("northwire", true, false, false),
                ("a", true, false, true),
                ("quake", false, false, false),
                ("hit", false, false, false),
                ("kessara", true, false, false),
                ("rescue", true, false, true),
                ("teams", false, false, false),
                ("came", false, false, false),
            ]
        );
    }

    #[test]
    fn the_letter_tables_answer_as_the_standard_library_for_every_character() {
        for c in (0..=char::MAX as u32).filter_map(char::from_u32) {
            assert_eq!(is_alphanumeric(c), c.is_alphanumeric(), "{c:?}");
            assert_eq!(is_alphabetic(c), c.is_alphabetic(), "{c:?}");
        }
    }

    #[test]
    fn limit_caps_the_word_count() {
        assert_eq!(words("a b c d e", Fold::Match, 3).len(), 3);
        assert!(words("a b", Fold::Match, 0).is_empty());
    }
}
