//! Atom 1.0 (RFC 4287): feeds and single-entry documents; text constructs of type text, html and
//! xhtml; authors, categories, rights, `xml:lang` and enclosure links. Atom 0.3 documents are read
//! too: its namespace, `mode="escaped"` and `mode="base64"` content, and its names (`modified`, `issued`, `tagline`,
//! `copyright`).

use crate::common::{ItemFields, ItemOutcome, non_empty, resolve, xml_base};
use crate::dates::parse_date;
use crate::rss::kind_of_media;
use crate::xml::{Element, NS_ATOM, NS_ATOM03, NS_XHTML, NS_XML};
use crate::{FeedMeta, FeedText};
use url::Url;
use verbatim_item::{Association, SourceBody};

/// Atom elements are in the Atom namespace (1.0 or 0.3); documents that forget to declare it are
/// read too.
const ATOM: &[Option<&str>] = &[Some(NS_ATOM), None, Some(NS_ATOM03)];

/// The feed's own title, subtitle, alternate link, language and rights.
pub fn feed_meta(root: &Element, document_base: Option<&Url>) -> FeedMeta {
    if root.name == "entry" {
        return FeedMeta::default();
    }
    let base = xml_base(document_base, root);
    let construct = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| root.child(ATOM, name))
            .map(text_construct)
            .filter(|(text, _)| !text.trim().is_empty())
            .map(|(value, is_html)| FeedText { value, is_html })
    };
    FeedMeta {
        title: construct(&["title"]),
        // `tagline` and `copyright` are the Atom 0.3 names.
        subtitle: construct(&["subtitle", "tagline"]),
        link: alternate_link(root).map(|link| resolve(base.as_ref(), link)),
        language: root
            .attr_ns(NS_XML, "lang")
            .and_then(|lang| non_empty(Some(lang))),
        rights: construct(&["rights", "copyright"]),
        hub: link_with_rel(root, "hub").map(|link| resolve(base.as_ref(), link)),
        self_link: link_with_rel(root, "self").map(|link| resolve(base.as_ref(), link)),
        base_url: base.map(String::from),
    }
}

pub fn read(root: &Element, document_base: Option<&Url>) -> Vec<ItemOutcome> {
    let feed_base = xml_base(document_base, root);
    let feed_language = root
        .attr_ns(NS_XML, "lang")
        .and_then(|lang| non_empty(Some(lang)));
    let feed_rights = ["rights", "copyright"]
        .iter()
        .find_map(|name| root.child(ATOM, name))
        .and_then(Element::text_opt);
    let entries: Vec<&Element> = if root.name == "entry" {
        vec![root]
    } else {
        root.children_named(ATOM, "entry").collect()
    };
    entries
        .into_iter()
        .map(|entry| {
            if let Some((offset, message)) = entry.first_error() {
                return ItemOutcome::Broken {
                    offset: *offset,
                    reason: message.clone(),
                };
            }
            let base = if std::ptr::eq(entry, root) {
                feed_base.clone()
            } else {
                xml_base(feed_base.as_ref(), entry)
            };
            ItemOutcome::Read(Box::new(read_entry(
                entry,
                &feed_language,
                &feed_rights,
                base,
            )))
        })
        .collect()
}

/// The first `rel="alternate"` (or rel-less) link's href.
fn alternate_link(element: &Element) -> Option<String> {
    element
        .children_named(ATOM, "link")
        .filter(|link| link.attr("rel").unwrap_or("alternate").trim() == "alternate")
        .find_map(|link| non_empty(link.attr("href")))
}

/// The `href` of the first `<link>` child with the given relation (`hub`, `self`); RSS feeds
/// carry the same element in the Atom namespace.
pub(crate) fn link_with_rel(element: &Element, rel: &str) -> Option<String> {
    element
        .children_named(ATOM, "link")
        .filter(|link| {
            link.attr("rel").is_some_and(|value| {
                value
                    .split_ascii_whitespace()
                    .any(|one| one.eq_ignore_ascii_case(rel))
            })
        })
        .find_map(|link| non_empty(link.attr("href")))
}

