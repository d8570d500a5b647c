//! The quality gate: items a publisher would not want on the site unread — empty bodies,
//! teasers instead of stories, encoding damage, copy in another language than the source
//! declares. Each check gives a reason a person can act on. Pure.

use verbatim_item::Item;

/// What the gate knows about the item's source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceProfile {
    /// The language the operator declared for the source (`en`, `pt-BR`).
    pub language: Option<String>,
    /// The median body length (characters) of the source's recent published stories.
    pub median_body_chars: Option<usize>,
    /// How many stories that median is taken over.
    pub samples: usize,
}

/// Bodies shorter than this fraction of the source's median are teasers.
const SHORT_FRACTION: f64 = 0.25;
/// The median only counts once the source has this many stories…
const MIN_SAMPLES: usize = 10;
/// …whose median is at least this long (a source of briefs has no "usual" to fall short of).
const MIN_MEDIAN_CHARS: usize = 600;
/// Language detection needs this much text to be trusted.
const MIN_DETECT_CHARS: usize = 200;
/// Phrases that end a teaser rather than a story (compared lower-case, at the very end).
const TEASER_ENDINGS: [&str; 12] = [
    "read more",
    "read more »",
    "read more...",
    "read more…",
    "continue reading",
    "continue reading →",
    "read the full story",
    "read the full article",
    "full story",
    "[…]",
    "[...]",
    "(more)",
];

/// Every reason the item should be held, in a stable order. Only usable copy is checked: a
/// kill or withhold is an instruction, and must never wait in a queue.
pub fn check(item: &Item, profile: &SourceProfile) -> Vec<String> {
    let mut reasons = Vec::new();
    let body = item.body_text.trim();
    if body.is_empty() {
        if item.associations.is_empty() {
            reasons.push("empty body: the item has a headline and no text".to_string());
        }
    } else if let Some(reason) = teaser(body, profile) {
        reasons.push(reason);
    }
    let text = format!("{}\n{}", item.headline, item.body_text);
    if let Some(reason) = mojibake(&text) {
        reasons.push(reason);
    }
    if let Some(reason) = wrong_language(item, profile) {
        reasons.push(reason);
    }
    reasons
}

fn teaser(body: &str, profile: &SourceProfile) -> Option<String> {
    let lowered: String = body
        .chars()
        .rev()
        .take(40)
        .collect::<Vec<char>>()
        .into_iter()
        .rev()
        .collect::<String>()
        .to_lowercase();
    if let Some(ending) = TEASER_ENDINGS
        .iter()
        .find(|ending| lowered.ends_with(*ending))
    {
        return Some(format!("teaser only: the body ends with {ending:?}"));
    }
    let chars = body.chars().count();
    if let Some(median) = profile.median_body_chars
        && profile.samples >= MIN_SAMPLES
        && median >= MIN_MEDIAN_CHARS
        && (chars as f64) < median as f64 * SHORT_FRACTION
    {
        let ellipsis = if body.ends_with('…') || body.ends_with("...") {
            ", cut off with an ellipsis"
        } else {
            ""
        };
        return Some(format!(
            "teaser only: the body is {chars} characters{ellipsis}, far shorter than this \
             source's usual {median}"
        ));
    }
    None
}

/// UTF-8 read as Windows-1252 or Latin-1 leaves tell-tale pairs ("Ã©" for "é", "â€™" for
/// "’"): a run of non-ASCII characters that, written back in Windows-1252, is valid UTF-8 of
/// fewer characters. The replacement character U+FFFD is damage too.
pub fn mojibake(text: &str) -> Option<String> {
    if text.contains('\u{FFFD}') {
        return Some(
            "encoding damage: the text contains U+FFFD replacement characters".to_string(),
        );
    }
    // The runs of non-ASCII characters, found a byte at a time: ASCII bytes are whole
    // characters, so the runs' ends are character boundaries. (Going a character at a time, with
    // a check at each ASCII one, was nine tenths of the gate's time on English copy.)
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(start) = bytes
        .get(at..)
        .and_then(|rest| rest.iter().position(|byte| !byte.is_ascii()))
        .map(|offset| at + offset)
    {
        let end = bytes
            .get(start..)
            .and_then(|rest| rest.iter().position(u8::is_ascii))
            .map_or(bytes.len(), |offset| start + offset);
        let run = text.get(start..end)?;
        if run.chars().nth(1).is_some()
            && let Some(fixed) = repaired(run)
        {
            return Some(misread(run, &fixed));
        }
        at = end;
    }
    None
}

