//! The operator's desk at `/admin`, behind the admin token: source health, the ingest rate over
//! the last 24 hours (a server-drawn SVG chart, no JavaScript), the held queue with release and
//! drop, recent kills and corrections, and errors. Plain HTML forms; the token travels as a
//! bearer header (scripts) or an HttpOnly, SameSite=Strict cookie set by the login form.

use crate::AppState;
use crate::http::internal_error;
use crate::site::render;
use crate::view::{display_time, is_correction, story_path};
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use minijinja::context;
use serde::Deserialize;
use verbatim_store::{Review, StoryState};

/// The cookie that carries the admin token for browsers.
const COOKIE: &str = "verbatim_admin";
/// Buckets of the ingest-rate chart.
const CHART_HOURS: i64 = 24;

/// How a request proved it is the operator, if it did.
pub(crate) async fn authorized(state: &AppState, headers: &HeaderMap) -> Result<bool, Response> {
    let expected = match state.store.setting(crate::ADMIN_TOKEN_SETTING).await {
        Ok(expected) => expected,
        Err(error) => return Err(internal_error(error)),
    };
    let Some(expected) = expected else {
        return Ok(false);
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim());
    // Hashes are compared, so the time taken says nothing about the token.
    Ok([bearer, cookie]
        .into_iter()
        .flatten()
        .any(|token| verbatim_item::sha256_hex(token.as_bytes()) == expected))
}

/// Desk pages are private: never stored by a cache, never indexed.
fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    response
}

fn login_page(state: &AppState, headers: &HeaderMap, status: StatusCode, error: &str) -> Response {
    let mut response = render(
        state,
        headers,
        status,
        "admin_login.html",
        context! { error },
    );
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    private(response)
}

/// A form POST must come from this site's own pages (the cookie is SameSite=Strict too).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
    else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| !host.is_empty() && rest == host)
}

/// `GET /admin`.
pub async fn overview(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match authorized(&state, &headers).await {
        Ok(true) => {}
        Ok(false) => return login_page(&state, &headers, StatusCode::UNAUTHORIZED, ""),
        Err(response) => return response,
    }
    match overview_context(&state).await {
        Ok(ctx) => private(render(&state, &headers, StatusCode::OK, "admin.html", ctx)),
        Err(error) => internal_error(error),
    }
}

async fn overview_context(
    state: &AppState,
) -> Result<minijinja::Value, verbatim_store::StoreError> {
    let store = &state.store;
    let now = Utc::now();
    let counts = store.counts().await?;
    let per_day = store.items_since(now - Duration::hours(24)).await?;
    let sources: Vec<minijinja::Value> = store
        .sources()
        .await?
        .into_iter()
        .map(|source| {
            let healthy = source.consecutive_errors == 0;
            context! {
                name => source.name.clone(),
                kind => source.kind.as_str(),
                paused => source.paused,
                healthy,
                last_success => source.last_success.map(display_time),
                last_status => source.last_status,
                errors => source.consecutive_errors,
                last_error => source.last_error,
                next_due => source.next_due.map(display_time),
                language => source.language,
                items_24h => per_day.get(&source.name).copied().unwrap_or(0),
            }
        })
        .collect();
    let rate = store
        .ingest_rate(now - Duration::hours(CHART_HOURS), 3600)
        .await?;
    let chart = ingest_chart(&rate, now);
    let held_total = counts.held_queue;
    let held: Vec<minijinja::Value> = store
        .held(10)
        .await?
        .into_iter()
        .map(|entry| {
            context! {
                story_id => entry.story_id,
                source => entry.source,
                headline => entry.version.item.headline,
                reasons => entry.version.hold_reasons,
                received => display_time(entry.version.received_at),
            }
        })
        .collect();
    let kills: Vec<minijinja::Value> = store
        .gone(None, 20)
        .await?
        .into_iter()
        .map(|gone| {
            context! {
                id => gone.id,
                source => gone.source,
                guid => gone.guid,
                state => if gone.state == StoryState::Withheld { "withheld" } else { "killed" },
                when => display_time(gone.changed_at),
            }
        })
        .collect();
    let corrections: Vec<minijinja::Value> = store
        .recent_versions(500)
        .await?
        .into_iter()
        .filter(|recent| is_correction(&recent.version.item))
        .take(20)
        .map(|recent| {
            context! {
                path => story_path(&recent.story_id),
                headline => recent.version.item.headline,
                source => recent.version.item.source,
                when => display_time(recent.version.received_at),
            }
        })
        .collect();
    let failed: Vec<minijinja::Value> = store
        .failed_payloads(20)
        .await?
        .into_iter()
        .map(|failed| {
            context! {
                source => failed.raw.source,
                origin => failed.raw.origin,
                sha256 => failed.raw.sha256,
                error => failed.error,
                state => failed.state,
                when => display_time(failed.raw.received_at),
            }
        })
        .collect();
    Ok(context! {
        counts,
        sources,
        chart,
        held,
        held_total,
        kills,
        corrections,
        failed,
        now => display_time(now),
    })
}

