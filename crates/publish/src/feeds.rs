//! Out-feeds: Atom 1.0, RSS 2.0 and JSON Feed 1.1 of the newest published stories. Each entry
//! carries the sanitized body, so a feed reader shows the same visible text as the page, and the
//! agency's signals (update, correction). Stories taken down are announced, so downstream systems
//! can remove them: Atom tombstones (RFC 6721), and a `deleted` list in RSS and JSON Feed.

use crate::AppState;
use crate::http::{internal_error, with_etag};
use crate::view::{iso_time, story_path, story_time};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use quick_xml::escape::escape;
use serde_json::json;
use std::fmt::Write;
use verbatim_store::{GoneRecord, ListQuery, StoryRecord, StoryState, VersionRecord};

/// The namespace of Verbatim's RSS extension elements (`deleted`).
const VERBATIM_NS: &str = "urn:verbatim:feed-extensions:1";
/// The category scheme of the agency's signals.
const SIGNAL_SCHEME: &str = "urn:verbatim:signal";

/// Which stories a feed carries: all, or one source's.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub source: Option<String>,
    pub section: Option<String>,
}

impl Scope {
    /// The feed's own path without its extension (`/feeds/all`, `/feeds/sources/NAME`,
    /// `/feeds/sections/NAME`).
    fn path(&self) -> String {
        match (&self.source, &self.section) {
            (Some(source), _) => format!("/feeds/sources/{source}"),
            (None, Some(section)) => format!("/feeds/sections/{section}"),
            (None, None) => "/feeds/all".to_string(),
        }
    }

    fn title(&self, site: &str) -> String {
        match (&self.source, &self.section) {
            (Some(name), _) | (None, Some(name)) => format!("{site}: {name}"),
            (None, None) => site.to_string(),
        }
    }
}

/// The newest published stories and the newest take-downs.
async fn stories_and_take_downs(
    state: &AppState,
    scope: &Scope,
) -> Result<(Vec<StoryRecord>, Vec<GoneRecord>), verbatim_store::StoreError> {
    let mut gone = taken_down(state).await?;
    if let Some(source) = &scope.source {
        gone.retain(|taken| taken.source == *source);
    }
    Ok((newest(state, scope).await?, gone))
}

/// The feed's own update time: its newest story or take-down.
fn last_update(stories: &[StoryRecord], gone: &[GoneRecord]) -> chrono::DateTime<chrono::Utc> {
    stories
        .iter()
        .map(|story| story.changed_at)
        .chain(gone.iter().map(|taken| taken.changed_at))
        .max()
        .unwrap_or_else(chrono::Utc::now)
}

async fn newest(
    state: &AppState,
    scope: &Scope,
) -> Result<Vec<StoryRecord>, verbatim_store::StoreError> {
    let page = state
        .store
        .list(&ListQuery {
            limit: state.site.feed_size,
            source: scope.source.clone(),
            section: scope.section.clone(),
            ..ListQuery::default()
        })
        .await?;
    Ok(page.stories)
}

/// The newest take-downs, as many as the feed has entries.
async fn taken_down(state: &AppState) -> Result<Vec<GoneRecord>, verbatim_store::StoreError> {
    state.store.gone(None, state.site.feed_size).await
}

fn gone_status(gone: &GoneRecord) -> &'static str {
    match gone.state {
        StoryState::Withheld => "withheld",
        _ => "canceled",
    }
}

fn gone_comment(gone: &GoneRecord) -> &'static str {
    match gone.state {
        StoryState::Withheld => "Withheld by the agency.",
        _ => "Withdrawn (killed) by the agency.",
    }
}

fn published(stories: &[StoryRecord]) -> impl Iterator<Item = (&StoryRecord, &VersionRecord)> {
    stories
        .iter()
        .filter_map(|story| story.current.as_ref().map(|version| (story, version)))
}

/// The id an entry keeps for ever, whatever address the site moves to.
fn entry_id(id: &str) -> String {
    format!("urn:verbatim:item:{id}")
}

/// `/feeds/sources/{NAME}.atom|.rss|.json`: one source's stories and take-downs.
pub async fn source_feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Response {
    let Some((name, extension)) = file.rsplit_once('.') else {
        return crate::site::not_found_page(&state, &headers);
    };
    match state.store.source(name).await {
        Ok(Some(_)) => {}
        Ok(None) => return crate::site::not_found_page(&state, &headers),
        Err(error) => return internal_error(error),
    }
    let scope = Scope {
        source: Some(name.to_string()),
        section: None,
    };
    feed_of(&state, &headers, extension, &scope).await
}

/// The feed of a scope in the format its file extension names.
async fn feed_of(
    state: &AppState,
    headers: &HeaderMap,
    extension: &str,
    scope: &Scope,
) -> Response {
    match extension {
        "atom" => atom_of(state, headers, scope).await,
        "rss" => rss_of(state, headers, scope).await,
        "json" => json_feed_of(state, headers, scope).await,
        _ => crate::site::not_found_page(state, headers),
    }
}