/// The hold reason for a damaged run and what it was before.
fn misread(run: &str, fixed: &str) -> String {
    format!("encoding damage (mojibake): {run:?} looks like {fixed:?} read in the wrong encoding")
}

/// False for every character Windows-1252 cannot write: it has Latin-1 and 27 more, all in
/// these ranges (a test checks every Unicode scalar value against the encoder).
fn may_be_windows_1252(c: char) -> bool {
    matches!(c as u32, 0..=0xFF | 0x152..=0x192 | 0x2C6..=0x2DC | 0x2013..=0x2122)
}

/// The text `run` was before UTF-8 bytes were read as Windows-1252, if it is such a misreading.
fn repaired(run: &str) -> Option<String> {
    // A run with a character Windows-1252 lacks (every word of Greek, Cyrillic, Arabic, Hebrew
    // or Indic copy) cannot be written back: passed without encoding it.
    if !run.chars().all(may_be_windows_1252) {
        return None;
    }
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(run);
    if unmappable {
        return None;
    }
    let fixed = std::str::from_utf8(&bytes).ok()?;
    // A real repair is shorter (two or three misread characters per original one) and gives
    // the characters such damage comes from: accented Latin letters and typographic
    // punctuation. ("ß“" is valid UTF-8 too, for an NKo letter: not a repair.)
    let plausible =
        |c: char| matches!(c as u32, 0x00A0..=0x024F | 0x2000..=0x206F | 0x20AC | 0x2122);
    (fixed.chars().count() < run.chars().count()
        && !fixed.is_ascii()
        && fixed.chars().all(|c| c.is_ascii() || plausible(c)))
    .then(|| fixed.to_string())
}

/// ISO 639-1 codes of the languages the detector knows, with its ISO 639-3 names.
const LANGUAGES: [(&str, &str); 69] = [
    ("eo", "epo"),
    ("en", "eng"),
    ("ru", "rus"),
    ("zh", "cmn"),
    ("es", "spa"),
    ("pt", "por"),
    ("it", "ita"),
    ("bn", "ben"),
    ("fr", "fra"),
    ("de", "deu"),
    ("uk", "ukr"),
    ("ka", "kat"),
    ("ar", "ara"),
    ("hi", "hin"),
    ("ja", "jpn"),
    ("he", "heb"),
    ("yi", "yid"),
    ("pl", "pol"),
    ("am", "amh"),
    ("jv", "jav"),
    ("ko", "kor"),
    ("nb", "nob"),
    ("da", "dan"),
    ("sv", "swe"),
    ("fi", "fin"),
    ("tr", "tur"),
    ("nl", "nld"),
    ("hu", "hun"),
    ("cs", "ces"),
    ("el", "ell"),
    ("bg", "bul"),
    ("be", "bel"),
    ("mr", "mar"),
    ("kn", "kan"),
    ("ro", "ron"),
    ("sl", "slv"),
    ("hr", "hrv"),
    ("sr", "srp"),
    ("mk", "mkd"),
    ("lt", "lit"),
    ("lv", "lav"),
    ("et", "est"),
    ("ta", "tam"),
    ("vi", "vie"),
    ("ur", "urd"),
    ("th", "tha"),
    ("gu", "guj"),
    ("uz", "uzb"),
    ("pa", "pan"),
    ("az", "aze"),
    ("id", "ind"),
    ("te", "tel"),
    ("fa", "pes"),
    ("ml", "mal"),
    ("or", "ori"),
    ("my", "mya"),
    ("ne", "nep"),
    ("si", "sin"),
    ("km", "khm"),
    ("tk", "tuk"),
    ("ak", "aka"),
    ("zu", "zul"),
    ("sn", "sna"),
    ("af", "afr"),
    ("la", "lat"),
    ("sk", "slk"),
    ("ca", "cat"),
    ("tl", "tgl"),
    ("hy", "hye"),
];

