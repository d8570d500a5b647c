//! IPTC ninjs 1.x (1.0–1.6), 2.x (2.0–2.2) and 3.x (3.0–3.1, camelCase names): one item, an array
//! of items, or newline-delimited items. Key names are compared case-insensitively, which reads
//! 3.x's `versionCreated` as 2.x's `versioncreated`. Each item is read on its own, so an item of
//! the wrong shape is reported and skipped while the others go through.

use crate::dates::parse_date;
use crate::rss::kind_of_media;
use serde_json::{Map, Value};
use verbatim_item::{Association, Draft, Item, Pubstatus, SourceBody, Subject};

/// True when a JSON value looks like a ninjs item (or an array of them).
pub fn looks_like_ninjs(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.first().is_some_and(looks_like_ninjs),
        Value::Object(map) => {
            let schema_says = map.iter().any(|(key, value)| {
                key.eq_ignore_ascii_case("$schema")
                    && value
                        .as_str()
                        .is_some_and(|schema| schema.contains("ninjs"))
            });
            // `uri` is the one property every ninjs version requires.
            schema_says || map.keys().any(|key| key.eq_ignore_ascii_case("uri"))
        }
        _ => false,
    }
}

/// Lower-cases every key, recursively: ninjs 3.x camelCase becomes the 1.x/2.x names.
fn lowercase_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key.to_ascii_lowercase(), lowercase_keys(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(lowercase_keys).collect()),
        other => other,
    }
}

/// Item types that are not stories: stored, never published.
const NOT_STORIES: &[&str] = &["event", "planning", "component"];

