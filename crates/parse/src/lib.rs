//! parse: turns the raw bytes of a payload into draft items, one per story, whatever the format.
//! The format is detected from the content, never from a file name. Pure: no IO, no clock.
//!
//! Each format has its own module (`rss`, `atom`, `jsonfeed`); `xml` is the tolerant tree they
//! read, `encoding` picks the character encoding, `dates` reads the dates agencies write.

/// This crate's version, named in provenance records.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

mod atom;
pub mod catalog;
mod common;
pub mod dates;
pub mod encoding;
mod error;
mod jsonfeed;
mod newsml_g2;
mod ninjs;
mod nitf;
mod rss;
pub mod xml;

pub use error::{ErrorKind, ParseError, Position};

use common::ItemOutcome;
use serde::Serialize;
use verbatim_item::Draft;
use xml::{Element, Fatal, XmlLimits};

/// The version of the parsers, recorded with every item.
pub const PARSER_VERSION: &str = concat!("verbatim-parse/", env!("CARGO_PKG_VERSION"));

/// A payload to parse.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub bytes: &'a [u8],
    /// The HTTP `Content-Type`, when the payload came over HTTP.
    pub content_type: Option<&'a str>,
    /// File path or URL, named in every error.
    pub origin: &'a str,
}

/// Limits on one payload.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_document_bytes: usize,
    pub xml: XmlLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_document_bytes: 64 * 1024 * 1024,
            xml: XmlLimits::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Rss2,
    Rss1,
    Atom,
    JsonFeed,
    Ninjs,
    NewsMlG2,
    Nitf,
}

impl Format {
    /// Every format, in the order `verbatim parse --format` lists them.
    pub const ALL: [Format; 7] = [
        Format::Rss2,
        Format::Rss1,
        Format::Atom,
        Format::JsonFeed,
        Format::Ninjs,
        Format::NewsMlG2,
        Format::Nitf,
    ];

    /// The format a name from [`Format::name`] stands for.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|format| format.name() == name)
    }

    /// Whether the format is written in JSON (otherwise XML).
    pub fn is_json(self) -> bool {
        matches!(self, Format::JsonFeed | Format::Ninjs)
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Rss2 => "rss2",
            Format::Rss1 => "rss1",
            Format::Atom => "atom",
            Format::JsonFeed => "jsonfeed",
            Format::Ninjs => "ninjs",
            Format::NewsMlG2 => "newsml-g2",
            Format::Nitf => "nitf",
        }
    }
}

/// What parsing found: the items, and the problems that did not stop the others.
#[derive(Debug)]
pub struct Parsed {
    pub format: Format,
    /// Why the format was chosen (shown by `verbatim parse --explain`).
    pub detected_because: String,
    pub encoding: &'static str,
    /// What the feed says about itself (RSS channel, Atom feed, JSON Feed top level).
    pub feed: FeedMeta,
    pub drafts: Vec<Draft>,
    pub errors: Vec<ParseError>,
}

/// Feed-level metadata, as the feed gives it. Stories never take their text from here (a story's
/// source is the configured source); `verbatim parse --explain` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FeedMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<FeedText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<FeedText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rights: Option<FeedText>,
    /// What relative links in the feed's own texts resolve against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The WebSub hub the feed names (`<link rel="hub">`, JSON Feed `hubs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub: Option<String>,
    /// The feed's own canonical URL (`<link rel="self">`, JSON Feed `feed_url`): the WebSub topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_link: Option<String>,
}

/// A feed-level text: plain text, or markup when the feed says so (Atom `html`/`xhtml`, RSS
/// `description`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedText {
    pub value: String,
    pub is_html: bool,
}

impl FeedText {
    pub fn text(value: String) -> FeedText {
        FeedText {
            value,
            is_html: false,
        }
    }

    pub fn html(value: String) -> FeedText {
        FeedText {
            value,
            is_html: true,
        }
    }
}

/// Parses one payload. `Err` means nothing could be read at all (unknown format, no root element,
/// a limit passed); problems with single items are in `Parsed::errors` and the rest still parse.
pub fn parse(input: Input<'_>, limits: &Limits) -> Result<Parsed, ParseError> {
    parse_as(input, None, limits)
}