/// Languages the detector cannot tell apart reliably, or that are one written language.
const SAME_LANGUAGE: [&[&str]; 5] = [
    &["nb", "no", "nn", "da"],
    &["sr", "hr", "bs"],
    &["id", "ms"],
    &["zh", "cmn", "yue"],
    &["fa", "prs"],
];

fn primary(tag: &str) -> String {
    tag.split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn same_language(a: &str, b: &str) -> bool {
    a == b
        || SAME_LANGUAGE
            .iter()
            .any(|group| group.contains(&a) && group.contains(&b))
}

fn wrong_language(item: &Item, profile: &SourceProfile) -> Option<String> {
    let declared = primary(profile.language.as_deref()?);
    if let Some(own) = item.language.as_deref().map(primary)
        && !own.is_empty()
        && !same_language(&own, &declared)
    {
        return Some(format!(
            "language: the item says it is {own:?}, the source declares {declared:?}"
        ));
    }
    let body = item.body_text.trim();
    if body.chars().count() < MIN_DETECT_CHARS {
        return None;
    }
    let info = whatlang::detect(body)?;
    if !info.is_reliable() {
        return None;
    }
    let detected_639_3 = info.lang().code();
    let detected = LANGUAGES
        .iter()
        .find(|(_, three)| *three == detected_639_3)
        .map_or(detected_639_3, |(two, _)| *two);
    // Only languages the detector knows can be judged.
    let knows_declared = LANGUAGES.iter().any(|(two, _)| *two == declared);
    if knows_declared && !same_language(detected, &declared) {
        return Some(format!(
            "language: the text reads as {detected:?} ({}), the source declares {declared:?}",
            info.lang().eng_name()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn story(body: &str) -> Item {
        Item {
            source: "wire".into(),
            guid: "1".into(),
            headline: "Headline".into(),
            body_text: body.into(),
            ..Item::default()
        }
    }

    const ENGLISH: &str = "The central bank raised its main interest rate by a quarter of a \
        percentage point on Tuesday, the third increase this year, saying inflation had stayed \
        above its target for longer than expected and that wage growth remained strong across \
        most sectors of the economy.";
    const FRENCH: &str = "La banque centrale a relevé mardi son principal taux directeur d'un \
        quart de point, la troisième hausse cette année, estimant que l'inflation était restée \
        au-dessus de son objectif plus longtemps que prévu et que les salaires progressaient \
        fortement dans la plupart des secteurs de l'économie.";

    #[test]
    fn a_normal_story_passes() {
        let profile = SourceProfile {
            language: Some("en".into()),
            median_body_chars: Some(300),
            samples: 50,
        };
        assert_eq!(check(&story(ENGLISH), &profile), Vec::<String>::new());
    }

    #[test]
    fn empty_bodies_are_held_unless_the_item_is_a_picture() {
        let reasons = check(&story("  "), &SourceProfile::default());
        assert!(reasons[0].starts_with("empty body"), "{reasons:?}");
        let mut picture = story("");
        picture
            .associations
            .push(verbatim_item::Association::default());
        assert!(check(&picture, &SourceProfile::default()).is_empty());
    }

    #[test]
    fn teasers_are_held() {
        let reasons = check(
            &story("Ministers met on Tuesday to discuss the budget. Read more"),
            &SourceProfile::default(),
        );
        assert!(reasons[0].contains("\"read more\""), "{reasons:?}");
        let usual = SourceProfile {
            language: None,
            median_body_chars: Some(3_000),
            samples: 40,
        };
        let reasons = check(&story("Ministers met on Tuesday to discuss the…"), &usual);
        assert!(
            reasons[0].contains("far shorter than this source's usual 3000"),
            "{reasons:?}"
        );
        // Too few stories to know what is usual.
        let young = SourceProfile {
            samples: 3,
            ..usual.clone()
        };
        assert!(check(&story("Ministers met on Tuesday."), &young).is_empty());
    }

    #[test]
    fn mojibake_is_found_and_named() {
        let reasons = check(
            &story("Le ministre a dÃ©clarÃ© que lâ€™accord tenait."),
            &SourceProfile::default(),
        );
        assert!(
            reasons[0].contains("\"Ã©\" looks like \"é\""),
            "{reasons:?}"
        );
        assert!(mojibake("Bad byte: \u{FFFD}").is_some());
    }

    #[test]
    fn real_accents_and_scripts_are_not_mojibake() {
        for text in [
            "Tromsø, Zürich, São Paulo, Kraków, Ελλάδα, Москва, 東京, القاهرة",
            "NÃO is not damage on its own; nor is Ã alone.",
            "Café — “quoted” ‘text’ … 50 €",
            "Die Straße heißt „Groß“ und „SCHÖN“.",
            "👩‍👩‍👧 family, e\u{301} combining",
        ] {
            assert_eq!(mojibake(text), None, "{text}");
        }
    }

    #[test]
    fn other_languages_are_held() {
        let english_source = SourceProfile {
            language: Some("en".into()),
            ..SourceProfile::default()
        };
        let reasons = check(&story(FRENCH), &english_source);
        assert!(reasons[0].contains("reads as \"fr\""), "{reasons:?}");
        let mut declared = story(ENGLISH);
        declared.language = Some("de".into());
        let reasons = check(&declared, &english_source);
        assert!(reasons[0].contains("says it is \"de\""), "{reasons:?}");
        // Region subtags and written-alike languages are the same language.
        declared.language = Some("en-US".into());
        assert!(check(&declared, &english_source).is_empty());
        let norwegian = SourceProfile {
            language: Some("no".into()),
            ..SourceProfile::default()
        };
        let mut bokmal = story("");
        bokmal.body_text = "x".into();
        bokmal.language = Some("nb".into());
        assert!(check(&bokmal, &norwegian).is_empty());
        // No declared language: nothing to compare with.
        assert!(check(&story(FRENCH), &SourceProfile::default()).is_empty());
    }

    #[test]
    fn every_character_windows_1252_can_write_passes_the_quick_check() {
        let mut buffer = [0u8; 4];
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let (_, _, unmappable) = encoding_rs::WINDOWS_1252.encode(c.encode_utf8(&mut buffer));
            assert!(
                may_be_windows_1252(c) || unmappable,
                "{c:?} U+{:04X}",
                c as u32
            );
        }
    }

    /// The scan as first written, a character at a time: the model the byte scan is held to.
    /// (Texts with U+FFFD are left out: both stop at the first check.)
    fn mojibake_by_characters(text: &str) -> Option<String> {
        let mut run = String::new();
        let mut runs = Vec::new();
        for c in text.chars().chain(std::iter::once(' ')) {
            if c.is_ascii() {
                if !run.is_empty() {
                    runs.push(std::mem::take(&mut run));
                }
            } else {
                run.push(c);
            }
        }
        runs.into_iter()
            .filter(|run| run.chars().count() >= 2)
            .find_map(|run| repaired(&run).map(|fixed| misread(&run, &fixed)))
    }

    proptest! {
        /// The byte scan finds the same first damaged run as a scan of every character.
        #[test]
        fn the_byte_scan_finds_what_a_character_scan_finds(
            parts in proptest::collection::vec(
                proptest::sample::select(&[
                    "a", " ", ".", "Ã", "©", "â", "€", "™", "œ", "é", "ü", "’", "“", "Ж", "東",
                    "\u{301}", "👍", "ß", "\u{a0}", "Œ", "ƒ", "˜", "–", "‰", "ν", "ع",
                ][..]),
                0..30,
            )
        ) {
            let text: String = parts.concat();
            prop_assert_eq!(mojibake(&text), mojibake_by_characters(&text));
        }

        /// Text that went through a wrong decoding is always caught, whatever the words.
        #[test]
        fn misread_utf8_is_always_caught(word in "[a-z]{0,8}[éèüöñçàô][a-z]{0,8}") {
            let (bytes, _, _) = encoding_rs::UTF_8.encode(&word);
            let (misread, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
            prop_assert!(mojibake(&misread).is_some(), "{}", misread);
            prop_assert!(mojibake(&word).is_none(), "{}", word);
        }
    }
}