/// The ingest rate as an SVG bar chart: one bar per hour, oldest left, with a text equivalent
/// (`summary`) for screen readers. Only numbers go into the markup.
fn ingest_chart(
    rate: &[(chrono::DateTime<Utc>, i64)],
    now: chrono::DateTime<Utc>,
) -> minijinja::Value {
    const WIDTH: i64 = 720;
    const HEIGHT: i64 = 160;
    let start = (now.timestamp() / 3600 - (CHART_HOURS - 1)) * 3600;
    let counts: Vec<i64> = (0..CHART_HOURS)
        .map(|hour| {
            let bucket = start + hour * 3600;
            rate.iter()
                .find(|(time, _)| time.timestamp() == bucket)
                .map_or(0, |(_, count)| *count)
        })
        .collect();
    let peak = counts.iter().copied().max().unwrap_or(0).max(1);
    let slot = WIDTH / CHART_HOURS;
    let mut bars = String::new();
    for (hour, count) in counts.iter().enumerate() {
        let height = (count * (HEIGHT - 20)) / peak;
        let x = hour as i64 * slot + 2;
        let y = HEIGHT - height;
        bars.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{height}\"><title>{count}</title></rect>",
            slot - 4
        ));
    }
    let total: i64 = counts.iter().sum();
    let svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"100%\" role=\"img\" \
         aria-labelledby=\"rate-title\"><title id=\"rate-title\">Versions received per hour, \
         last {CHART_HOURS} hours: {total} in all, at most {peak} in an hour</title>\
         <line x1=\"0\" y1=\"{HEIGHT}\" x2=\"{WIDTH}\" y2=\"{HEIGHT}\" class=\"axis\"></line>{bars}</svg>"
    );
    context! { svg, total, peak, counts }
}

/// `GET /admin/held`.
pub async fn held_list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match authorized(&state, &headers).await {
        Ok(true) => {}
        Ok(false) => return login_page(&state, &headers, StatusCode::UNAUTHORIZED, ""),
        Err(response) => return response,
    }
    let held = match state.store.held(500).await {
        Ok(held) => held,
        Err(error) => return internal_error(error),
    };
    let entries: Vec<minijinja::Value> = held
        .into_iter()
        .map(|entry| {
            let releasable = entry
                .version
                .hold_reasons
                .iter()
                .all(|reason| verbatim_gate::releasable(reason));
            context! {
                story_id => entry.story_id,
                source => entry.source,
                guid => entry.guid,
                story_state => entry.story_state.as_str(),
                headline => entry.version.item.headline,
                body_text => entry.version.item.body_text,
                reasons => entry.version.hold_reasons,
                received => display_time(entry.version.received_at),
                releasable,
            }
        })
        .collect();
    private(render(
        &state,
        &headers,
        StatusCode::OK,
        "admin_held.html",
        context! { entries },
    ))
}

/// `POST /admin/held/{id}/{release|drop}`.
pub async fn held_decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, decision)): Path<(String, String)>,
) -> Response {
    match authorized(&state, &headers).await {
        Ok(true) => {}
        Ok(false) => return login_page(&state, &headers, StatusCode::UNAUTHORIZED, ""),
        Err(response) => return response,
    }
    if !same_origin(&headers) {
        return private((StatusCode::FORBIDDEN, "cross-site form refused").into_response());
    }
    let review = match decision.as_str() {
        "release" => Review::Released,
        "drop" => Review::Dropped,
        _ => return crate::site::not_found_page(&state, &headers),
    };
    if review == Review::Released {
        match state.store.held_story(&id).await {
            Ok(held) => {
                if held.iter().any(|entry| {
                    !entry
                        .version
                        .hold_reasons
                        .iter()
                        .all(|reason| verbatim_gate::releasable(reason))
                }) {
                    return private(
                        (
                            StatusCode::CONFLICT,
                            "this item failed the fidelity check and cannot be released; drop it",
                        )
                            .into_response(),
                    );
                }
            }
            Err(error) => return internal_error(error),
        }
    }
    match state
        .store
        .review_held(&id, review, "admin desk", Utc::now())
        .await
    {
        Ok(_) => private(Redirect::to("/admin/held").into_response()),
        Err(verbatim_store::StoreError::NotFound(_)) => {
            crate::site::not_found_page(&state, &headers)
        }
        Err(error) => internal_error(error),
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
}

/// `GET /admin/login`.
pub async fn login_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    login_page(&state, &headers, StatusCode::OK, "")
}

/// `POST /admin/login`: a right token sets the cookie and goes to the desk.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !same_origin(&headers) {
        return private((StatusCode::FORBIDDEN, "cross-site form refused").into_response());
    }
    let token = form.token.trim();
    let mut check = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
        check.insert(header::AUTHORIZATION, value);
    }
    match authorized(&state, &check).await {
        Ok(true) => {}
        Ok(false) => {
            return login_page(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                "That is not the admin token.",
            );
        }
        Err(response) => return response,
    }
    let secure = if state.site.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{COOKIE}={token}; Path=/admin; HttpOnly; SameSite=Strict{secure}");
    let mut response = Redirect::to("/admin").into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    private(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_has_a_bar_per_hour_and_says_what_it_shows() {
        let now = Utc::now();
        let hour = chrono::DateTime::<Utc>::from_timestamp(now.timestamp() / 3600 * 3600, 0)
            .unwrap_or(now);
        let chart = ingest_chart(&[(hour, 12), (hour - Duration::hours(3), 3)], now);
        let svg = chart
            .get_attr("svg")
            .map(|svg| svg.to_string())
            .unwrap_or_default();
        assert_eq!(svg.matches("<rect").count(), 24);
        assert!(svg.contains("15 in all, at most 12 in an hour"), "{svg}");
    }

    #[test]
    fn forms_from_other_sites_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(
            same_origin(&headers),
            "no Origin: a same-site form or a script"
        );
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&headers));
    }
}
