//! The out-feeds validate: ninjs against IPTC's own JSON Schema (2.1, from
//! `../shared/conformance/`), JSON Feed against a schema written from the 1.1 specification
//! (`fixtures/schemas/`), and Atom and RSS against the MUST rules of RFC 4287 and the RSS 2.0
//! specification, checked on the parsed tree. The stories are the fidelity fixtures (scripts to
//! strip, RTL, CJK, entities, CDATA) plus a kill, so tombstones are checked too.

mod util;

use std::path::PathBuf;
use util::{DataDir, Server, fixture, stderr};

const ATOM: &str = "http://www.w3.org/2005/Atom";
const TOMBSTONES: &str = "http://purl.org/atompub/tombstones/1.0";

fn server_with_stories() -> (DataDir, Server) {
    let data = DataDir::new();
    for name in ["fidelity.rss", "fidelity.atom"] {
        let output = data.run(&["ingest", fixture(name).to_str().unwrap_or_default()]);
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let kill = data.path().join("kill.json");
    std::fs::write(
        &kill,
        r#"{"uri": "urn:v:doomed", "version": "1", "pubstatus": "usable", "headline": "Doomed", "body_text": "Soon gone."}"#,
    )
    .unwrap_or_default();
    let run = |path: &std::path::Path| {
        let output = data.run(&[
            "ingest",
            "--source",
            "wire",
            path.to_str().unwrap_or_default(),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
    };
    run(&kill);
    std::fs::write(
        &kill,
        r#"{"uri": "urn:v:doomed", "version": "2", "pubstatus": "canceled", "headline": "Doomed", "body_text": "Killed."}"#,
    )
    .unwrap_or_default();
    run(&kill);
    let server = data.serve(&[]);
    (data, server)
}

/// Answers GeoJSON's schema URL with a schema that accepts anything, and nothing else.
struct GeoJsonStandIn;

impl jsonschema::Retrieve for GeoJsonStandIn {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        if uri.as_str().starts_with("https://geojson.org/schema/") {
            Ok(serde_json::json!({}))
        } else {
            Err(format!("tests do not fetch {}", uri.as_str()).into())
        }
    }
}

fn validator(schema_path: &std::path::Path) -> jsonschema::Validator {
    let text = std::fs::read_to_string(schema_path)
        .unwrap_or_else(|error| panic!("{}: {error}", schema_path.display()));
    let schema: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}"));
    // ninjs refers to GeoJSON's schema by URL for place geometry, which Verbatim never writes;
    // tests stay off the network, so an accept-all stand-in takes its place.
    jsonschema::options()
        .should_validate_formats(true)
        .with_retriever(GeoJsonStandIn)
        .build(&schema)
        .unwrap_or_else(|error| panic!("{}: {error}", schema_path.display()))
}

fn assert_valid(validator: &jsonschema::Validator, instance: &serde_json::Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} is not valid:\n{}",
        errors.join("\n")
    );
}

#[test]
fn ninjs_output_validates_against_iptc_schema() {
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/conformance/ninjs/specification/ninjs-schema_2.1.json");
    if !schema.exists() {
        assert!(
            std::env::var("VERBATIM_REQUIRE_ALL").is_err(),
            "VERBATIM_REQUIRE_ALL is set but {} is missing",
            schema.display()
        );
        eprintln!("skipped: {} is missing", schema.display());
        return;
    }
    let validator = validator(&schema);
    let (_data, server) = server_with_stories();
    let (status, list) = server.get_json("/api/v1/items?format=ninjs&limit=100");
    assert_eq!(status, 200);
    let items = list["items"].as_array().cloned().unwrap_or_default();
    assert!(items.len() >= 4, "{list}");
    for item in &items {
        assert_valid(&validator, item, &format!("ninjs {}", item["uri"]));
        let id = item["altids"]
            .as_array()
            .and_then(|ids| ids.iter().find(|id| id["role"] == "verbatim-id"))
            .and_then(|id| id["value"].as_str())
            .unwrap_or_default()
            .to_string();
        let (status, one) = server.get_json(&format!("/api/v1/items/{id}?format=ninjs"));
        assert_eq!(status, 200);
        assert_valid(&validator, &one, &format!("ninjs item {id}"));
    }
}