/// `/feeds/sections/{name}.atom|rss|json`. Take-downs are not filtered by section (a
/// tombstone for an entry the reader never had is ignored), so a kill always reaches it.
pub async fn section_feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Response {
    let Some((name, extension)) = file.rsplit_once('.') else {
        return crate::site::not_found_page(&state, &headers);
    };
    match state.store.sections().await {
        Ok(sections) if sections.iter().any(|(section, _)| section == name) => {}
        Ok(_) => return crate::site::not_found_page(&state, &headers),
        Err(error) => return internal_error(error),
    }
    let scope = Scope {
        source: None,
        section: Some(name.to_string()),
    };
    feed_of(&state, &headers, extension, &scope).await
}

pub async fn atom(State(state): State<AppState>, headers: HeaderMap) -> Response {
    atom_of(&state, &headers, &Scope::default()).await
}

async fn atom_of(state: &AppState, headers: &HeaderMap, scope: &Scope) -> Response {
    let (stories, gone) = match stories_and_take_downs(state, scope).await {
        Ok(both) => both,
        Err(error) => return internal_error(error),
    };
    let base = &state.site.base_url;
    let updated = last_update(&stories, &gone);
    let mut xml = String::with_capacity(16 * 1024);
    xml.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xmlns:at=\"http://purl.org/atompub/tombstones/1.0\">\n");
    let _ = writeln!(xml, "<id>{}/</id>", escape(base.as_str()));
    let _ = writeln!(
        xml,
        "<title>{}</title>",
        escape(scope.title(&state.site.title))
    );
    let _ = writeln!(xml, "<updated>{}</updated>", iso_time(updated));
    let _ = writeln!(
        xml,
        "<link rel=\"self\" href=\"{}{}.atom\"/>",
        escape(base.as_str()),
        escape(scope.path())
    );
    let _ = writeln!(
        xml,
        "<link rel=\"alternate\" href=\"{}/\"/>",
        escape(base.as_str())
    );
    let _ = writeln!(xml, "<generator>Verbatim</generator>");
    for (story, version) in published(&stories) {
        let item = &version.item;
        xml.push_str("<entry");
        if let Some(language) = &item.language {
            let _ = write!(xml, " xml:lang=\"{}\"", escape(language.as_str()));
        }
        xml.push_str(">\n");
        let _ = writeln!(xml, "<id>{}</id>", entry_id(&story.id));
        let _ = writeln!(
            xml,
            "<title type=\"text\">{}</title>",
            escape(item.headline.as_str())
        );
        let _ = writeln!(
            xml,
            "<updated>{}</updated>",
            iso_time(story.changed_at.max(story_time(version)))
        );
        if let Some(first) = item.firstcreated {
            let _ = writeln!(xml, "<published>{}</published>", iso_time(first));
        }
        let author = item.byline.as_deref().unwrap_or(story.source.as_str());
        let _ = writeln!(xml, "<author><name>{}</name></author>", escape(author));
        let _ = writeln!(
            xml,
            "<link rel=\"alternate\" href=\"{}{}\"/>",
            escape(base.as_str()),
            story_path(&story.id)
        );
        if let Some(link) = &item.link {
            let _ = writeln!(
                xml,
                "<link rel=\"via\" href=\"{}\"/>",
                escape(link.as_str())
            );
        }
        for keyword in &item.keywords {
            let _ = writeln!(xml, "<category term=\"{}\"/>", escape(keyword.as_str()));
        }
        for signal in &item.signals {
            let _ = writeln!(
                xml,
                "<category scheme=\"{SIGNAL_SCHEME}\" term=\"{}\"/>",
                escape(signal.as_str())
            );
        }
        if let Some(rights) = &item.copyrightnotice {
            let _ = writeln!(xml, "<rights>{}</rights>", escape(rights.as_str()));
        }
        let _ = writeln!(
            xml,
            "<content type=\"html\">{}</content>",
            escape(crate::view::shown_body(version).0)
        );
        xml.push_str("</entry>\n");
    }
    for taken in &gone {
        let _ = writeln!(
            xml,
            "<at:deleted-entry ref=\"{}\" when=\"{}\"><at:comment>{}</at:comment></at:deleted-entry>",
            entry_id(&taken.id),
            iso_time(taken.changed_at),
            gone_comment(taken)
        );
    }
    xml.push_str("</feed>\n");
    with_etag(
        headers,
        StatusCode::OK,
        "application/atom+xml; charset=utf-8",
        xml,
    )
}

pub async fn rss(State(state): State<AppState>, headers: HeaderMap) -> Response {
    rss_of(&state, &headers, &Scope::default()).await
}

