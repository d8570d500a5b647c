//! IPTC's own ninjs test corpus and examples (`../shared/conformance/ninjs`, see its SOURCES.md):
//! every `should_pass` case and every example parses to items whose fields equal the file's;
//! `should_fail` cases never panic; the lifecycle cases map to the right status and embargo.

mod shared_data;

use serde_json::Value;
use shared_data::{conformance, files_with_extension, parse_file};
use std::path::{Path, PathBuf};
use verbatim_item::Pubstatus;
use verbatim_parse::{Format, Input, Limits, parse};

fn lowercase(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.to_ascii_lowercase(), lowercase(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(lowercase).collect()),
        other => other.clone(),
    }
}

/// Checks every field Verbatim carries against the file's own value.
fn check_fields(path: &Path, expected: &Value, item: &verbatim_item::Item) {
    let expected = lowercase(expected);
    let name = path.display();
    let string = |key: &str| {
        expected
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    assert_eq!(Some(item.guid.clone()), string("uri"), "{name}: uri");
    let headline = string("headline").or_else(|| {
        let headlines = expected.get("headlines")?.as_array()?;
        let main = headlines
            .iter()
            .find(|headline| headline.get("role").and_then(Value::as_str) == Some("main"));
        main.or(headlines.first())?
            .get("value")?
            .as_str()
            .map(str::to_string)
    });
    assert_eq!(
        item.headline,
        headline.unwrap_or_default(),
        "{name}: headline"
    );
    assert_eq!(
        item.byline,
        string("byline").or(string("by")),
        "{name}: byline"
    );
    assert_eq!(item.language, string("language"), "{name}: language");
    assert_eq!(item.located, string("located"), "{name}: located");
    assert_eq!(item.ednote, string("ednote"), "{name}: ednote");
    let status =
        string("pubstatus").map_or(Pubstatus::Usable, |word| Pubstatus::from_agency_word(&word));
    assert_eq!(item.pubstatus, status, "{name}: pubstatus");
    let version = match expected.get("version") {
        Some(Value::String(text)) => text.trim().parse::<u64>().ok(),
        Some(Value::Number(number)) => number.as_u64(),
        _ => None,
    };
    assert_eq!(item.version, version, "{name}: version");
    if let Some(urgency) = expected.get("urgency").and_then(Value::as_u64) {
        assert_eq!(
            item.urgency.map(u64::from),
            Some(urgency),
            "{name}: urgency"
        );
    }
    for (key, actual) in [
        ("versioncreated", item.versioncreated),
        ("embargoed", item.embargoed),
    ] {
        if let Some(raw) = string(key)
            && let Some(date) = verbatim_parse::dates::parse_date(&raw)
        {
            assert_eq!(actual, Some(date), "{name}: {key}");
        }
    }
    assert_eq!(
        item.copyrightnotice,
        string("copyrightnotice").filter(|notice| !notice.trim().is_empty()),
        "{name}: copyrightnotice"
    );
}

fn check_file(path: &Path) -> usize {
    let parsed = parse_file(path).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(parsed.format, Format::Ninjs, "{}", path.display());
    assert!(
        parsed.errors.is_empty(),
        "{}: {:?}",
        path.display(),
        parsed.errors
    );
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let document: Value =
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let expected: Vec<Value> = match document {
        Value::Array(items) => items,
        other => vec![other],
    };
    assert_eq!(
        parsed.drafts.len(),
        expected.len(),
        "{}: item count",
        path.display()
    );
    for (draft, expected) in parsed.drafts.iter().zip(&expected) {
        check_fields(path, expected, &draft.item);
    }
    parsed.drafts.len()
}

#[test]
fn every_should_pass_case_parses_with_its_fields() {
    let Some(root) = conformance("ninjs") else {
        return;
    };
    let cases: Vec<PathBuf> = files_with_extension(&root.join("validation/test_suite"), "json")
        .into_iter()
        .filter(|path| {
            path.components()
                .any(|part| part.as_os_str() == "should_pass")
        })
        .filter(|path| !path.to_string_lossy().contains("_dev/"))
        .collect();
    assert!(cases.len() >= 100, "found only {} cases", cases.len());
    let items: usize = cases.iter().map(|path| check_file(path)).sum();
    println!(
        "ninjs should_pass: {} files, {items} items, all fields equal",
        cases.len()
    );
}

#[test]
fn every_example_parses_with_its_fields() {
    let Some(root) = conformance("ninjs") else {
        return;
    };
    let mut examples = files_with_extension(&root.join("examples"), "json");
    examples.extend(files_with_extension(
        &root.join("documentation/includes/examples"),
        "json",
    ));
    // An extension schema, and a collection of event objects SOURCES.md calls illustrative only.
    examples.retain(|path| {
        let name = path.to_string_lossy();
        !name.ends_with("extension-schema.json") && !name.contains("/collection/")
    });
    assert!(
        examples.len() >= 50,
        "found only {} examples",
        examples.len()
    );
    for path in &examples {
        check_file(path);
    }
    println!("ninjs examples: {} files, all fields equal", examples.len());
}

#[test]
fn should_fail_cases_never_panic() {
    let Some(root) = conformance("ninjs") else {
        return;
    };
    let cases: Vec<PathBuf> = files_with_extension(&root.join("validation/test_suite"), "json")
        .into_iter()
        .filter(|path| {
            path.components()
                .any(|part| part.as_os_str() == "should_fail")
        })
        .collect();
    assert!(cases.len() >= 20);
    for path in &cases {
        // Schema-invalid is not always unreadable: either outcome is fine, a panic is not.
        let _ = parse_file(path);
    }
}

#[test]
fn lifecycle_cases_map_to_status_version_and_embargo() {
    let Some(root) = conformance("ninjs") else {
        return;
    };
    let one = |relative: &str| {
        let parsed = parse_file(&root.join(relative)).unwrap_or_else(|error| panic!("{error}"));
        parsed
            .drafts
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{relative}: no item"))
    };
    assert_eq!(
        one("validation/test_suite/1.0/should_pass/023_pubstatus_canceled.json")
            .item
            .pubstatus,
        Pubstatus::Canceled
    );
    assert_eq!(
        one("validation/test_suite/1.0/should_pass/022_pubstatus_withheld.json")
            .item
            .pubstatus,
        Pubstatus::Withheld
    );
    let embargoed = one("validation/test_suite/1.0/should_pass/018_embargoed.json");
    assert_eq!(
        embargoed.item.embargoed.map(|time| time.to_rfc3339()),
        Some("2019-10-01T00:00:00+00:00".to_string())
    );
    let free_text = one("validation/test_suite/1.0/should_pass/019_embargoed_bad_datetime.json");
    assert!(
        free_text
            .holds
            .iter()
            .any(|reason| reason.contains("Next Monday")),
        "{:?}",
        free_text.holds
    );
    let date_only = one("validation/test_suite/1.0/should_pass/020_embargoed_date_only.json");
    assert!(date_only.item.embargoed.is_some());
    let ntb = one("examples/2.1/ntb_text.json");
    assert_eq!(
        (ntb.item.version, ntb.item.ednote.as_deref()),
        (Some(6), Some("Noe utvidet."))
    );
    assert_eq!(one("examples/2.1/dpa_text.json").item.version, Some(2));
    // An invalid status word is read, and the gate holds it.
    let commissioned = one("validation/test_suite/1.0/should_fail/015_pubstatus_commissioned.json");
    assert!(matches!(commissioned.item.pubstatus, Pubstatus::Unknown(_)));
}

#[test]
fn newline_delimited_and_arrays_are_read() {
    let ndjson = "{\"uri\":\"a\",\"headline\":\"One\"}\n{\"uri\":\"b\",\"headline\":\"Two\"}\n";
    let parsed = parse(
        Input {
            bytes: ndjson.as_bytes(),
            content_type: None,
            origin: "stream.ndjson",
        },
        &Limits::default(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(parsed.drafts.len(), 2);
    let array =
        r#"[{"uri":"a","headline":"One"},{"uri":5},{"uri":"c","headlines":[{"value":"Three"}]}]"#;
    let parsed = parse(
        Input {
            bytes: array.as_bytes(),
            content_type: None,
            origin: "array.json",
        },
        &Limits::default(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(parsed.drafts.len(), 3, "a numeric uri is read as text");
    assert_eq!(parsed.drafts[2].item.headline, "Three");
}
