//! What search engines and social sites read: schema.org `NewsArticle` JSON-LD and OpenGraph
//! tags for article pages, `robots.txt`, a sitemap index, a Google News sitemap (the last 48
//! hours) and sitemaps of every published story. Built from committed state, like everything
//! else here: a killed or embargoed story is in none of them.

use crate::AppState;
use crate::http::{internal_error, with_etag};
use crate::view::{iso_time, story_path, story_time};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use quick_xml::escape::escape;
use serde_json::json;
use std::fmt::Write;
use verbatim_store::{ListQuery, StoryRecord, VersionRecord};

const XML: &str = "application/xml; charset=utf-8";
/// Stories per sitemap file (the sitemap protocol allows 50,000).
const PER_SITEMAP: usize = 10_000;
/// Google News sitemaps list the last two days, at most 1,000 stories.
const NEWS_WINDOW_HOURS: i64 = 48;
const NEWS_MAX: usize = 1_000;
/// Sitemap files listed in the index, at most (1,000,000 stories).
const MAX_SITEMAPS: usize = 100;

/// The `NewsArticle` JSON-LD of an article page, safe to place inside `<script>` (every `<` is
/// written as `\u003c`, so no `</script>` can appear).
pub fn news_article_json_ld(
    site: &crate::SiteConfig,
    story: &StoryRecord,
    version: &VersionRecord,
    headline: &str,
) -> String {
    let item = &version.item;
    let url = format!("{}{}", site.base_url, story_path(&story.id));
    let mut value = json!({
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "mainEntityOfPage": url,
        "url": url,
        "headline": headline,
        "datePublished": iso_time(item.firstcreated.unwrap_or_else(|| story_time(version))),
        "dateModified": iso_time(story_time(version)),
        "isAccessibleForFree": true,
        "publisher": { "@type": "Organization", "name": site.title },
        "sourceOrganization": { "@type": "Organization", "name": story.source },
        "articleBody": crate::view::shown_body(version).1,
    });
    if let Some(map) = value.as_object_mut() {
        if let Some(language) = &item.language {
            map.insert("inLanguage".into(), json!(language));
        }
        if let Some(byline) = &item.byline {
            map.insert(
                "author".into(),
                json!({ "@type": "Person", "name": byline }),
            );
        }
        if let Some(copyright) = &item.copyrightnotice {
            map.insert("copyrightNotice".into(), json!(copyright));
        }
        if let Some(located) = &item.located {
            map.insert("dateline".into(), json!(located));
        }
        let images: Vec<&str> = item
            .associations
            .iter()
            .filter(|association| association.kind == "picture")
            .map(|association| association.uri.as_str())
            .filter(|uri| uri.starts_with("https://") || uri.starts_with("http://"))
            .collect();
        if !images.is_empty() {
            map.insert("image".into(), json!(images));
        }
    }
    value.to_string().replace('<', "\\u003c")
}

pub async fn robots(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let body = format!(
        "User-agent: *\nAllow: /\nDisallow: /api/\nDisallow: /websub/\n\nSitemap: {}/sitemap.xml\n",
        state.site.base_url
    );
    with_etag(&headers, StatusCode::OK, "text/plain; charset=utf-8", body)
}

/// Published stories of the last `hours`, newest first, at most `limit`.
async fn recent(
    state: &AppState,
    since: chrono::DateTime<chrono::Utc>,
    limit: usize,
) -> Result<Vec<StoryRecord>, verbatim_store::StoreError> {
    let mut stories = Vec::new();
    let mut cursor = None;
    while stories.len() < limit {
        let page = state
            .store
            .list(&ListQuery {
                limit: 200,
                cursor,
                since: Some(since),
                ..ListQuery::default()
            })
            .await?;
        let done = page.next.is_none();
        stories.extend(page.stories);
        if done {
            break;
        }
        cursor = page.next;
    }
    stories.truncate(limit);
    Ok(stories)
}

pub async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let counts = match state.store.counts().await {
        Ok(counts) => counts,
        Err(error) => return internal_error(error),
    };
    let files = (counts.published as usize)
        .div_ceil(PER_SITEMAP)
        .clamp(1, MAX_SITEMAPS);
    let base = &state.site.base_url;
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    let _ = writeln!(
        xml,
        "<sitemap><loc>{}</loc></sitemap>",
        escape(format!("{base}/sitemaps/news.xml"))
    );
    for file in 1..=files {
        let _ = writeln!(
            xml,
            "<sitemap><loc>{}</loc></sitemap>",
            escape(format!("{base}/sitemaps/stories-{file}.xml"))
        );
    }
    xml.push_str("</sitemapindex>\n");
    with_etag(&headers, StatusCode::OK, XML, xml)
}

/// The Google News sitemap: stories of the last 48 hours with publication, language, time and
/// title.
pub async fn news(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let since = chrono::Utc::now() - chrono::Duration::hours(NEWS_WINDOW_HOURS);
    let stories = match recent(&state, since, NEWS_MAX).await {
        Ok(stories) => stories,
        Err(error) => return internal_error(error),
    };
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\" xmlns:news=\"http://www.google.com/schemas/sitemap-news/0.9\">\n",
    );
    for story in &stories {
        let Some(version) = &story.current else {
            continue;
        };
        let time = story_time(version);
        if time < since {
            continue;
        }
        let headline = story
            .headline_override
            .as_ref()
            .map_or(version.item.headline.as_str(), |headline| {
                headline.headline.as_str()
            });
        let language = version
            .item
            .language
            .as_deref()
            .and_then(|language| language.split(['-', '_']).next())
            .filter(|language| !language.is_empty())
            .unwrap_or("en");
        let _ = writeln!(
            xml,
            "<url><loc>{}</loc><news:news><news:publication><news:name>{}</news:name><news:language>{}</news:language></news:publication><news:publication_date>{}</news:publication_date><news:title>{}</news:title></news:news></url>",
            escape(format!("{}{}", state.site.base_url, story_path(&story.id))),
            escape(&state.site.title),
            escape(language),
            iso_time(time),
            escape(headline),
        );
    }
    xml.push_str("</urlset>\n");
    with_etag(&headers, StatusCode::OK, XML, xml)
}

/// `stories-N.xml`: the Nth block of published stories, newest first, with their last change.
pub async fn stories(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Response {
    let number = file
        .strip_prefix("stories-")
        .and_then(|rest| rest.strip_suffix(".xml"))
        .and_then(|number| number.parse::<usize>().ok())
        .filter(|number| (1..=MAX_SITEMAPS).contains(number));
    let Some(number) = number else {
        return (StatusCode::NOT_FOUND, "no such sitemap").into_response();
    };
    let block = match state
        .store
        .published_ids((number - 1) * PER_SITEMAP, PER_SITEMAP)
        .await
    {
        Ok(block) => block,
        Err(error) => return internal_error(error),
    };
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for (id, changed_at) in &block {
        let _ = writeln!(
            xml,
            "<url><loc>{}</loc><lastmod>{}</lastmod></url>",
            escape(format!("{}{}", state.site.base_url, story_path(id))),
            iso_time(*changed_at),
        );
    }
    xml.push_str("</urlset>\n");
    with_etag(&headers, StatusCode::OK, XML, xml)
}