/// An Atom text construct as (content, is_markup). Atom 1.0 names the kind `text`, `html` or
/// `xhtml`; Atom 0.3 gives a MIME type and a `mode` (`xml`, the default, or `escaped`).
fn text_construct(element: &Element) -> (String, bool) {
    let kind = element
        .attr("type")
        .unwrap_or("text")
        .trim()
        .to_ascii_lowercase();
    let atom03 = element.ns.as_deref() == Some(NS_ATOM03);
    let mode = element
        .attr("mode")
        .unwrap_or("xml")
        .trim()
        .to_ascii_lowercase();
    let escaped = mode == "escaped";
    // RFC 4287 §4.1.3.3: a type that is neither text nor XML means base64 content.
    let opaque = !atom03
        && kind.contains('/')
        && !kind.starts_with("text/")
        && !kind.ends_with("xml")
        && !kind.ends_with("+xml");
    if mode == "base64" || opaque {
        let markup = !opaque && !matches!(kind.as_str(), "text" | "text/plain");
        return match decode_base64(&element.text()) {
            Some(decoded) => (decoded, markup),
            // Not base64 after all: keep what was sent, as text, rather than lose it.
            None => (element.text(), false),
        };
    }
    match kind.as_str() {
        "html" | "text/html" if escaped || !atom03 => (element.text(), true),
        // Atom 1.0 wraps xhtml content in a <div> that is not part of it; Atom 0.3 does not.
        "xhtml" | "application/xhtml+xml" | "text/html" if atom03 => (element.inner_html(), true),
        "xhtml" | "application/xhtml+xml" => {
            let wrapper = element.child(&[Some(NS_XHTML), None], "div");
            (wrapper.unwrap_or(element).inner_html(), true)
        }
        "text" | "text/plain" => (element.text(), false),
        _ => (element.text(), escaped),
    }
}

/// Atom 0.3 `mode="base64"` content, when it is base64 of UTF-8 text.
fn decode_base64(text: &str) -> Option<String> {
    use base64::Engine;
    let compact: String = text.chars().filter(|ch| !ch.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()?;
    String::from_utf8(bytes).ok()
}

fn read_entry(
    entry: &Element,
    feed_language: &Option<String>,
    feed_rights: &Option<String>,
    base: Option<Url>,
) -> ItemFields {
    let text_of = |name: &str| entry.child(ATOM, name).and_then(Element::text_opt);
    let (headline, headline_is_html) = entry
        .child(ATOM, "title")
        .map(text_construct)
        .unwrap_or_default();

    let mut link = None;
    let mut associations = Vec::new();
    for element in entry.children_named(ATOM, "link") {
        let Some(href) = non_empty(element.attr("href")) else {
            continue;
        };
        let href = resolve(xml_base(base.as_ref(), element).as_ref(), href);
        match element.attr("rel").unwrap_or("alternate").trim() {
            "alternate" if link.is_none() => link = Some(href),
            "enclosure" => {
                let mimetype = non_empty(element.attr("type"));
                associations.push(Association {
                    kind: kind_of_media(mimetype.as_deref()),
                    uri: href,
                    mimetype,
                    caption: non_empty(element.attr("title")),
                    credit: None,
                });
            }
            _ => {}
        }
    }

    let content = entry.child(ATOM, "content");
    let body = match content {
        Some(content) if content.attr("src").is_some() => {
            link = link
                .or_else(|| non_empty(content.attr("src")).map(|src| resolve(base.as_ref(), src)));
            SourceBody::Text(String::new())
        }
        Some(content) => body_of(content),
        None => entry
            .child(ATOM, "summary")
            .map(body_of)
            .unwrap_or_default(),
    };
    let language = content
        .and_then(|content| content.attr_ns(NS_XML, "lang"))
        .or_else(|| entry.attr_ns(NS_XML, "lang"))
        .and_then(|lang| non_empty(Some(lang)))
        .or_else(|| feed_language.clone());

    let names = |tag: &str| -> Vec<String> {
        entry
            .children_named(ATOM, tag)
            .filter_map(|person| person.child(ATOM, "name").and_then(Element::text_opt))
            .collect()
    };
    let authors = names("author");
    let contributors: Vec<String> = authors
        .iter()
        .cloned()
        .chain(names("contributor"))
        .collect();

    let keywords = entry
        .children_named(ATOM, "category")
        .filter_map(|category| {
            non_empty(category.attr("label")).or_else(|| non_empty(category.attr("term")))
        })
        .collect();

    let date_of = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| text_of(name))
            .and_then(|date| parse_date(&date))
    };
    let updated = date_of(&["updated", "modified"]);
    let published = date_of(&["published", "issued", "created"]);
    // Relative references in the body resolve against the base in force where the body is.
    let body_base = content
        .or_else(|| entry.child(ATOM, "summary"))
        .map_or_else(|| base.clone(), |element| xml_base(base.as_ref(), element));
    ItemFields {
        guid: text_of("id").or_else(|| link.clone()),
        headline,
        headline_is_html,
        body,
        byline: (!authors.is_empty()).then(|| authors.join(", ")),
        contributors,
        versioncreated: updated.or(published),
        firstcreated: published,
        link,
        language,
        keywords,
        copyrightnotice: ["rights", "copyright"]
            .iter()
            .find_map(|name| entry.child(ATOM, name))
            .and_then(Element::text_opt)
            .or_else(|| feed_rights.clone()),
        associations,
        base_url: body_base,
    }
}

fn body_of(element: &Element) -> SourceBody {
    match text_construct(element) {
        (html, true) => SourceBody::Html(html),
        (text, false) => SourceBody::Text(text),
    }
}
