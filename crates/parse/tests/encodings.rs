//! The encoding matrix: one agency item per encoding (UTF-8/16/32 with and without BOM,
//! ISO-8859-*, Windows-125x, KOI8, Shift_JIS, EUC-JP, ISO-2022-JP, GB18030/GBK, Big5, EUC-KR),
//! in RSS, Atom, NITF and NewsML-G2, plus the precedence rules and lying declarations. Each must
//! decode to exactly the text written, or be held when its bytes are not valid in the encoding
//! that wins. Fixtures and `manifest.json` come from `fixtures/encodings/make.py`.

use std::path::Path;

#[derive(serde::Deserialize)]
struct Case {
    file: String,
    content_type: Option<String>,
    encoding: String,
    held: bool,
    guid: String,
    headline: String,
    body_text: String,
}

#[test]
fn every_encoding_decodes_to_the_text_written_or_is_held() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/encodings");
    let manifest = std::fs::read_to_string(folder.join("manifest.json"))
        .unwrap_or_else(|error| panic!("manifest.json: {error}"));
    let cases: Vec<Case> =
        serde_json::from_str(&manifest).unwrap_or_else(|error| panic!("manifest.json: {error}"));
    assert!(cases.len() >= 40, "the matrix has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let bytes = std::fs::read(folder.join(&case.file))
            .unwrap_or_else(|error| panic!("{}: {error}", case.file));
        let parsed = match verbatim_parse::parse(
            verbatim_parse::Input {
                bytes: &bytes,
                content_type: case.content_type.as_deref(),
                origin: &case.file,
            },
            &verbatim_parse::Limits::default(),
        ) {
            Ok(parsed) => parsed,
            Err(error) => {
                failures.push(format!("{}: {error}", case.file));
                continue;
            }
        };
        let Some(draft) = parsed.drafts.into_iter().next() else {
            failures.push(format!("{}: no item ({:?})", case.file, parsed.errors));
            continue;
        };
        let held = !draft.holds.is_empty();
        let item = verbatim_normalize::normalize(draft).item;
        let mut problems = Vec::new();
        if parsed.encoding != case.encoding {
            problems.push(format!(
                "encoding {} (want {})",
                parsed.encoding, case.encoding
            ));
        }
        if held != case.held {
            problems.push(format!("held {held} (want {})", case.held));
        }
        if item.guid != case.guid {
            problems.push(format!("guid {:?}", item.guid));
        }
        // A held item's text is never shown; only faithful decodings are compared.
        if !case.held {
            if item.headline != case.headline {
                problems.push(format!(
                    "headline {:?} (want {:?})",
                    item.headline, case.headline
                ));
            }
            if item.body_text != case.body_text {
                problems.push(format!(
                    "body {:?} (want {:?})",
                    item.body_text, case.body_text
                ));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", case.file, problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