/// Like [`parse`], but `forced` names the format instead of sniffing it (`parse --format`).
/// A forced JSON format on an XML payload, or the reverse, is an error.
pub fn parse_as(
    input: Input<'_>,
    forced: Option<Format>,
    limits: &Limits,
) -> Result<Parsed, ParseError> {
    const FORCED: &str = "named by --format";
    let fail = |position: Option<Position>, kind: ErrorKind| ParseError {
        origin: input.origin.to_string(),
        position,
        kind,
    };
    if input.bytes.len() > limits.max_document_bytes {
        return Err(fail(
            None,
            ErrorKind::Limit {
                what: "the payload size",
                limit: limits.max_document_bytes,
            },
        ));
    }
    let charset = input
        .content_type
        .and_then(encoding::charset_of_content_type);
    let decoded = encoding::decode(input.bytes, charset);
    let text = decoded.text.as_ref();
    let first = text
        .trim_start_matches(|ch: char| ch.is_whitespace() || ch == '\u{feff}')
        .chars()
        .next();

    let wrong_syntax = |format: Format| {
        let (expected, found) = if format.is_json() {
            ("JSON", "XML")
        } else {
            ("XML", "JSON")
        };
        fail(
            None,
            ErrorKind::UnknownFormat(format!(
                "--format {} expects {expected}, but the payload is {found}",
                format.name()
            )),
        )
    };
    let (format, detected_because, feed, outcomes, mut errors) = match first {
        Some('{') | Some('[') => {
            if let Some(format) = forced.filter(|format| !format.is_json()) {
                return Err(wrong_syntax(format));
            }
            // One document, or newline-delimited documents (ninjs streams).
            let mut documents = Vec::new();
            let mut stream =
                serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
            let mut stream_error = None;
            for document in stream.by_ref() {
                match document {
                    Ok(document) => documents.push(document),
                    Err(error) => {
                        stream_error = Some(fail(
                            Some(Position {
                                line: error.line(),
                                column: error.column(),
                            }),
                            ErrorKind::Json(error.to_string()),
                        ));
                        break;
                    }
                }
            }
            if documents.is_empty() {
                return Err(stream_error
                    .unwrap_or_else(|| fail(None, ErrorKind::Json("no JSON value".into()))));
            }
            let errors: Vec<ParseError> = stream_error.into_iter().collect();
            let json_feed = match forced {
                Some(format) => format == Format::JsonFeed,
                None => documents.len() == 1 && jsonfeed::is_json_feed(&documents[0]),
            };
            if json_feed {
                let because = match forced {
                    Some(_) => FORCED.to_string(),
                    None => "JSON with a \"version\" naming jsonfeed.org".to_string(),
                };
                let feed = jsonfeed::feed_meta(&documents[0]);
                let outcomes = documents.iter().flat_map(jsonfeed::read).collect();
                (Format::JsonFeed, because, feed, outcomes, errors)
            } else if forced.is_some() || documents.iter().any(ninjs::looks_like_ninjs) {
                let because = match documents.len() {
                    _ if forced.is_some() => FORCED,
                    1 if documents[0].is_array() => "a JSON array of objects with a ninjs \"uri\"",
                    1 => "a JSON object with a ninjs \"uri\"",
                    _ => "newline-delimited JSON objects with a ninjs \"uri\"",
                }
                .to_string();
                let outcomes = documents
                    .into_iter()
                    .flat_map(|document| match document {
                        serde_json::Value::Array(items) => items,
                        other => vec![other],
                    })
                    .map(|item| match ninjs::read_item(item) {
                        Ok(draft) => ItemOutcome::Ready(Box::new(draft)),
                        Err(reason) => ItemOutcome::Invalid { reason },
                    })
                    .collect();
                (
                    Format::Ninjs,
                    because,
                    FeedMeta::default(),
                    outcomes,
                    errors,
                )
            } else {
                return Err(fail(
                    None,
                    ErrorKind::UnknownFormat("JSON that is neither JSON Feed nor ninjs".into()),
                ));
            }
        }
        Some('<') => {
            if let Some(format) = forced.filter(|format| format.is_json()) {
                return Err(wrong_syntax(format));
            }
            // RSS items are read as each one closes (see `xml::Records`).
            let is_rss_root = |root: &Element| {
                let format = forced.or_else(|| detect_xml(root).map(|(format, _)| format));
                matches!(format, Some(Format::Rss2 | Format::Rss1))
            };
            let mut rss_items = rss::ItemsAsRead::new(&is_rss_root);
            let document =
                xml::read_document_with(text, limits.xml, &mut rss_items).map_err(|fatal| {
                    match fatal {
                        Fatal::NoRootElement(offset, message) => fail(
                            Some(Position::of_offset(text, offset)),
                            ErrorKind::Xml(message),
                        ),
                        Fatal::TooManyElements(limit) => fail(
                            None,
                            ErrorKind::Limit {
                                what: "the number of elements",
                                limit,
                            },
                        ),
                    }
                })?;
            let root = &document.root;
            let (format, because) = match forced {
                Some(format) => (format, FORCED.to_string()),
                None => detect_xml(root).ok_or_else(|| {
                    fail(
                        Some(Position::of_offset(text, root.offset)),
                        ErrorKind::UnknownFormat(format!("XML with root element <{}>", root.name)),
                    )
                })?,
            };
            let document_base = url::Url::parse(input.origin)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https"));
            let document_base = document_base.as_ref();
            let feed = match format {
                Format::Atom => atom::feed_meta(root, document_base),
                Format::Rss2 | Format::Rss1 => rss::feed_meta(root, document_base),
                _ => FeedMeta::default(),
            };
            let outcomes = match format {
                Format::Atom => atom::read(root, document_base),
                Format::NewsMlG2 => newsml_g2::read(root),
                Format::Nitf => match root.first_error() {
                    Some((offset, reason)) => vec![ItemOutcome::Broken {
                        offset: *offset,
                        reason: reason.clone(),
                    }],
                    None => vec![match nitf::read(root) {
                        Ok(draft) => ItemOutcome::Ready(Box::new(draft)),
                        Err(reason) => ItemOutcome::Invalid { reason },
                    }],
                },
                _ => rss::read_taken(root, document_base, rss_items),
            };
            let mut errors: Vec<ParseError> = document
                .errors
                .iter()
                .map(|(offset, message)| {
                    fail(
                        Some(Position::of_offset(text, *offset)),
                        ErrorKind::Xml(message.clone()),
                    )
                })
                .collect();
            collect_errors_outside_items(root, &mut |offset, message| {
                errors.push(fail(
                    Some(Position::of_offset(text, offset)),
                    ErrorKind::Xml(message.to_string()),
                ));
            });
            (format, because, feed, outcomes, errors)
        }
        _ => {
            return Err(fail(
                None,
                ErrorKind::UnknownFormat("the payload is neither XML nor JSON".into()),
            ));
        }
    };

    let mut drafts = Vec::with_capacity(outcomes.len());
    for (index, outcome) in outcomes.into_iter().enumerate() {
        let item_error = |reason: String, position: Option<Position>| {
            fail(
                position,
                ErrorKind::Item {
                    index: index + 1,
                    reason,
                },
            )
        };
        let mut draft = match outcome {
            ItemOutcome::Read(fields) => fields.into_draft(),
            ItemOutcome::Ready(draft) => *draft,
            ItemOutcome::Broken { offset, reason } => {
                errors.push(item_error(reason, Some(Position::of_offset(text, offset))));
                continue;
            }
            ItemOutcome::Invalid { reason } => {
                errors.push(item_error(reason, None));
                continue;
            }
        };
        if let Some(reason) = &decoded.invalid {
            draft.holds.push(reason.clone());
        }
        drafts.push(draft);
    }
    errors.dedup_by(|a, b| a.position == b.position && a.kind == b.kind);
    Ok(Parsed {
        format,
        detected_because,
        encoding: decoded.encoding.name(),
        feed,
        drafts,
        errors,
    })
}

