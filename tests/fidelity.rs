//! The fidelity rule end to end: ingest feeds full of hard cases with the real binary, serve them,
//! and check that every output shows exactly the text the agency sent — the API's `headline` and
//! `body_text`, the visible text of `body_html`, of the article page and of the Atom entry.
//! The expected texts are written by hand in `fixtures/fidelity.expected.json`.

mod util;

use scraper::{Html, Selector};
use std::collections::BTreeMap;
use util::{DataDir, fixture, stderr};
use verbatim_normalize::{fold_line, visible_text};

#[derive(serde::Deserialize)]
struct Expected {
    headline: String,
    body_text: String,
}

fn expected() -> BTreeMap<String, Expected> {
    let text = std::fs::read_to_string(fixture("fidelity.expected.json"))
        .unwrap_or_else(|error| panic!("{error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}"))
}

fn select_one(document: &Html, css: &str) -> String {
    let selector = Selector::parse(css).unwrap_or_else(|error| panic!("{css}: {error:?}"));
    document
        .select(&selector)
        .next()
        .map(|element| element.inner_html())
        .unwrap_or_else(|| panic!("no {css} in page"))
}

#[test]
fn every_output_shows_the_agency_text_unchanged() {
    let data = DataDir::new();
    let rss = fixture("fidelity.rss");
    let atom = fixture("fidelity.atom");
    let output = data.run(&[
        "ingest",
        "--source",
        "fidelity",
        rss.to_str().unwrap_or_default(),
        atom.to_str().unwrap_or_default(),
    ]);
    assert!(
        output.status.success(),
        "ingest failed: {}",
        stderr(&output)
    );

    let expected = expected();
    let server = data.serve(&[]);
    let (status, list) = server.get_json("/api/v1/items?limit=100");
    assert_eq!(status, 200);
    let (status, _) = server.get_json("/api/v1/items?format=newsml");
    assert_eq!(status, 400, "an unknown format is refused");
    let (status, ninjs_list) = server.get_json("/api/v1/items?limit=100&format=ninjs");
    assert_eq!(status, 200);
    assert!(
        ninjs_list["items"].as_array().is_some_and(|items| items
            .iter()
            .all(|item| item["uri"].is_string() && item["altids"][0]["role"] == "verbatim-id")),
        "{ninjs_list}"
    );
    let items = list["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        items.len(),
        expected.len(),
        "every fixture item is published (none held)"
    );

    let (_, atom_feed) = server.get_text("/feeds/all.atom");
    let parsed_feed = verbatim_parse::parse(
        verbatim_parse::Input {
            bytes: atom_feed.as_bytes(),
            content_type: None,
            origin: "all.atom",
        },
        &verbatim_parse::Limits::default(),
    )
    .unwrap_or_else(|error| panic!("our Atom feed does not parse: {error}"));
    assert!(parsed_feed.errors.is_empty(), "{:?}", parsed_feed.errors);

    for item in &items {
        let guid = item["guid"].as_str().unwrap_or_default();
        let want = expected
            .get(guid)
            .unwrap_or_else(|| panic!("unexpected item {guid}"));
        let id = item["id"].as_str().unwrap_or_default();

        // The API.
        assert_eq!(
            item["headline"].as_str(),
            Some(want.headline.as_str()),
            "{guid}: API headline"
        );
        assert_eq!(
            item["body_text"].as_str(),
            Some(want.body_text.as_str()),
            "{guid}: API body_text"
        );
        let body_html = item["body_html"].as_str().unwrap_or_default();
        assert_eq!(
            visible_text(body_html),
            want.body_text,
            "{guid}: visible text of API body_html"
        );

        // The API as strict ninjs, read back by Verbatim's own ninjs reader.
        let (status, ninjs) = server.get_text(&format!("/api/v1/items/{id}?format=ninjs"));
        assert_eq!(status, 200, "{guid}: ninjs");
        let read_back = verbatim_parse::parse(
            verbatim_parse::Input {
                bytes: ninjs.as_bytes(),
                content_type: None,
                origin: "item.ninjs",
            },
            &verbatim_parse::Limits::default(),
        )
        .unwrap_or_else(|error| panic!("{guid}: our ninjs does not parse: {error}"));
        assert_eq!(read_back.format, verbatim_parse::Format::Ninjs);
        let ninjs_item = read_back
            .drafts
            .into_iter()
            .next()
            .map(|draft| verbatim_normalize::normalize(draft).item)
            .unwrap_or_else(|| panic!("{guid}: no item in our ninjs"));
        assert_eq!(ninjs_item.guid, guid, "{guid}: ninjs uri");
        assert_eq!(ninjs_item.headline, want.headline, "{guid}: ninjs headline");
        assert_eq!(ninjs_item.body_text, want.body_text, "{guid}: ninjs body");

        // The article page.
        let (status, page) = server.get_text(&format!("/items/{id}"));
        assert_eq!(status, 200, "{guid}: article page");
        let document = Html::parse_document(&page);
        assert_eq!(
            visible_text(&select_one(&document, "article .body")),
            want.body_text,
            "{guid}: page body"
        );
        assert_eq!(
            fold_line(&visible_text(&select_one(&document, "article h1.headline"))),
            want.headline,
            "{guid}: page headline"
        );

        // The Atom entry.
        let entry_id = format!("urn:verbatim:item:{id}");
        let entry = parsed_feed
            .drafts
            .iter()
            .find(|draft| draft.item.guid == entry_id)
            .unwrap_or_else(|| panic!("{guid}: not in the Atom feed"));
        let verbatim_item::SourceBody::Html(content) = &entry.body else {
            panic!("{guid}: Atom content is not HTML");
        };
        assert_eq!(
            visible_text(content),
            want.body_text,
            "{guid}: Atom entry content"
        );
        assert_eq!(
            entry.item.headline, want.headline,
            "{guid}: Atom entry title"
        );

        // Nothing active survives anywhere. The page's own two script elements (our live-update
        // script and the JSON-LD data block, whose text cannot contain `<`) are not the agency's.
        let mut page = page.replacen("<script src=\"/static/live.js\" defer></script>", "", 1);
        if let Some(start) = page.find("<script type=\"application/ld+json\">")
            && let Some(length) = page[start..].find("</script>")
        {
            page.replace_range(start..start + length + "</script>".len(), "");
        }
        for output in [body_html, page.as_str(), content.as_str()] {
            for forbidden in [
                "<script",
                "onclick",
                "onerror",
                "onmouseover",
                "javascript:",
                "<iframe",
                "<style",
                "desk: do not publish",
            ] {
                assert!(
                    !output.contains(forbidden),
                    "{guid}: {forbidden:?} survived"
                );
            }
        }
    }

    // The RSS and JSON Feed outputs carry the same markup.
    let (_, rss_feed) = server.get_text("/feeds/all.rss");
    let (_, json_feed) = server.get_json("/feeds/all.json");
    assert_eq!(rss_feed.matches("<item>").count(), expected.len());
    assert_eq!(
        json_feed["items"].as_array().map(Vec::len),
        Some(expected.len())
    );
    for entry in json_feed["items"].as_array().into_iter().flatten() {
        let html = entry["content_html"].as_str().unwrap_or_default();
        let title = entry["title"].as_str().unwrap_or_default();
        let want = expected
            .values()
            .find(|want| want.headline == title)
            .unwrap_or_else(|| panic!("{title}"));
        assert_eq!(visible_text(html), want.body_text, "JSON Feed: {title}");
    }
}

#[test]
fn pages_send_a_strict_content_security_policy() {
    let data = DataDir::new();
    let output = data.run(&[
        "ingest",
        fixture("fidelity.rss").to_str().unwrap_or_default(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let server = data.serve(&[]);
    let response = server.get("/");
    let csp = response
        .headers()
        .get("content-security-policy")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        csp.contains("script-src 'self';")
            && !csp.contains("unsafe-inline")
            && !csp.contains("unsafe-eval"),
        "only the site's own script files may run: {csp}"
    );
    assert!(response.headers().get("etag").is_some());
}