async fn rss_of(state: &AppState, headers: &HeaderMap, scope: &Scope) -> Response {
    let (stories, gone) = match stories_and_take_downs(state, scope).await {
        Ok(both) => both,
        Err(error) => return internal_error(error),
    };
    let base = &state.site.base_url;
    let updated = last_update(&stories, &gone);
    let mut xml = String::with_capacity(16 * 1024);
    let _ = write!(
        xml,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:atom=\"http://www.w3.org/2005/Atom\" xmlns:verbatim=\"{VERBATIM_NS}\">\n<channel>\n"
    );
    let _ = writeln!(
        xml,
        "<title>{}</title>",
        escape(scope.title(&state.site.title))
    );
    let _ = writeln!(xml, "<link>{}/</link>", escape(base.as_str()));
    let _ = writeln!(
        xml,
        "<description>{}</description>",
        escape(scope.title(&state.site.title))
    );
    let _ = writeln!(
        xml,
        "<atom:link rel=\"self\" type=\"application/rss+xml\" href=\"{}{}.rss\"/>",
        escape(base.as_str()),
        escape(scope.path())
    );
    let _ = writeln!(
        xml,
        "<lastBuildDate>{}</lastBuildDate>",
        updated.to_rfc2822()
    );
    for (story, version) in published(&stories) {
        let item = &version.item;
        xml.push_str("<item>\n");
        let _ = writeln!(xml, "<title>{}</title>", escape(item.headline.as_str()));
        let _ = writeln!(
            xml,
            "<link>{}{}</link>",
            escape(base.as_str()),
            story_path(&story.id)
        );
        let _ = writeln!(
            xml,
            "<guid isPermaLink=\"false\">{}</guid>",
            entry_id(&story.id)
        );
        let _ = writeln!(
            xml,
            "<pubDate>{}</pubDate>",
            story_time(version).to_rfc2822()
        );
        if let Some(byline) = &item.byline {
            let _ = writeln!(xml, "<dc:creator>{}</dc:creator>", escape(byline.as_str()));
        }
        for keyword in &item.keywords {
            let _ = writeln!(xml, "<category>{}</category>", escape(keyword.as_str()));
        }
        for signal in &item.signals {
            let _ = writeln!(
                xml,
                "<category domain=\"{SIGNAL_SCHEME}\">{}</category>",
                escape(signal.as_str())
            );
        }
        if let Some(rights) = &item.copyrightnotice {
            let _ = writeln!(xml, "<dc:rights>{}</dc:rights>", escape(rights.as_str()));
        }
        let _ = writeln!(
            xml,
            "<description>{}</description>",
            escape(crate::view::shown_body(version).0)
        );
        xml.push_str("</item>\n");
    }
    for taken in &gone {
        let _ = writeln!(
            xml,
            "<verbatim:deleted ref=\"{}\" when=\"{}\" status=\"{}\"/>",
            entry_id(&taken.id),
            iso_time(taken.changed_at),
            gone_status(taken)
        );
    }
    xml.push_str("</channel>\n</rss>\n");
    with_etag(
        headers,
        StatusCode::OK,
        "application/rss+xml; charset=utf-8",
        xml,
    )
}

pub async fn json_feed(State(state): State<AppState>, headers: HeaderMap) -> Response {
    json_feed_of(&state, &headers, &Scope::default()).await
}

async fn json_feed_of(state: &AppState, headers: &HeaderMap, scope: &Scope) -> Response {
    let (stories, gone) = match stories_and_take_downs(state, scope).await {
        Ok(both) => both,
        Err(error) => return internal_error(error),
    };
    let base = &state.site.base_url;
    let items: Vec<serde_json::Value> = published(&stories)
        .map(|(story, version)| {
            let item = &version.item;
            let mut entry = json!({
                "id": entry_id(&story.id),
                "url": format!("{base}{}", story_path(&story.id)),
                "title": item.headline,
                "content_html": crate::view::shown_body(version).0,
                "date_published": iso_time(item.firstcreated.unwrap_or_else(|| story_time(version))),
                "date_modified": iso_time(story_time(version)),
                "tags": item.keywords,
            });
            if let Some(map) = entry.as_object_mut() {
                if let Some(byline) = &item.byline {
                    map.insert("authors".into(), json!([{ "name": byline }]));
                }
                if let Some(language) = &item.language {
                    map.insert("language".into(), json!(language));
                }
                if let Some(link) = &item.link {
                    map.insert("external_url".into(), json!(link));
                }
                if !item.signals.is_empty() {
                    map.insert("_verbatim".into(), json!({ "signals": item.signals }));
                }
            }
            entry
        })
        .collect();
    let feed = json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": scope.title(&state.site.title),
        "home_page_url": format!("{base}/"),
        "feed_url": format!("{base}{}.json", scope.path()),
        "items": items,
        "_verbatim": {
            "about": "Stories taken down by the agency: remove them.",
            "deleted": gone.iter().map(|taken| json!({
                "id": entry_id(&taken.id),
                "status": gone_status(taken),
                "when": iso_time(taken.changed_at),
            })).collect::<Vec<_>>(),
        },
    });
    with_etag(
        headers,
        StatusCode::OK,
        "application/feed+json",
        feed.to_string(),
    )
}
