//! The reader's site: front page, article pages, version history, withdrawal and not-found
//! pages, rendered from minijinja templates that an operator can override file by file.

use crate::AppState;
use crate::http::{HTML, internal_error, with_etag};
use crate::view::{StoryView, display_time, iso_time, notice_line, story_path};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Environment, context};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use verbatim_store::{ListQuery, StoryState};

const BUILT_IN: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("front.html", include_str!("../templates/front.html")),
    ("article.html", include_str!("../templates/article.html")),
    ("history.html", include_str!("../templates/history.html")),
    ("gone.html", include_str!("../templates/gone.html")),
    (
        "not_found.html",
        include_str!("../templates/not_found.html"),
    ),
];

const STYLESHEET: &str = include_str!("../static/style.css");

/// The template environment: the operator's folder first, then the built-in templates.
pub fn environment(override_dir: Option<PathBuf>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_loader(move |name| {
        if let Some(dir) = &override_dir {
            // Template names never contain path separators, so the folder cannot be escaped.
            if !name.contains(['/', '\\']) && !name.starts_with('.') {
                match std::fs::read_to_string(dir.join(name)) {
                    Ok(text) => return Ok(Some(text)),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(error) => {
                        return Err(minijinja::Error::new(
                            minijinja::ErrorKind::InvalidOperation,
                            format!("cannot read template {name}: {error}"),
                        ));
                    }
                }
            }
        }
        Ok(BUILT_IN
            .iter()
            .find(|(built_in, _)| *built_in == name)
            .map(|(_, text)| text.to_string()))
    });
    env
}

fn render(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    name: &str,
    ctx: minijinja::Value,
) -> Response {
    let template = match state.templates.get_template(name) {
        Ok(template) => template,
        Err(error) => return internal_error(error),
    };
    match template.render(context! { site => context! { title => &state.site.title }, ..ctx }) {
        Ok(html) => with_etag(headers, status, HTML, html),
        Err(error) => internal_error(error),
    }
}

#[derive(Debug, Deserialize)]
pub struct FrontQuery {
    cursor: Option<String>,
}

pub async fn front(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<FrontQuery>,
) -> Response {
    let page = match state
        .store
        .list(&ListQuery {
            limit: 30,
            cursor: query.cursor,
            ..ListQuery::default()
        })
        .await
    {
        Ok(page) => page,
        Err(error) => return internal_error(error),
    };
    let stories: Vec<StoryView> = page
        .stories
        .iter()
        .filter_map(|story| {
            let version = story.current.as_ref()?;
            Some(StoryView::new(&state.site, story, version, String::new()))
        })
        .collect();
    render(
        &state,
        &headers,
        StatusCode::OK,
        "front.html",
        context! { stories, next => page.next },
    )
}

pub async fn article(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let story = match state.store.story(&id).await {
        Ok(Some(story)) => story,
        Ok(None) => return not_found_page(&state, &headers),
        Err(error) => return internal_error(error),
    };
    match (story.state, story.current.as_ref()) {
        (StoryState::Published, Some(version)) => {
            let template = match state.store.source(&story.source).await {
                Ok(Some(source)) => source.notice.unwrap_or_else(|| state.site.notice.clone()),
                Ok(None) => state.site.notice.clone(),
                Err(error) => return internal_error(error),
            };
            let notice = notice_line(&state.templates, &template, &story, version);
            let view = StoryView::new(&state.site, &story, version, notice);
            render(
                &state,
                &headers,
                StatusCode::OK,
                "article.html",
                context! { story => view },
            )
        }
        (StoryState::Canceled, _) => gone_page(
            &state,
            &headers,
            "The agency has withdrawn this story. It is no longer available.",
        ),
        (StoryState::Withheld, _) => gone_page(
            &state,
            &headers,
            "The agency has withheld this story for now.",
        ),
        _ => not_found_page(&state, &headers),
    }
}

#[derive(Serialize)]
struct VersionView {
    seq: i64,
    pubstatus: String,
    agency_version: Option<u64>,
    signals: String,
    headline: String,
    received_iso: String,
    received_display: String,
}

pub async fn history(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let story = match state.store.story(&id).await {
        Ok(Some(story)) if story.state == StoryState::Published => story,
        Ok(Some(story)) if matches!(story.state, StoryState::Canceled | StoryState::Withheld) => {
            return gone_page(&state, &headers, "The agency has withdrawn this story.");
        }
        Ok(_) => return not_found_page(&state, &headers),
        Err(error) => return internal_error(error),
    };
    let versions = match state.store.versions(&id).await {
        Ok(versions) => versions,
        Err(error) => return internal_error(error),
    };
    let now = chrono::Utc::now();
    // Held versions and versions still under embargo were never shown, so they are not listed.
    let views: Vec<VersionView> = versions
        .iter()
        .filter(|version| {
            version.hold_reasons.is_empty()
                && version.embargoed_until.is_none_or(|until| until <= now)
        })
        .map(|version| VersionView {
            seq: version.seq,
            pubstatus: version.item.pubstatus.to_string(),
            agency_version: version.item.version,
            signals: version.item.signals.join(", "),
            headline: version.item.headline.clone(),
            received_iso: iso_time(version.received_at),
            received_display: display_time(version.received_at),
        })
        .collect();
    let headline = story
        .current
        .as_ref()
        .map(|version| version.item.headline.clone())
        .unwrap_or_default();
    render(
        &state,
        &headers,
        StatusCode::OK,
        "history.html",
        context! { versions => views, headline, path => story_path(&id) },
    )
}

fn gone_page(state: &AppState, headers: &HeaderMap, reason: &str) -> Response {
    render(
        state,
        headers,
        StatusCode::GONE,
        "gone.html",
        context! { reason },
    )
}

fn not_found_page(state: &AppState, headers: &HeaderMap) -> Response {
    render(
        state,
        headers,
        StatusCode::NOT_FOUND,
        "not_found.html",
        context! {},
    )
}

pub async fn not_found(State(state): State<AppState>, headers: HeaderMap) -> Response {
    not_found_page(&state, &headers)
}

pub async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET,
    )
        .into_response()
}