#[test]
fn json_feed_output_validates_against_the_1_1_specification() {
    let validator = validator(&fixture("schemas/jsonfeed-1.1.schema.json"));
    let (_data, server) = server_with_stories();
    for path in [
        "/feeds/all.json",
        "/feeds/sources/wire.json",
        "/feeds/sources/fidelity.json",
    ] {
        let (status, feed) = server.get_json(path);
        assert_eq!(status, 200, "{path}");
        assert_valid(&validator, &feed, path);
    }
    // The schema is not a rubber stamp: a feed missing what the specification requires fails.
    let (_, mut broken) = server.get_json("/feeds/all.json");
    if let Some(map) = broken.as_object_mut() {
        map.remove("title");
    }
    assert!(!validator.is_valid(&broken));
}

fn children<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    namespace: &'a str,
    name: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'input>> + 'a {
    node.children().filter(move |child| {
        child.is_element()
            && child.tag_name().name() == name
            && child.tag_name().namespace() == Some(namespace)
    })
}

fn rfc3339(text: &str, what: &str) {
    assert!(
        chrono::DateTime::parse_from_rfc3339(text.trim()).is_ok(),
        "{what}: {text:?} is not an RFC 3339 date"
    );
}

fn absolute_iri(text: &str, what: &str) {
    assert!(
        url::Url::parse(text.trim()).is_ok(),
        "{what}: {text:?} is not an absolute IRI"
    );
}

/// RFC 4287's MUST rules for a feed document (§4.1.1, §4.1.2, §4.2), and RFC 6721's for
/// tombstones.
fn check_atom(xml: &str, what: &str) -> usize {
    let document =
        roxmltree::Document::parse(xml).unwrap_or_else(|error| panic!("{what}: {error}"));
    let feed = document.root_element();
    assert_eq!(
        feed.tag_name().namespace(),
        Some(ATOM),
        "{what}: root namespace"
    );
    assert_eq!(feed.tag_name().name(), "feed", "{what}: root element");
    for required in ["id", "title", "updated"] {
        assert_eq!(
            children(feed, ATOM, required).count(),
            1,
            "{what}: atom:feed needs exactly one atom:{required}"
        );
    }
    for id in children(feed, ATOM, "id") {
        absolute_iri(id.text().unwrap_or_default(), what);
    }
    for updated in children(feed, ATOM, "updated") {
        rfc3339(updated.text().unwrap_or_default(), what);
    }
    let feed_has_author = children(feed, ATOM, "author").next().is_some();
    let mut entries = 0;
    for entry in children(feed, ATOM, "entry") {
        entries += 1;
        for required in ["id", "title", "updated"] {
            assert_eq!(
                children(entry, ATOM, required).count(),
                1,
                "{what}: atom:entry needs exactly one atom:{required}"
            );
        }
        let id = children(entry, ATOM, "id")
            .next()
            .and_then(|id| id.text())
            .unwrap_or_default();
        absolute_iri(id, what);
        for date in children(entry, ATOM, "updated").chain(children(entry, ATOM, "published")) {
            rfc3339(date.text().unwrap_or_default(), what);
        }
        assert!(
            feed_has_author || children(entry, ATOM, "author").next().is_some(),
            "{what}: {id} has no atom:author and neither has the feed (§4.1.1)"
        );
        for author in children(entry, ATOM, "author") {
            assert_eq!(
                children(author, ATOM, "name").count(),
                1,
                "{what}: atom:author needs one atom:name"
            );
        }
        let content = children(entry, ATOM, "content").next();
        let alternates: Vec<_> = children(entry, ATOM, "link")
            .filter(|link| link.attribute("rel").unwrap_or("alternate") == "alternate")
            .collect();
        assert!(
            content.is_some() || !alternates.is_empty(),
            "{what}: {id} has neither content nor an alternate link (§4.1.2)"
        );
        assert!(
            alternates.len() <= 1,
            "{what}: {id} has several alternate links of one type"
        );
        for link in children(entry, ATOM, "link") {
            assert!(
                link.attribute("href").is_some(),
                "{what}: atom:link without href"
            );
        }
        for text in children(entry, ATOM, "title").chain(content) {
            match text.attribute("type").unwrap_or("text") {
                "text" | "html" => assert!(
                    text.children().all(|child| !child.is_element()),
                    "{what}: {id}: text and html constructs carry no child elements (§3.1.1)"
                ),
                "xhtml" => {}
                other => assert!(other.contains('/'), "{what}: {id}: bad type {other:?}"),
            }
        }
    }
    for tombstone in children(feed, TOMBSTONES, "deleted-entry") {
        absolute_iri(tombstone.attribute("ref").unwrap_or_default(), what);
        rfc3339(tombstone.attribute("when").unwrap_or_default(), what);
    }
    entries
}