fn detect_xml(root: &Element) -> Option<(Format, String)> {
    let because = |what: &str| format!("XML whose root element is {what}");
    match &*root.name {
        "rss" => Some((Format::Rss2, because("<rss>"))),
        "RDF" => Some((Format::Rss1, because("<rdf:RDF>"))),
        "feed" | "entry" if matches!(root.ns.as_deref(), Some(xml::NS_ATOM) | None) => {
            Some((Format::Atom, because(&format!("Atom <{}>", root.name))))
        }
        "feed" | "entry" if root.ns.as_deref() == Some(xml::NS_ATOM03) => {
            Some((Format::Atom, because(&format!("Atom 0.3 <{}>", root.name))))
        }
        // Concept, knowledge, planning and catalog items are NewsML-G2 too, but carry no story.
        "newsMessage" | "newsItem" | "packageItem" | "conceptItem" | "knowledgeItem"
        | "planningItem" | "catalogItem" => Some((
            Format::NewsMlG2,
            because(&format!("NewsML-G2 <{}>", root.name)),
        )),
        "nitf" => Some((Format::Nitf, because("<nitf>"))),
        _ => None,
    }
}

/// Errors on elements other than items and entries (those are reported per item).
fn collect_errors_outside_items(element: &Element, report: &mut dyn FnMut(usize, &str)) {
    if let Some((offset, message)) = &element.error {
        report(*offset, message);
    }
    for child in element.elements() {
        if !matches!(&*child.name, "item" | "entry" | "newsItem" | "itemSet")
            && element.name != "nitf"
        {
            collect_errors_outside_items(child, report);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verbatim_item::SourceBody;

    fn feed_meta_of(document: &str) -> FeedMeta {
        match parse(
            Input {
                bytes: document.as_bytes(),
                content_type: None,
                origin: "https://agency.test/feeds/world",
            },
            &Limits::default(),
        ) {
            Ok(parsed) => parsed.feed,
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn websub_hub_and_self_links_are_found_in_every_feed_format() {
        let atom = feed_meta_of(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>W</title>
            <link rel="hub" href="https://hub.test/"/><link rel="self" href="/feeds/world"/>
            <link href="https://agency.test/"/></feed>"#,
        );
        assert_eq!(atom.hub.as_deref(), Some("https://hub.test/"));
        assert_eq!(
            atom.self_link.as_deref(),
            Some("https://agency.test/feeds/world")
        );
        assert_eq!(atom.link.as_deref(), Some("https://agency.test/"));
        let rss = feed_meta_of(
            r#"<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>W</title>
            <link>https://agency.test/</link>
            <atom:link rel="hub" href="https://hub.test/rss"/>
            <atom:link rel="self" type="application/rss+xml" href="https://agency.test/rss"/>
            </channel></rss>"#,
        );
        assert_eq!(rss.hub.as_deref(), Some("https://hub.test/rss"));
        assert_eq!(rss.self_link.as_deref(), Some("https://agency.test/rss"));
        assert_eq!(rss.link.as_deref(), Some("https://agency.test/"));
        let json = feed_meta_of(
            r#"{"version": "https://jsonfeed.org/version/1.1", "title": "W",
            "feed_url": "https://agency.test/feed.json",
            "hubs": [{"type": "rssCloud", "url": "https://cloud.test/"},
                     {"type": "WebSub", "url": "https://hub.test/json"}], "items": []}"#,
        );
        assert_eq!(json.hub.as_deref(), Some("https://hub.test/json"));
        assert_eq!(
            json.self_link.as_deref(),
            Some("https://agency.test/feed.json")
        );
        let none = feed_meta_of(r#"<rss version="2.0"><channel><title>W</title></channel></rss>"#);
        assert_eq!((none.hub, none.self_link), (None, None));
    }

    #[test]
    fn relative_links_resolve_against_xml_base_then_the_document_url() {
        let feed = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="/wire/">
            <title>Wire</title><link href="index.html"/>
            <entry xml:base="2026/"><id>a</id><title>A</title><link href="a.html"/>
              <content type="html" xml:base="pics/">&lt;img src="a.jpg"&gt;</content></entry>
            <entry><id>b</id><title>B</title><link href="http://elsewhere.test/b"/></entry>
        </feed>"#;
        let parsed = match parse(
            Input {
                bytes: feed.as_bytes(),
                content_type: None,
                origin: "https://agency.test/feeds/all.atom",
            },
            &Limits::default(),
        ) {
            Ok(parsed) => parsed,
            Err(error) => panic!("{error}"),
        };
        assert_eq!(
            parsed.feed.link.as_deref(),
            Some("https://agency.test/wire/index.html")
        );
        let first = &parsed.drafts[0];
        assert_eq!(
            first.item.link.as_deref(),
            Some("https://agency.test/wire/2026/a.html")
        );
        assert_eq!(
            first.base_url.as_deref(),
            Some("https://agency.test/wire/2026/pics/")
        );
        assert_eq!(
            parsed.drafts[1].item.link.as_deref(),
            Some("http://elsewhere.test/b")
        );
        // A file has no URL: relative links stay as sent.
        let local = parse_text(feed);
        assert_eq!(local.drafts[0].item.link.as_deref(), Some("a.html"));
        assert_eq!(local.drafts[0].base_url, None);
    }

    #[test]
    fn atom_0_3_feeds_are_read_with_their_own_names_and_modes() {
        let parsed = parse_text(
            r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#">
              <title>Old wire</title><tagline>Since 2004</tagline>
              <entry><id>x</id><title>Headline</title>
                <issued>2004-01-01T10:00:00Z</issued><modified>2004-01-02T10:00:00Z</modified>
                <content type="text/html" mode="escaped">&lt;p&gt;Escaped&lt;/p&gt;</content>
              </entry>
              <entry><id>y</id><title>Second</title>
                <content type="application/xhtml+xml"><div xmlns="http://www.w3.org/1999/xhtml">Inline</div></content>
              </entry>
              <entry><id>z</id><title>Third</title>
                <content type="text/html" mode="base64">PHA+QmFzZTY0PC9wPg==</content>
              </entry>
            </feed>"#,
        );
        assert_eq!(parsed.format, Format::Atom);
        assert_eq!(
            parsed.feed.subtitle.map(|text| text.value),
            Some("Since 2004".into())
        );
        let first = &parsed.drafts[0];
        assert_eq!(first.body, SourceBody::Html("<p>Escaped</p>".into()));
        assert_eq!(
            first.item.firstcreated.map(|at| at.to_rfc3339()),
            Some("2004-01-01T10:00:00+00:00".into())
        );
        assert_eq!(
            first.item.versioncreated.map(|at| at.to_rfc3339()),
            Some("2004-01-02T10:00:00+00:00".into())
        );
        // Atom 0.3 keeps the <div>: it is part of the content there.
        assert!(
            matches!(&parsed.drafts[1].body, SourceBody::Html(html) if html.starts_with("<div"))
        );
        assert_eq!(
            parsed.drafts[2].body,
            SourceBody::Html("<p>Base64</p>".into())
        );
    }

    #[test]
    fn rss_items_take_the_fullest_body_and_dublin_core_fallbacks() {
        let parsed = parse_text(
            r#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
                 xmlns:dcterms="http://purl.org/dc/terms/"><channel>
              <item><guid>1</guid><description>Short</description>
                <body xmlns="http://www.w3.org/1999/xhtml"><p>Full <b>body</b></p></body></item>
              <item><guid>2</guid><dc:title>DC title</dc:title><dc:author>A. Writer</dc:author>
                <dcterms:issued>2003-12-31T10:14:55Z</dcterms:issued>
                <fullitem>&lt;p&gt;Escaped full item&lt;/p&gt;</fullitem></item>
            </channel></rss>"#,
        );
        assert!(
            matches!(&parsed.drafts[0].body, SourceBody::Html(html) if html.contains("Full <b>body</b>"))
        );
        let second = &parsed.drafts[1].item;
        assert_eq!(second.headline, "DC title");
        assert_eq!(second.byline.as_deref(), Some("A. Writer"));
        assert!(second.firstcreated.is_some());
        assert_eq!(
            parsed.drafts[1].body,
            SourceBody::Html("<p>Escaped full item</p>".into())
        );
    }

    fn parse_text(text: &str) -> Parsed {
        match parse(
            Input {
                bytes: text.as_bytes(),
                content_type: None,
                origin: "test.xml",
            },
            &Limits::default(),
        ) {
            Ok(parsed) => parsed,
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn rss_items_with_content_encoded() {
        let parsed = parse_text(
            r#"<?xml version="1.0"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Agency</title><language>en</language><copyright>© Agency</copyright>
<item><title>Head &amp; line</title><guid isPermaLink="false">id-1</guid><link>https://a.example/1</link>
<description>teaser</description><content:encoded><![CDATA[<p>Full <b>text</b></p>]]></content:encoded>
<dc:creator>Ann Writer</dc:creator><pubDate>Tue, 24 Nov 2026 14:05:00 GMT</pubDate><category>World</category></item>
</channel></rss>"#,
        );
        assert_eq!(parsed.format, Format::Rss2);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let draft = &parsed.drafts[0];
        assert_eq!(draft.item.guid, "id-1");
        assert_eq!(draft.item.headline, "Head & line");
        assert_eq!(
            draft.body,
            SourceBody::Html("<p>Full <b>text</b></p>".into())
        );
        assert_eq!(draft.item.byline.as_deref(), Some("Ann Writer"));
        assert_eq!(draft.item.language.as_deref(), Some("en"));
        assert_eq!(draft.item.copyrightnotice.as_deref(), Some("© Agency"));
        assert_eq!(draft.item.keywords, vec!["World".to_string()]);
        assert!(draft.item.versioncreated.is_some());
    }

    #[test]
    fn rss1_items_beside_the_channel() {
        let parsed = parse_text(
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://a.example/"><title>A</title></channel>
<item rdf:about="https://a.example/1"><title>One</title><link>https://a.example/1</link><description>Body one</description><dc:date>2026-11-24T10:00:00Z</dc:date></item>
</rdf:RDF>"#,
        );
        assert_eq!(parsed.format, Format::Rss1);
        assert_eq!(parsed.drafts.len(), 1);
        assert_eq!(parsed.drafts[0].item.guid, "https://a.example/1");
    }

    #[test]
    fn atom_text_html_and_xhtml() {
        let parsed = parse_text(
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">
<entry><id>urn:1</id><title type="html">A &lt;em&gt;b&lt;/em&gt;</title><updated>2026-11-24T10:00:00Z</updated>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Bonjour <b>monde</b></p></div></content>
<author><name>Jeanne</name></author><link href="https://a.example/1"/></entry>
<entry><id>urn:2</id><title>Plain</title><content type="text">Line &lt;1&gt;</content></entry>
</feed>"#,
        );
        assert_eq!(parsed.format, Format::Atom);
        let first = &parsed.drafts[0];
        assert!(first.headline_is_html);
        assert_eq!(
            first.body,
            SourceBody::Html("<p>Bonjour <b>monde</b></p>".into())
        );
        assert_eq!(first.item.language.as_deref(), Some("fr"));
        assert_eq!(first.item.link.as_deref(), Some("https://a.example/1"));
        assert_eq!(parsed.drafts[1].body, SourceBody::Text("Line <1>".into()));
    }

    #[test]
    fn json_feed_items_are_read_one_by_one() {
        let parsed = parse(
            Input {
                bytes: br#"{"version":"https://jsonfeed.org/version/1.1","title":"A","items":[
                    {"id":"1","title":"One","content_html":"<p>x</p>","authors":[{"name":"Ann"}]},
                    {"id":"2","title":5},
                    {"id":3,"content_text":"Three"}]}"#,
                content_type: Some("application/feed+json"),
                origin: "feed.json",
            },
            &Limits::default(),
        );
        let parsed = parsed.unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(parsed.drafts.len(), 2);
        assert_eq!(parsed.errors.len(), 1);
        assert!(
            parsed.errors[0].to_string().contains("item 2"),
            "{}",
            parsed.errors[0]
        );
        assert_eq!(parsed.drafts[1].item.guid, "3");
    }

    #[test]
    fn a_broken_item_is_reported_with_its_position_and_the_rest_parse() {
        let parsed = parse_text(
            "<rss><channel>\n<item><title>ok</title><guid>1</guid></item>\n<item><title>bad</oops><guid>2</guid></item>\n<item><title>fine</title><guid>3</guid></item>\n</channel></rss>",
        );
        let guids: Vec<&str> = parsed
            .drafts
            .iter()
            .map(|draft| draft.item.guid.as_str())
            .collect();
        assert_eq!(guids, vec!["1", "3"]);
        let message = parsed.errors[0].to_string();
        assert!(message.starts_with("test.xml:3:"), "{message}");
    }

    #[test]
    fn unknown_formats_are_refused() {
        let error = parse(
            Input {
                bytes: b"<html><body>hi</body></html>",
                content_type: None,
                origin: "page.html",
            },
            &Limits::default(),
        );
        assert!(matches!(
            error,
            Err(ParseError {
                kind: ErrorKind::UnknownFormat(_),
                ..
            })
        ));
    }

    #[test]
    fn invalid_bytes_hold_every_item() {
        let parsed = parse(
            Input {
                bytes: b"<rss><channel><item><title>caf\xE9</title><guid>1</guid></item></channel></rss>",
                content_type: None,
                origin: "latin1.xml",
            },
            &Limits::default(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(parsed.drafts[0].holds.len(), 1);
    }
}
