//! Search for readers (`/search`) and for the API (`/api/v1/items?q=`): the full-text index finds
//! ids, the store says what is published now. A story killed a moment ago that the index has not
//! yet dropped is therefore never shown.

use crate::AppState;
use crate::http::internal_error;
use crate::view::StoryView;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde::{Deserialize, Serialize};
use verbatim_search::{SearchQuery, SortOrder};
use verbatim_store::{StoryRecord, StoryState};

/// Results per search page.
const PAGE_SIZE: usize = 20;

/// The filters both the page and the API read.
#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    pub q: String,
    pub source: Option<String>,
    pub section: Option<String>,
    pub language: Option<String>,
    /// `YYYY-MM-DD` or RFC 3339.
    pub from: Option<String>,
    pub to: Option<String>,
    /// `newest` (default) or `relevance`.
    pub order: Option<String>,
    pub page: Option<usize>,
}

/// One found story: the stored story and the index's highlighted texts.
pub struct Found {
    pub story: StoryRecord,
    pub headline_html: String,
    pub snippet_html: String,
}

/// A date filter: a day (`2026-11-24`, the whole day in UTC) or an RFC 3339 time.
pub fn parse_day(text: &str, end_of_day: bool) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let text = text.trim();
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&chrono::Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"))?;
    let time = if end_of_day {
        day.and_hms_opt(23, 59, 59)
    } else {
        day.and_hms_opt(0, 0, 0)
    };
    time.map(|time| time.and_utc())
        .ok_or_else(|| format!("{text:?} is not a date"))
}

/// Runs a search; `Err` is a message for a 400.
pub async fn find(
    state: &AppState,
    index: &verbatim_search::SearchIndex,
    params: &SearchParams,
    offset: usize,
    limit: usize,
) -> Result<Result<(usize, Vec<Found>), String>, Response> {
    let since = match params.from.as_deref().filter(|text| !text.is_empty()) {
        Some(text) => match parse_day(text, false) {
            Ok(time) => Some(time),
            Err(message) => return Ok(Err(message)),
        },
        None => None,
    };
    let until = match params.to.as_deref().filter(|text| !text.is_empty()) {
        Some(text) => match parse_day(text, true) {
            Ok(time) => Some(time),
            Err(message) => return Ok(Err(message)),
        },
        None => None,
    };
    let order = match params.order.as_deref() {
        None | Some("") | Some("newest") => SortOrder::Newest,
        Some("relevance") => SortOrder::Relevance,
        Some(other) => {
            return Ok(Err(format!(
                "order must be newest or relevance, not {other:?}"
            )));
        }
    };
    let nonempty = |value: &Option<String>| value.clone().filter(|text| !text.trim().is_empty());
    let results = match index.search(&SearchQuery {
        text: params.q.clone(),
        source: nonempty(&params.source),
        section: nonempty(&params.section),
        language: nonempty(&params.language),
        only_ids: None,
        since,
        until,
        order,
        offset,
        limit,
    }) {
        Ok(results) => results,
        Err(error) => return Err(internal_error(error)),
    };
    let mut found = Vec::with_capacity(results.hits.len());
    for hit in results.hits {
        match state.store.story(&hit.id).await {
            Ok(Some(story)) if story.state == StoryState::Published && story.current.is_some() => {
                found.push(Found {
                    story,
                    headline_html: hit.headline_html,
                    snippet_html: hit.snippet_html,
                });
            }
            Ok(_) => {}
            Err(error) => return Err(internal_error(error)),
        }
    }
    Ok(Ok((results.total, found)))
}

#[derive(Serialize)]
struct ResultView {
    story: StoryView,
    headline_html: String,
    snippet_html: String,
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<SearchParams>,
) -> Response {
    let page = params
        .page
        .unwrap_or(1)
        .clamp(1, verbatim_search::MAX_OFFSET / PAGE_SIZE);
    let searched = !params.q.trim().is_empty()
        || [&params.source, &params.language, &params.from, &params.to]
            .iter()
            .any(|value| value.as_deref().is_some_and(|text| !text.trim().is_empty()));
    let (mut status, mut error, mut total, mut results) = (StatusCode::OK, None, 0, Vec::new());
    if searched {
        match &state.search {
            None => {
                status = StatusCode::SERVICE_UNAVAILABLE;
                error = Some("Search is not available on this server.".to_string());
            }
            Some(index) => {
                match find(&state, index, &params, (page - 1) * PAGE_SIZE, PAGE_SIZE).await {
                    Err(response) => return response,
                    Ok(Err(message)) => {
                        status = StatusCode::BAD_REQUEST;
                        error = Some(message);
                    }
                    Ok(Ok((count, found))) => {
                        total = count;
                        results = found
                            .into_iter()
                            .filter_map(|found| {
                                let version = found.story.current.as_ref()?;
                                Some(ResultView {
                                    story: StoryView::new(
                                        &state.site,
                                        &found.story,
                                        version,
                                        String::new(),
                                    ),
                                    headline_html: found.headline_html,
                                    snippet_html: found.snippet_html,
                                })
                            })
                            .collect();
                    }
                }
            }
        }
    }
    let link = |page: usize| {
        let mut url = url_query(&[
            ("q", Some(params.q.as_str())),
            ("source", params.source.as_deref()),
            ("language", params.language.as_deref()),
            ("from", params.from.as_deref()),
            ("to", params.to.as_deref()),
            ("order", params.order.as_deref()),
        ]);
        url.push_str(&format!("&page={page}"));
        url
    };
    let next = (page * PAGE_SIZE < total.min(verbatim_search::MAX_OFFSET)).then(|| link(page + 1));
    let previous = (page > 1).then(|| link(page - 1));
    crate::site::render(
        &state,
        &headers,
        status,
        "search.html",
        context! {
            q => params.q.trim(),
            source => params.source.as_deref().unwrap_or_default(),
            language => params.language.as_deref().unwrap_or_default(),
            from => params.from.as_deref().unwrap_or_default(),
            to => params.to.as_deref().unwrap_or_default(),
            relevance => params.order.as_deref() == Some("relevance"),
            searched, error, total, results, next, previous,
        },
    )
}

/// `/search?k=v&…` with the given non-empty values, form-encoded.
fn url_query(pairs: &[(&str, Option<&str>)]) -> String {
    let mut encoded = String::from("/search?");
    let mut serializer = form_urlencoded::Serializer::new(&mut encoded);
    for (key, value) in pairs {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            serializer.append_pair(key, value);
        }
    }
    serializer.finish();
    encoded
}