/// Reads one ninjs item.
pub fn read_item(value: Value) -> Result<Draft, String> {
    let value = lowercase_keys(value);
    let Value::Object(map) = value else {
        return Err("a ninjs item must be a JSON object".to_string());
    };
    let text = |name: &str| -> Result<Option<String>, String> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            Some(_) => Err(format!("\"{name}\" must be a string")),
        }
    };
    let guid = text("uri")?
        .or(text("guid")?)
        .filter(|uri| !uri.trim().is_empty())
        .map(|uri| verbatim_item::ninjs::guid_from_uri(&uri))
        .ok_or_else(|| "the item has no \"uri\"".to_string())?;
    let mut holds = Vec::new();

    // ninjs allows any text as a version; only numbers can order versions, so other text is
    // ignored and the order falls back to `versioncreated`, then arrival.
    let version = text("version")?.and_then(|version| version.trim().parse::<u64>().ok());
    let versioncreated = text("versioncreated")?.and_then(|raw| parse_date(&raw));
    let firstcreated = text("firstcreated")?.and_then(|raw| parse_date(&raw));
    // An embargo that cannot be read must not be ignored: the item waits for a person.
    let embargoed = match text("embargoed")? {
        Some(raw) => {
            let parsed = parse_date(&raw);
            if parsed.is_none() {
                holds.push(format!("embargo {raw:?} is not a time Verbatim can read"));
            }
            parsed
        }
        None => None,
    };
    let pubstatus =
        text("pubstatus")?.map_or(Pubstatus::Usable, |word| Pubstatus::from_agency_word(&word));

    let (headline, subheadline) = headlines(&map, &text("headline")?);
    let body = body(&map)?;
    let kind = text("type")?.unwrap_or_else(|| "text".to_string());
    if NOT_STORIES.contains(&kind.as_str()) {
        holds.push(format!("a ninjs {kind} item is not a story"));
    }

    let mut keywords: Vec<String> = map
        .get("keywords")
        .and_then(Value::as_array)
        .map(|words| {
            words
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    keywords.retain(|word| !word.trim().is_empty());

    let subjects = map
        .get("subjects")
        .or_else(|| map.get("subject"))
        .and_then(Value::as_array)
        .map(|subjects| {
            subjects
                .iter()
                .filter_map(|subject| {
                    let name = subject.get("name").and_then(Value::as_str)?.to_string();
                    let code = ["uri", "code", "literal"]
                        .iter()
                        .find_map(|key| subject.get(*key).and_then(Value::as_str))
                        .map(|code| match subject.get("scheme").and_then(Value::as_str) {
                            Some(scheme) if !code.contains(':') => format!("{scheme}{code}"),
                            _ => code.to_string(),
                        });
                    Some(Subject { code, name })
                })
                .collect()
        })
        .unwrap_or_default();

    Ok(Draft {
        item: Item {
            guid,
            version,
            versioncreated,
            firstcreated,
            pubstatus,
            embargoed,
            headline,
            subheadline,
            byline: text("byline")?.or(text("by")?),
            located: text("located")?,
            language: text("language")?,
            subjects,
            keywords,
            urgency: map
                .get("urgency")
                .and_then(Value::as_u64)
                .and_then(|urgency| u8::try_from(urgency).ok()),
            ednote: text("ednote")?,
            copyrightnotice: text("copyrightnotice")?.filter(|notice| !notice.trim().is_empty()),
            usageterms: text("usageterms")?.filter(|terms| !terms.trim().is_empty()),
            associations: associations(map.get("associations")),
            ..Item::default()
        },
        body,
        headline_is_html: false,
        holds,
        base_url: None,
    })
}

/// The main headline and, if there is one, a sub-headline.
fn headlines(map: &Map<String, Value>, single: &Option<String>) -> (String, Option<String>) {
    let list: Vec<(&str, &str)> = map
        .get("headlines")
        .and_then(Value::as_array)
        .map(|headlines| {
            headlines
                .iter()
                .filter_map(|headline| {
                    let value = headline.get("value").and_then(Value::as_str)?;
                    Some((
                        headline.get("role").and_then(Value::as_str).unwrap_or(""),
                        value,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let main = single
        .clone()
        .or_else(|| {
            list.iter()
                .find(|(role, _)| *role == "main")
                .map(|(_, value)| value.to_string())
        })
        .or_else(|| list.first().map(|(_, value)| value.to_string()))
        .unwrap_or_default();
    let sub = list
        .iter()
        .find(|(role, _)| matches!(*role, "sub" | "subheadline" | "subtitle" | "secondary"))
        .map(|(_, value)| value.to_string());
    (main, sub)
}

/// The body: 1.x `body_html` / `body_text`, 2.x/3.x `bodies[]`, preferring markup.
fn body(map: &Map<String, Value>) -> Result<SourceBody, String> {
    if let Some(html) = map.get("body_html").and_then(Value::as_str) {
        return Ok(SourceBody::Html(html.to_string()));
    }
    if let Some(bodies) = map.get("bodies").and_then(Value::as_array) {
        let entries: Vec<(String, String)> = bodies
            .iter()
            .filter_map(|body| {
                let value = body.get("value").and_then(Value::as_str)?.to_string();
                let content_type = body
                    .get("contenttype")
                    .and_then(Value::as_str)
                    .unwrap_or("text/plain")
                    .to_ascii_lowercase();
                Some((content_type, value))
            })
            .collect();
        if let Some((_, html)) = entries
            .iter()
            .find(|(content_type, _)| content_type.contains("html"))
        {
            return Ok(SourceBody::Html(html.clone()));
        }
        if let Some((_, text)) = entries.first() {
            return Ok(SourceBody::Text(text.clone()));
        }
    }
    match map.get("body_text") {
        Some(Value::String(text)) => Ok(SourceBody::Text(text.clone())),
        None | Some(Value::Null) => Ok(SourceBody::Text(String::new())),
        Some(_) => Err("\"body_text\" must be a string".to_string()),
    }
}

/// Associated media: an object keyed by name (1.x) or an array (2.x/3.x) of ninjs objects.
fn associations(value: Option<&Value>) -> Vec<Association> {
    let objects: Vec<&Value> = match value {
        Some(Value::Object(map)) => map.values().collect(),
        Some(Value::Array(items)) => items.iter().collect(),
        _ => Vec::new(),
    };
    objects
        .into_iter()
        .filter_map(|object| {
            let string = |name: &str| object.get(name).and_then(Value::as_str).map(str::to_string);
            let rendition = object
                .get("renditions")
                .and_then(|renditions| match renditions {
                    Value::Object(map) => map.values().next().cloned(),
                    Value::Array(items) => items.first().cloned(),
                    _ => None,
                });
            let uri = rendition
                .as_ref()
                .and_then(|rendition| {
                    rendition
                        .get("href")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .or_else(|| string("uri"))?;
            // 1.x says `mimetype`, 2.x and 3.x `contenttype`.
            let mimetype = string("mimetype")
                .or_else(|| string("contenttype"))
                .or_else(|| {
                    rendition.as_ref().and_then(|rendition| {
                        ["mimetype", "contenttype"].iter().find_map(|key| {
                            rendition
                                .get(*key)
                                .and_then(Value::as_str)
                                .map(str::to_string)
                        })
                    })
                });
            let caption = string("headline")
                .or_else(|| {
                    object
                        .get("headlines")
                        .and_then(Value::as_array)
                        .and_then(|headlines| headlines.first())
                        .and_then(|headline| headline.get("value").and_then(Value::as_str))
                        .map(str::to_string)
                })
                .or_else(|| string("description_text"));
            Some(Association {
                kind: string("type").unwrap_or_else(|| kind_of_media(mimetype.as_deref())),
                uri,
                mimetype,
                caption,
                credit: string("byline")
                    .or_else(|| string("by"))
                    .or_else(|| string("copyrightnotice")),
            })
        })
        .collect()
}
