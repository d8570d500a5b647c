//! JSON Feed 1.0 and 1.1: items with `content_html` / `content_text`, authors, tags, dates,
//! language and attachments. Each item is read on its own, so one item of the wrong shape is
//! reported and skipped while the others go through.

use crate::common::{ItemFields, ItemOutcome, non_empty};
use crate::dates::parse_date;
use crate::rss::kind_of_media;
use crate::{FeedMeta, FeedText};
use serde_json::Value;
use verbatim_item::{Association, SourceBody};

pub fn is_json_feed(document: &Value) -> bool {
    document
        .get("version")
        .and_then(Value::as_str)
        .is_some_and(|version| version.contains("jsonfeed.org/version/"))
}

/// The feed's own title, description, home page and language.
pub fn feed_meta(document: &Value) -> FeedMeta {
    let text = |name: &str| {
        document
            .get(name)
            .and_then(Value::as_str)
            .and_then(|text| non_empty(Some(text)))
    };
    FeedMeta {
        title: text("title").map(FeedText::text),
        subtitle: text("description").map(FeedText::text),
        link: text("home_page_url"),
        language: text("language"),
        rights: None,
        base_url: None,
        // JSON Feed 1.1: `hubs` is a list of `{type, url}`; only WebSub hubs are ours.
        hub: document
            .get("hubs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|hub| {
                hub.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|kind| kind.eq_ignore_ascii_case("websub"))
            })
            .find_map(|hub| hub.get("url").and_then(Value::as_str))
            .and_then(|url| non_empty(Some(url))),
        self_link: text("feed_url"),
    }
}

pub fn read(document: &Value) -> Vec<ItemOutcome> {
    let feed_language = document
        .get("language")
        .and_then(Value::as_str)
        .map(str::to_string);
    let feed_authors = authors(document);
    let Some(items) = document.get("items").and_then(Value::as_array) else {
        return vec![ItemOutcome::Invalid {
            reason: "the feed has no \"items\" array".into(),
        }];
    };
    items
        .iter()
        .map(
            |item| match read_item(item, &feed_language, &feed_authors) {
                Ok(fields) => ItemOutcome::Read(Box::new(fields)),
                Err(reason) => ItemOutcome::Invalid { reason },
            },
        )
        .collect()
}

fn string_field(item: &Value, name: &str) -> Result<Option<String>, String> {
    match item.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(format!(
            "\"{name}\" must be a string, not {}",
            json_type(other)
        )),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn authors(value: &Value) -> Vec<String> {
    let list = value
        .get("authors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let legacy = value.get("author").cloned().into_iter();
    list.into_iter()
        .chain(legacy)
        .filter_map(|author| {
            author
                .get("name")
                .and_then(Value::as_str)
                .and_then(|name| non_empty(Some(name)))
        })
        .collect()
}

fn read_item(
    item: &Value,
    feed_language: &Option<String>,
    feed_authors: &[String],
) -> Result<ItemFields, String> {
    if !item.is_object() {
        return Err(format!(
            "an item must be an object, not {}",
            json_type(item)
        ));
    }
    // The spec says `id` is a string; numbers are common enough to accept as written.
    let guid = match item.get("id") {
        Some(Value::String(id)) => non_empty(Some(id)),
        Some(Value::Number(number)) => Some(number.to_string()),
        None | Some(Value::Null) => None,
        Some(other) => return Err(format!("\"id\" must be a string, not {}", json_type(other))),
    };
    let url = string_field(item, "url")?;
    let body = match (
        string_field(item, "content_html")?,
        string_field(item, "content_text")?,
    ) {
        (Some(html), _) if !html.trim().is_empty() => SourceBody::Html(html),
        (_, Some(text)) => SourceBody::Text(text),
        _ => SourceBody::Text(string_field(item, "summary")?.unwrap_or_default()),
    };
    let mut authors = authors(item);
    if authors.is_empty() {
        authors = feed_authors.to_vec();
    }
    let keywords = item
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(Value::as_str)
                .filter_map(|tag| non_empty(Some(tag)))
                .collect()
        })
        .unwrap_or_default();
    let mut associations = Vec::new();
    if let Some(image) = string_field(item, "image")? {
        associations.push(Association {
            kind: "picture".into(),
            uri: image,
            ..Association::default()
        });
    }
    for attachment in item
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(uri) = attachment
            .get("url")
            .and_then(Value::as_str)
            .and_then(|url| non_empty(Some(url)))
        else {
            continue;
        };
        let mimetype = attachment
            .get("mime_type")
            .and_then(Value::as_str)
            .and_then(|mime| non_empty(Some(mime)));
        associations.push(Association {
            kind: kind_of_media(mimetype.as_deref()),
            uri,
            mimetype,
            caption: attachment
                .get("title")
                .and_then(Value::as_str)
                .and_then(|title| non_empty(Some(title))),
            credit: None,
        });
    }
    let published = string_field(item, "date_published")?.and_then(|date| parse_date(&date));
    let modified = string_field(item, "date_modified")?.and_then(|date| parse_date(&date));
    Ok(ItemFields {
        guid: guid.or_else(|| url.clone()),
        headline: string_field(item, "title")?.unwrap_or_default(),
        headline_is_html: false,
        body,
        byline: (!authors.is_empty()).then(|| authors.join(", ")),
        contributors: authors,
        versioncreated: modified.or(published),
        firstcreated: published,
        link: url.or(string_field(item, "external_url")?),
        language: string_field(item, "language")?.or_else(|| feed_language.clone()),
        keywords,
        copyrightnotice: None,
        associations,
        base_url: None,
    })
}
