//! How a stored story is presented: the fields templates and the API use, the one way a time is
//! shown, text direction from the language, and the notice line.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use verbatim_store::{StoryRecord, VersionRecord};

use crate::SiteConfig;

/// The one way a time is shown to readers.
pub fn display_time(time: DateTime<Utc>) -> String {
    time.format("%-d %b %Y, %H:%M UTC").to_string()
}

pub fn iso_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `rtl` for languages written right to left, otherwise `auto` (the browser decides).
pub fn text_direction(language: Option<&str>) -> &'static str {
    let primary = language
        .unwrap_or_default()
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match primary.as_str() {
        "ar" | "he" | "iw" | "fa" | "ur" | "yi" | "ps" | "sd" | "ug" | "dv" | "ku" | "ckb" => "rtl",
        _ => "auto",
    }
}

/// The time a story is listed under: the agency's version time, else arrival.
pub fn story_time(version: &VersionRecord) -> DateTime<Utc> {
    version.item.versioncreated.unwrap_or(version.received_at)
}

/// The body outputs show, HTML and text: none for a link-only version (the publisher's rights
/// cover the headline and a link to the agency, not the text). Every output reads the body
/// through this.
pub fn shown_body(version: &VersionRecord) -> (&str, &str) {
    if version.link_only {
        ("", "")
    } else {
        (&version.item.body_html, &version.item.body_text)
    }
}

/// The story's page on this site.
pub fn story_path(id: &str) -> String {
    format!("/items/{id}")
}

/// Fills the notice template with the story's source, arrival time and original link.
pub fn notice_line(
    env: &minijinja::Environment<'static>,
    template: &str,
    story: &StoryRecord,
    version: &VersionRecord,
) -> String {
    let context = minijinja::context! {
        source => &story.source,
        received => display_time(version.received_at),
        link => version.item.link.as_deref().unwrap_or_default(),
    };
    env.render_str(template, context).unwrap_or_else(|error| {
        tracing::warn!(%error, "notice template failed; using the default");
        format!(
            "Published automatically from the {} feed; the text is unmodified.",
            story.source
        )
    })
}

/// A story as the templates see it.
/// Whether the agency marked this version as a correction (IPTC `sig:correction`, NITF
/// `correction`).
pub fn is_correction(item: &verbatim_item::Item) -> bool {
    item.signals
        .iter()
        .any(|signal| signal.eq_ignore_ascii_case("correction"))
}

#[derive(Debug, Serialize)]
pub struct StoryView {
    pub id: String,
    pub path: String,
    pub url: String,
    pub source: String,
    pub headline: String,
    pub subheadline: Option<String>,
    pub byline: Option<String>,
    pub located: Option<String>,
    pub language: String,
    pub dir: &'static str,
    pub time_iso: String,
    pub time_display: String,
    pub received_display: String,
    pub teaser: String,
    pub body_html: String,
    pub copyrightnotice: Option<String>,
    pub usageterms: Option<String>,
    pub link: Option<String>,
    pub notice: String,
    pub version_seq: i64,
    pub text_hash: String,
    /// The agency's own headline when an operator's headline is shown instead.
    pub agency_headline: Option<String>,
    pub headline_set_by: Option<String>,
    /// Headline and link only (rights).
    pub link_only: bool,
    pub sections: Vec<String>,
}

impl StoryView {
    pub fn new(
        site: &SiteConfig,
        story: &StoryRecord,
        version: &VersionRecord,
        notice: String,
    ) -> StoryView {
        let item = &version.item;
        let time = story_time(version);
        let (body_html, body_text) = shown_body(version);
        StoryView {
            link_only: version.link_only,
            sections: story.sections.clone(),
            id: story.id.clone(),
            path: story_path(&story.id),
            url: format!("{}{}", site.base_url, story_path(&story.id)),
            source: story.source.clone(),
            headline: story.headline_override.as_ref().map_or_else(
                || item.headline.clone(),
                |headline| headline.headline.clone(),
            ),
            agency_headline: story
                .headline_override
                .as_ref()
                .map(|_| item.headline.clone()),
            headline_set_by: story
                .headline_override
                .as_ref()
                .map(|headline| headline.set_by.clone()),
            text_hash: item.text_hash.clone().unwrap_or_default(),
            subheadline: item.subheadline.clone(),
            byline: item.byline.clone(),
            located: item.located.clone(),
            language: item.language.clone().unwrap_or_default(),
            dir: text_direction(item.language.as_deref()),
            time_iso: iso_time(time),
            time_display: display_time(time),
            received_display: display_time(version.received_at),
            teaser: teaser(body_text),
            body_html: body_html.to_string(),
            copyrightnotice: item.copyrightnotice.clone(),
            usageterms: item.usageterms.clone(),
            link: item.link.clone(),
            notice,
            version_seq: version.seq,
        }
    }
}