/// Children named `name` in no namespace (RSS 2.0's own elements).
fn plain<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &str,
) -> Vec<roxmltree::Node<'a, 'input>> {
    node.children()
        .filter(|child| {
            child.is_element()
                && child.tag_name().name() == name
                && child.tag_name().namespace().is_none()
        })
        .collect()
}

/// The RSS 2.0 specification's required elements and formats.
fn check_rss(xml: &str, what: &str) -> usize {
    let document =
        roxmltree::Document::parse(xml).unwrap_or_else(|error| panic!("{what}: {error}"));
    let rss = document.root_element();
    assert_eq!(rss.tag_name().name(), "rss", "{what}");
    assert_eq!(rss.attribute("version"), Some("2.0"), "{what}");
    let channels: Vec<_> = rss
        .children()
        .filter(|child| child.has_tag_name("channel"))
        .collect();
    assert_eq!(channels.len(), 1, "{what}: one channel");
    let channel = channels[0];

    for required in ["title", "link", "description"] {
        assert_eq!(
            plain(channel, required).len(),
            1,
            "{what}: channel needs one <{required}>"
        );
    }
    for optional_once in [
        "language",
        "copyright",
        "lastBuildDate",
        "pubDate",
        "generator",
        "ttl",
    ] {
        assert!(
            plain(channel, optional_once).len() <= 1,
            "{what}: at most one <{optional_once}>"
        );
    }
    for date in plain(channel, "lastBuildDate")
        .into_iter()
        .chain(plain(channel, "pubDate"))
    {
        let text = date.text().unwrap_or_default();
        assert!(
            chrono::DateTime::parse_from_rfc2822(text.trim()).is_ok(),
            "{what}: {text:?} is not an RFC 822 date"
        );
    }
    let items = plain(channel, "item");
    for item in &items {
        assert!(
            !plain(*item, "title").is_empty() || !plain(*item, "description").is_empty(),
            "{what}: an item needs a title or a description"
        );
        for date in plain(*item, "pubDate") {
            let text = date.text().unwrap_or_default();
            assert!(
                chrono::DateTime::parse_from_rfc2822(text.trim()).is_ok(),
                "{what}: {text:?} is not an RFC 822 date"
            );
        }
        for guid in plain(*item, "guid") {
            let permalink = guid.attribute("isPermaLink").unwrap_or("true");
            assert!(
                matches!(permalink, "true" | "false"),
                "{what}: isPermaLink {permalink:?}"
            );
            if permalink == "true" {
                absolute_iri(guid.text().unwrap_or_default(), what);
            }
        }
        for link in plain(*item, "link") {
            absolute_iri(link.text().unwrap_or_default(), what);
        }
        for enclosure in plain(*item, "enclosure") {
            for attribute in ["url", "length", "type"] {
                assert!(
                    enclosure.attribute(attribute).is_some(),
                    "{what}: enclosure without {attribute}"
                );
            }
        }
    }
    items.len()
}

#[test]
fn atom_and_rss_outputs_follow_their_specifications() {
    let (_data, server) = server_with_stories();
    let (_, atom) = server.get_text("/feeds/all.atom");
    assert!(check_atom(&atom, "/feeds/all.atom") >= 4);
    assert!(atom.contains("deleted-entry"), "the kill is announced");
    let (_, atom) = server.get_text("/feeds/sources/wire.atom");
    check_atom(&atom, "/feeds/sources/wire.atom");
    let (_, rss) = server.get_text("/feeds/all.rss");
    assert!(check_rss(&rss, "/feeds/all.rss") >= 4);
    let (_, rss) = server.get_text("/feeds/sources/fidelity.rss");
    check_rss(&rss, "/feeds/sources/fidelity.rss");
}
