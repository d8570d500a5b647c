//! parse(to_ninjs(item)) gives the item back: every field ninjs 2.x carries survives a trip out
//! through Verbatim's ninjs writer and back in through its reader, for arbitrary text in any
//! script, markup-significant characters included.

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use verbatim_item::{Association, Draft, Item, Pubstatus, SourceBody, Subject};

/// A word in Latin, Arabic, Hebrew, Japanese, Devanagari or emoji, with characters markup cares
/// about mixed in.
fn word() -> impl Strategy<Value = String> {
    "[a-zA-Zàéüß0-9&<>\"'\u{0627}-\u{064A}\u{05D0}-\u{05EA}\u{3041}-\u{3096}\u{0915}-\u{0939}\u{1F600}-\u{1F64F}]{1,12}"
}

fn line() -> impl Strategy<Value = String> {
    prop::collection::vec(word(), 1..8).prop_map(|words| words.join(" "))
}

fn time() -> impl Strategy<Value = Option<DateTime<Utc>>> {
    prop::option::of(
        (0i64..4_000_000_000)
            .prop_map(|seconds| Utc.timestamp_opt(seconds, 0).single().unwrap_or_default()),
    )
}

prop_compose! {
    fn story()(
        guid in "urn:[a-z]{2,8}:[a-z0-9.-]{1,20}",
        version in prop::option::of(1u64..1_000_000),
        versioncreated in time(),
        firstcreated in time(),
        embargoed in time(),
        pubstatus in prop::sample::select(vec![Pubstatus::Usable, Pubstatus::Withheld, Pubstatus::Canceled]),
        headline in line(),
        subheadline in prop::option::of(line()),
        byline in prop::option::of(line()),
        located in prop::option::of(line()),
        language in prop::option::of(prop::sample::select(vec!["en", "ar", "he", "ja", "hi", "de-CH"])),
        urgency in prop::option::of(1u8..9),
        ednote in prop::option::of(line()),
        copyrightnotice in prop::option::of(line()),
        usageterms in prop::option::of(line()),
        subjects in prop::collection::vec((line(), prop::option::of("medtop:[0-9]{8}")), 0..3),
        associations in prop::collection::vec(
            ("https://media\\.test/[a-z0-9]{1,10}\\.jpg", prop::option::of(line()), prop::option::of(line())),
            0..3,
        ),
        paragraphs in prop::collection::vec(line(), 1..5),
    ) -> (Item, String) {
        let item = Item {
            guid,
            version,
            versioncreated,
            firstcreated,
            embargoed,
            pubstatus,
            headline,
            subheadline,
            byline,
            located,
            language: language.map(str::to_string),
            urgency,
            ednote,
            copyrightnotice,
            usageterms,
            subjects: subjects
                .into_iter()
                .map(|(name, code)| Subject { code, name })
                .collect(),
            associations: associations
                .into_iter()
                .map(|(uri, caption, credit)| Association {
                    kind: "picture".into(),
                    uri,
                    mimetype: Some("image/jpeg".into()),
                    caption,
                    credit,
                })
                .collect(),
            ..Item::default()
        };
        (item, paragraphs.join("\n\n"))
    }
}

fn normalized(item: Item, body: SourceBody) -> Item {
    verbatim_normalize::normalize(Draft {
        item,
        body,
        ..Draft::default()
    })
    .item
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ninjs_round_trips((item, body) in story()) {
        let original = normalized(item, SourceBody::Text(body));
        let bytes = serde_json::to_vec(&verbatim_item::ninjs::to_ninjs(&original))
            .unwrap_or_default();
        let parsed = verbatim_parse::parse(
            verbatim_parse::Input { bytes: &bytes, content_type: None, origin: "roundtrip.json" },
            &verbatim_parse::Limits::default(),
        );
        let mut parsed = match parsed {
            Ok(parsed) => parsed,
            Err(error) => return Err(TestCaseError::fail(error.to_string())),
        };
        prop_assert_eq!(parsed.format, verbatim_parse::Format::Ninjs);
        prop_assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        prop_assert_eq!(parsed.drafts.len(), 1);
        let draft = parsed.drafts.remove(0);
        prop_assert!(draft.holds.is_empty(), "{:?}", draft.holds);
        let again = normalized(draft.item, draft.body);
        prop_assert_eq!(again, original);
    }
}
