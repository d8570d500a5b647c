//! What the syndication formats share: the fields a format reader extracts from one entry, how
//! they become a draft item (including the id of last resort for entries without one), and how
//! relative links resolve (`xml:base`, then the document's own URL).

use crate::xml::{Element, NS_XML};
use chrono::{DateTime, Utc};
use url::Url;
use verbatim_item::{Association, Draft, Item, SourceBody, sha256_hex};

/// One entry as a format reader found it.
#[derive(Debug, Clone, Default)]
pub struct ItemFields {
    pub guid: Option<String>,
    pub headline: String,
    pub headline_is_html: bool,
    pub body: SourceBody,
    pub byline: Option<String>,
    pub contributors: Vec<String>,
    pub versioncreated: Option<DateTime<Utc>>,
    pub firstcreated: Option<DateTime<Utc>>,
    pub link: Option<String>,
    pub language: Option<String>,
    pub keywords: Vec<String>,
    pub copyrightnotice: Option<String>,
    pub associations: Vec<Association>,
    /// What relative references in the body resolve against (see [`Draft::base_url`]).
    pub base_url: Option<Url>,
}

/// An entry read, or skipped because it was broken (byte offset of the problem, reason).
#[derive(Debug)]
pub enum ItemOutcome {
    Read(Box<ItemFields>),
    /// Formats that carry the canonical fields directly (ninjs) build the draft themselves.
    Ready(Box<Draft>),
    Broken {
        offset: usize,
        reason: String,
    },
    Invalid {
        reason: String,
    },
}

pub fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_string)
}

/// The base URL in force inside `element`: its `xml:base` resolved against the parent's base.
pub fn xml_base(parent: Option<&Url>, element: &Element) -> Option<Url> {
    xml_base_from(parent, element.attr_ns(NS_XML, "base"))
}

/// The base URL in force inside an element whose `xml:base` attribute is `reference`.
pub fn xml_base_from(parent: Option<&Url>, reference: Option<&str>) -> Option<Url> {
    match reference.map(str::trim) {
        Some(reference) if !reference.is_empty() => match parent {
            Some(parent) => parent.join(reference).ok(),
            None => Url::parse(reference).ok(),
        }
        .or_else(|| parent.cloned()),
        _ => parent.cloned(),
    }
}

/// A link made absolute against `base`, when there is one; unparseable links stay as sent.
pub fn resolve(base: Option<&Url>, reference: String) -> String {
    match base {
        Some(base) => base
            .join(reference.trim())
            .map(String::from)
            .unwrap_or(reference),
        None => reference,
    }
}

impl ItemFields {
    pub fn into_draft(self) -> Draft {
        let guid = self
            .guid
            .map(|guid| match guid.trim() {
                trimmed if trimmed.len() == guid.len() => guid,
                trimmed => trimmed.to_string(),
            })
            .filter(|guid| !guid.is_empty())
            .unwrap_or_else(|| {
                // No id and no link: the story is identified by its text, so a changed text is a new
                // story. Nothing better can be known about such feeds.
                let body = match &self.body {
                    SourceBody::Html(text) | SourceBody::Text(text) => text.as_str(),
                };
                let key = format!("{}\u{0}{}", self.headline, body);
                format!("urn:verbatim:sha256:{}", sha256_hex(key.as_bytes()))
            });
        Draft {
            item: Item {
                guid,
                versioncreated: self.versioncreated,
                firstcreated: self.firstcreated,
                headline: self.headline,
                byline: self.byline,
                contributors: self.contributors,
                language: self.language,
                keywords: self.keywords,
                copyrightnotice: self.copyrightnotice,
                link: self.link,
                associations: self.associations,
                ..Item::default()
            },
            body: self.body,
            headline_is_html: self.headline_is_html,
            holds: Vec::new(),
            base_url: self.base_url.map(String::from),
        }
    }
}