/// The first paragraph, cut at a word boundary near 240 characters (lists only; article pages
/// always show the whole text).
fn teaser(body_text: &str) -> String {
    let first = body_text
        .split('\n')
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default();
    if first.chars().count() <= 240 {
        return first.to_string();
    }
    let cut: String = first.chars().take(240).collect();
    let at = cut.rfind(' ').unwrap_or(cut.len());
    format!("{}…", &cut[..at])
}

/// The API's ITEM: the canonical item plus Verbatim's id, page URL and provenance.
/// The item as strict IPTC ninjs 2.1 (`?format=ninjs`): Verbatim's id and page URL travel as
/// `altids`, since ninjs has no other place for them.
pub fn item_ninjs(site: &SiteConfig, story: &StoryRecord, version: &VersionRecord) -> Value {
    let mut value = verbatim_item::ninjs::to_ninjs(&version.item);
    if let Value::Object(map) = &mut value {
        if version.link_only {
            map.remove("body_html");
            map.remove("body_text");
            map.remove("bodies");
        }
        map.insert(
            "altids".into(),
            json!([
                { "role": "verbatim-id", "value": story.id },
                { "role": "url", "value": format!("{}{}", site.base_url, story_path(&story.id)) },
            ]),
        );
    }
    value
}

pub fn item_json(site: &SiteConfig, story: &StoryRecord, version: &VersionRecord) -> Value {
    let mut value = serde_json::to_value(&version.item).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut value {
        map.insert("id".into(), json!(story.id));
        map.insert(
            "url".into(),
            json!(format!("{}{}", site.base_url, story_path(&story.id))),
        );
        map.insert("received_at".into(), json!(iso_time(version.received_at)));
        if version.link_only {
            map.insert("body_html".into(), Value::Null);
            map.insert("body_text".into(), Value::Null);
            map.insert("link_only".into(), json!(true));
        }
        if !story.sections.is_empty() {
            map.insert("sections".into(), json!(story.sections));
        }
        let record: Option<Value> = version
            .provenance
            .as_deref()
            .and_then(|record| serde_json::from_str(record).ok());
        map.insert(
            "provenance".into(),
            json!({
                "source": story.source,
                "raw_sha256": version.item.raw,
                "received_at": iso_time(version.received_at),
                "text_hash": version.item.text_hash,
                "version_seq": version.seq,
                "record": record,
                "signature": version.signature,
                "keys_url": format!("{}{}", site.base_url, crate::KEYS_PATH),
                "page": format!("{}{}/provenance", site.base_url, story_path(&story.id)),
            }),
        );
        if let Some(headline) = &story.headline_override {
            map.insert("agency_headline".into(), json!(version.item.headline));
            map.insert("headline".into(), json!(headline.headline));
            map.insert(
                "headline_override".into(),
                json!({
                    "headline": headline.headline,
                    "set_by": headline.set_by,
                    "set_at": iso_time(headline.set_at),
                }),
            );
        }
        for key in [
            "headline",
            "byline",
            "located",
            "link",
            "body_text",
            "body_html",
            "version",
            "versioncreated",
        ] {
            map.entry(key).or_insert(Value::Null);
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions() {
        assert_eq!(text_direction(Some("ar")), "rtl");
        assert_eq!(text_direction(Some("he-IL")), "rtl");
        assert_eq!(text_direction(Some("en")), "auto");
        assert_eq!(text_direction(None), "auto");
    }

    #[test]
    fn teasers_cut_at_words() {
        let long = "word ".repeat(100);
        let cut = teaser(&long);
        assert!(cut.ends_with('…'));
        assert!(cut.chars().count() <= 241);
    }
}
