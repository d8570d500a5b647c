//! IPTC's NewsML-G2 examples and unit tests, and the agency samples (TT NewsML-G2, NTB NITF) from
//! `../shared/conformance` (see its SOURCES.md): whole items and messages parse, text items
//! become stories (snapshotted with insta), and the lifecycle cases map to status, signals,
//! version and embargo.

mod shared_data;

use serde_json::json;
use shared_data::{conformance, files_with_extension, parse_file};
use std::path::{Path, PathBuf};
use verbatim_item::Pubstatus;
use verbatim_parse::{Format, Input, Limits, Parsed, parse};

/// Fragments, not whole items (SOURCES.md), and catalogs, which carry no item at all.
fn is_fragment_or_catalog(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    [
        "LISTING_7_",
        "LISTING_8_",
        "LISTING_9_",
        "LISTING_25_",
        "LISTING_28_",
    ]
    .iter()
    .any(|prefix| name.starts_with(prefix))
        || std::fs::read_to_string(path)
            .unwrap_or_default()
            .contains("\n<catalog")
}

fn snapshot_value(parsed: &Parsed) -> serde_json::Value {
    json!(
        parsed
            .drafts
            .iter()
            .map(|draft| json!({ "item": draft.item, "body": draft.body, "holds": draft.holds }))
            .collect::<Vec<_>>()
    )
}

#[test]
fn every_whole_example_and_should_pass_file_parses() {
    let Some(root) = conformance("") else { return };
    let mut files = files_with_extension(&root.join("newsml-g2/examples"), "xml");
    files.extend(
        files_with_extension(&root.join("newsml-g2/tests/unit_test_files"), "xml")
            .into_iter()
            .filter(|path| {
                path.components()
                    .any(|part| part.as_os_str() == "should_pass")
            }),
    );
    files.retain(|path| !is_fragment_or_catalog(path));
    assert!(files.len() >= 150, "found only {}", files.len());
    let mut stories = 0;
    for path in &files {
        let parsed = parse_file(path).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(parsed.format, Format::NewsMlG2, "{}", path.display());
        assert!(
            parsed.errors.is_empty(),
            "{}: {:?}",
            path.display(),
            parsed.errors
        );
        for draft in &parsed.drafts {
            assert!(!draft.item.guid.is_empty(), "{}", path.display());
        }
        stories += parsed.drafts.len();
    }
    println!(
        "NewsML-G2: {} files parsed, {stories} text items",
        files.len()
    );
}

#[test]
fn should_fail_files_never_panic() {
    let Some(root) = conformance("") else { return };
    let files: Vec<PathBuf> =
        files_with_extension(&root.join("newsml-g2/tests/unit_test_files"), "xml")
            .into_iter()
            .filter(|path| {
                path.components()
                    .any(|part| part.as_os_str() == "should_fail")
            })
            .collect();
    assert!(!files.is_empty());
    for path in &files {
        let _ = parse_file(path);
    }
}

#[test]
fn agency_samples_snapshot() {
    let Some(root) = conformance("") else { return };
    let tt = parse_file(&root.join("ninjs/tools/xslt/TT_newsmlg2_sample.xml"))
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        tt.drafts.len(),
        1,
        "the package's text item is the story; the picture is its association"
    );
    assert_eq!(tt.drafts[0].item.associations.len(), 1);
    insta::assert_json_snapshot!("tt_newsml_g2", snapshot_value(&tt));
    let ntb = parse_file(&root.join("ninjs/tools/xslt/NTB_nitf_sample.xml"))
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(ntb.format, Format::Nitf);
    insta::assert_json_snapshot!("ntb_nitf", snapshot_value(&ntb));
}

#[test]
fn iptc_examples_snapshot() {
    let Some(root) = conformance("") else { return };
    for (name, file) in [
        ("listing_1", "LISTING_1_A_NewsML-G2_News_Item.xml"),
        ("listing_2", "LISTING_2_NewsML-G2_Text_Document.xml"),
        ("listing_22", "LISTING_22_Sports_story_in_NewsML-G2NITF.xml"),
    ] {
        let parsed = parse_file(&root.join("newsml-g2/examples").join(file))
            .unwrap_or_else(|error| panic!("{error}"));
        insta::assert_json_snapshot!(name, snapshot_value(&parsed));
    }
}

#[test]
fn lifecycle_cases_map_to_status_signals_version_and_embargo() {
    let Some(root) = conformance("") else { return };
    let one = |relative: &str| {
        let parsed = parse_file(&root.join(relative)).unwrap_or_else(|error| panic!("{error}"));
        parsed
            .drafts
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{relative}: no story"))
    };
    let listing_1 = one("newsml-g2/examples/LISTING_1_A_NewsML-G2_News_Item.xml");
    assert_eq!(listing_1.item.version, Some(11));
    assert!(
        listing_1.item.signals.contains(&"update".to_string()),
        "{:?}",
        listing_1.item.signals
    );
    assert_eq!(
        listing_1.item.embargoed.map(|time| time.to_rfc3339()),
        Some("2018-10-23T12:00:00+00:00".to_string())
    );
    assert!(
        listing_1
            .item
            .ednote
            .as_deref()
            .is_some_and(|note| note.contains("EMBARGO")),
        "{:?}",
        listing_1.item.ednote
    );
    assert_eq!(listing_1.item.pubstatus, Pubstatus::Usable);
    let correction = one(
        "newsml-g2/tests/unit_test_files/2.20/should_pass/CR00183_qcodetype_attributes_cardinality.xml",
    );
    assert!(
        correction.item.signals.contains(&"correction".to_string()),
        "{:?}",
        correction.item.signals
    );
}

#[test]
fn a_kill_in_newsml_g2_and_nitf_is_read() {
    let g2 = r#"<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:x:1" version="3" standard="NewsML-G2"><itemMeta><itemClass qcode="ninat:text"/><versionCreated>2026-11-24T10:00:00Z</versionCreated><pubStatus qcode="stat:canceled"/></itemMeta><contentMeta><headline>Killed</headline></contentMeta></newsItem>"#;
    let nitf = r#"<nitf><head><docdata management-status="withheld"><doc-id id-string="n-1"/><du-key key="k" version="2"/></docdata></head><body><body.head><hedline><hl1>Held back</hl1></hedline></body.head><body.content><p>x</p></body.content></body></nitf>"#;
    for (text, status) in [(g2, Pubstatus::Canceled), (nitf, Pubstatus::Withheld)] {
        let parsed = parse(
            Input {
                bytes: text.as_bytes(),
                content_type: None,
                origin: "inline.xml",
            },
            &Limits::default(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(parsed.drafts[0].item.pubstatus, status);
    }
}
