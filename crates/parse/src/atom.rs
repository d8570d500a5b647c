//! Atom 1.0 (RFC 4287): feeds and single-entry documents; text constructs of type text, html and
//! xhtml; authors, categories, rights, `xml:lang` and enclosure links.

use crate::FeedMeta;
use crate::common::{ItemFields, ItemOutcome, non_empty};
use crate::dates::parse_date;
use crate::rss::kind_of_media;
use crate::xml::{Element, NS_ATOM, NS_XHTML, NS_XML};
use verbatim_item::{Association, SourceBody};

/// Atom elements are in the Atom namespace; documents that forget to declare it are read too.
const ATOM: &[Option<&str>] = &[Some(NS_ATOM), None];

/// The feed's own title, subtitle, alternate link, language and rights.
pub fn feed_meta(root: &Element) -> FeedMeta {
    if root.name == "entry" {
        return FeedMeta::default();
    }
    let construct = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| root.child(ATOM, name))
            .map(|element| text_construct(element).0)
            .filter(|text| !text.trim().is_empty())
    };
    FeedMeta {
        title: construct(&["title"]),
        // `tagline`, `copyright` and `info` are the Atom 0.3 names.
        subtitle: construct(&["subtitle", "tagline", "info"]),
        link: alternate_link(root),
        language: root
            .attr_ns(NS_XML, "lang")
            .and_then(|lang| non_empty(Some(lang))),
        rights: construct(&["rights", "copyright"]),
    }
}

pub fn read(root: &Element) -> Vec<ItemOutcome> {
    let feed_language = root
        .attr_ns(NS_XML, "lang")
        .and_then(|lang| non_empty(Some(lang)));
    let feed_rights = root.child(ATOM, "rights").and_then(Element::text_opt);
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
            ItemOutcome::Read(Box::new(read_entry(entry, &feed_language, &feed_rights)))
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

/// An Atom text construct as (content, is_markup).
fn text_construct(element: &Element) -> (String, bool) {
    let kind = element
        .attr("type")
        .unwrap_or("text")
        .trim()
        .to_ascii_lowercase();
    match kind.as_str() {
        "html" | "text/html" => (element.text(), true),
        "xhtml" | "application/xhtml+xml" => {
            let wrapper = element.child(&[Some(NS_XHTML), None], "div");
            (wrapper.unwrap_or(element).inner_html(), true)
        }
        _ => (element.text(), false),
    }
}

fn read_entry(
    entry: &Element,
    feed_language: &Option<String>,
    feed_rights: &Option<String>,
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
            link = link.or_else(|| non_empty(content.attr("src")));
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

    let updated = text_of("updated").and_then(|date| parse_date(&date));
    let published = text_of("published").and_then(|date| parse_date(&date));
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
        copyrightnotice: entry
            .child(ATOM, "rights")
            .and_then(Element::text_opt)
            .or_else(|| feed_rights.clone()),
        associations,
    }
}

fn body_of(element: &Element) -> SourceBody {
    match text_construct(element) {
        (html, true) => SourceBody::Html(html),
        (text, false) => SourceBody::Text(text),
    }
}
