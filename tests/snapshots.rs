//! Snapshots of the canonical items `verbatim parse` prints for the bundled demo feeds (every
//! supported format, several scripts). A change in any field shows up as a diff.

mod util;

use std::path::Path;
use util::{DataDir, stderr, stdout};

fn parse_snapshot(file: &str) -> String {
    let data = DataDir::new();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/demo")
        .join(file);
    let output = data.run(&["parse", path.to_str().unwrap_or_default()]);
    assert!(output.status.success(), "{}", stderr(&output));
    // One pretty JSON document per item keeps the diffs readable.
    stdout(&output)
        .lines()
        .map(|line| {
            let value: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}"));
            serde_json::to_string_pretty(&value).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn rss2_sample() {
    insta::assert_snapshot!(parse_snapshot("nordic-wire.rss"));
}

#[test]
fn atom_sample() {
    insta::assert_snapshot!(parse_snapshot("levant-presse.atom"));
}

#[test]
fn json_feed_sample() {
    insta::assert_snapshot!(parse_snapshot("sakura-news.json"));
}

#[test]
fn rss1_sample() {
    insta::assert_snapshot!(parse_snapshot("andes-press.rdf"));
}

#[test]
fn ninjs_sample() {
    insta::assert_snapshot!(parse_snapshot("baltic-news.json"));
}

#[test]
fn newsml_g2_sample() {
    insta::assert_snapshot!(parse_snapshot("alpine-presse.xml"));
}

#[test]
fn nitf_sample() {
    insta::assert_snapshot!(parse_snapshot("sahel-info.xml"));
}
