//! The JSON API (`/api/v1/…`): newest-first lists with cursors, one item, agency push, health.
//! A killed item answers 410 with its id and status, so downstream systems can take it down.

use crate::AppState;
use crate::http::{JSON, internal_error, with_etag};
use crate::view::{item_json, item_ninjs};
use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use verbatim_store::{ListQuery, StoryState, Subscription};

/// The largest push body accepted.
pub const MAX_PUSH_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Deserialize)]
pub struct ListParams {
    q: Option<String>,
    source: Option<String>,
    /// Only stories in this section.
    section: Option<String>,
    since: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
    format: Option<String>,
    /// Search only: the story's language (primary subtag), the end of the time range, and
    /// `newest` or `relevance`.
    language: Option<String>,
    until: Option<String>,
    order: Option<String>,
}

/// `?format=`: Verbatim's ITEM (the default) or strict ninjs 2.1.
#[derive(Debug, Deserialize)]
pub struct FormatParam {
    format: Option<String>,
}

type Render = fn(
    &crate::SiteConfig,
    &verbatim_store::StoryRecord,
    &verbatim_store::VersionRecord,
) -> serde_json::Value;

fn renderer(format: Option<&str>) -> Result<Render, String> {
    match format {
        None | Some("item") => Ok(item_json),
        Some("ninjs") => Ok(item_ninjs),
        Some(other) => Err(format!("format must be item or ninjs, not {other:?}")),
    }
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": message })),
    )
        .into_response()
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Response {
    let render = match renderer(params.format.as_deref()) {
        Ok(render) => render,
        Err(message) => return bad_request(message),
    };
    let since = match params
        .since
        .as_deref()
        .map(chrono::DateTime::parse_from_rfc3339)
        .transpose()
    {
        Ok(since) => since.map(|time| time.with_timezone(&chrono::Utc)),
        Err(error) => return bad_request(format!("since must be an RFC 3339 time: {error}")),
    };
    // Take-downs ride on the first page, so a poller using `since` learns of kills too.
    let gone = if params.cursor.is_none() {
        match state.store.gone(since, 200).await {
            Ok(gone) => gone
                .into_iter()
                .filter(|taken| {
                    params
                        .source
                        .as_ref()
                        .is_none_or(|source| *source == taken.source)
                })
                .map(|taken| {
                    json!({
                        "id": taken.id,
                        "guid": taken.guid,
                        "source": taken.source,
                        "pubstatus": taken.state.as_str(),
                        "changed_at": crate::view::iso_time(taken.changed_at),
                    })
                })
                .collect(),
            Err(error) => return internal_error(error),
        }
    } else {
        Vec::new()
    };
    let q = params.q.as_deref().map(str::trim).unwrap_or_default();
    if let Some(index) = &state.search
        && !q.is_empty()
    {
        // A search page's cursor is the offset of its first result.
        let offset = match params.cursor.as_deref() {
            None => 0,
            Some(cursor) => match cursor
                .strip_prefix('s')
                .and_then(|n| n.parse::<usize>().ok())
            {
                Some(offset) => offset,
                None => return bad_request(format!("bad cursor {cursor:?}")),
            },
        };
        let limit = params
            .limit
            .unwrap_or(20)
            .clamp(1, verbatim_search::MAX_LIMIT);
        let search = crate::search::SearchParams {
            q: q.to_string(),
            source: params.source.clone(),
            section: params.section.clone(),
            language: params.language.clone(),
            from: params.since.clone(),
            to: params.until.clone(),
            order: params.order.clone(),
            page: None,
        };
        let (total, found) = match crate::search::find(&state, index, &search, offset, limit).await
        {
            Err(response) => return response,
            Ok(Err(message)) => return bad_request(message),
            Ok(Ok(found)) => found,
        };
        let items: Vec<serde_json::Value> = found
            .iter()
            .filter_map(|found| {
                let version = found.story.current.as_ref()?;
                let mut item = render(&state.site, &found.story, version);
                if let Some(map) = item.as_object_mut() {
                    map.insert("snippet_html".into(), json!(found.snippet_html));
                }
                Some(item)
            })
            .collect();
        let next = (offset + limit < total.min(verbatim_search::MAX_OFFSET))
            .then(|| format!("s{}", offset + limit));
        let body = json!({ "items": items, "next": next, "total": total, "gone": gone });
        return with_etag(&headers, StatusCode::OK, JSON, body.to_string());
    }
    let query = ListQuery {
        source: params.source,
        section: params.section,
        since,
        q: params.q,
        limit: params.limit.unwrap_or(20).clamp(1, 200),
        cursor: params.cursor,
    };
    let page = match state.store.list(&query).await {
        Ok(page) => page,
        Err(verbatim_store::StoreError::Corrupt(message)) if message.starts_with("bad cursor") => {
            return bad_request(message);
        }
        Err(error) => return internal_error(error),
    };
    let items: Vec<serde_json::Value> = page
        .stories
        .iter()
        .filter_map(|story| {
            story
                .current
                .as_ref()
                .map(|version| render(&state.site, story, version))
        })
        .collect();
    let body = json!({ "items": items, "next": page.next, "gone": gone });
    with_etag(&headers, StatusCode::OK, JSON, body.to_string())
}

/// The setting that holds the SHA-256 of the admin token (`verbatim admin-token`).
pub const ADMIN_TOKEN_SETTING: &str = "admin_token_sha256";

/// `GET /api/v1/sources` (admin token): every source with its health and items per day.
pub async fn sources(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match crate::desk::authorized(&state, &headers).await {
        Ok(true) => {}
        Ok(false) => {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                axum::Json(
                    json!({ "error": "the admin token is required (verbatim admin-token)" }),
                ),
            )
                .into_response();
        }
        Err(response) => return response,
    }
    let since = chrono::Utc::now() - chrono::Duration::hours(24);
    let (sources, activity, subscriptions) = match (
        state.store.sources().await,
        state.store.items_since(since).await,
        state.store.subscriptions().await,
    ) {
        (Ok(sources), Ok(activity), Ok(subscriptions)) => (sources, activity, subscriptions),
        (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => {
            return internal_error(error);
        }
    };
    // Written one source at a time: holding every source as a JSON value before writing any
    // took tens of megabytes at 10,000 sources, on every call of the operator's dashboard.
    let subscriptions: HashMap<&str, &Subscription> = subscriptions
        .iter()
        .map(|subscription| (subscription.source.as_str(), subscription))
        .collect();
    let mut body = Vec::with_capacity(64 + sources.len() * 512);
    body.extend_from_slice(b"{\"sources\":[");
    for (index, source) in sources.iter().enumerate() {
        let mut value = serde_json::to_value(source).unwrap_or_else(|_| json!({}));
        if let Some(map) = value.as_object_mut() {
            if let Some(url) = &source.url {
                map.insert("url".into(), json!(verbatim_item::redact_url(url)));
            }
            map.insert(
                "items_last_24h".into(),
                json!(activity.get(&source.name).copied().unwrap_or(0)),
            );
            if let Some(subscription) = subscriptions.get(source.name.as_str()) {
                map.insert("websub".into(), json!(subscription));
            }
        }
        if index > 0 {
            body.push(b',');
        }
        if let Err(error) = serde_json::to_writer(&mut body, &value) {
            return internal_error(error);
        }
    }
    body.extend_from_slice(b"]}");
    with_etag(&headers, StatusCode::OK, JSON, body)
}

/// `/.well-known/verbatim-keys.json`: every public key the site has signed with.
pub async fn keys(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let keys: Vec<serde_json::Value> = state
        .keys
        .iter()
        .enumerate()
        .map(|(index, key)| {
            json!({
                "key_id": key.key_id,
                "algorithm": "Ed25519",
                "public_key_hex": serde_json::to_value(key).ok().and_then(|value| value.get("key").cloned()),
                "created": key.created,
                "current": index == 0,
            })
        })
        .collect();
    let body = json!({
        "format": verbatim_provenance::FORMAT,
        "about": "Ed25519 keys that sign this site's provenance records. A record's signature covers its compact JSON (fields in the order served); check it with the key named by its key_id.",
        "keys": keys,
    });
    with_etag(&headers, StatusCode::OK, JSON, body.to_string())
}

pub async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(format): Query<FormatParam>,
) -> Response {
    let render = match renderer(format.format.as_deref()) {
        Ok(render) => render,
        Err(message) => return bad_request(message),
    };
    match state.store.story(&id).await {
        Ok(Some(story)) => match (story.state, story.current.as_ref()) {
            (StoryState::Published, Some(version)) => {
                let mut body = render(&state.site, &story, version);
                // Only Verbatim's own format has room for the cluster.
                if format.format.as_deref() != Some("ninjs")
                    && let Some(cluster) = story.cluster_id
                    && let Some(map) = body.as_object_mut()
                {
                    let members = match state.store.cluster_links(cluster, 50).await {
                        Ok(members) => members,
                        Err(error) => return internal_error(error),
                    };
                    map.insert(
                        "cluster".into(),
                        cluster_json(&state, cluster, &members, &story.id),
                    );
                }
                with_etag(&headers, StatusCode::OK, JSON, body.to_string())
            }
            (StoryState::Canceled | StoryState::Withheld, _) => {
                let pubstatus = if story.state == StoryState::Canceled {
                    "canceled"
                } else {
                    "withheld"
                };
                let body = json!({ "id": story.id, "pubstatus": pubstatus }).to_string();
                with_etag(&headers, StatusCode::GONE, JSON, body)
            }
            _ => not_found(),
        },
        Ok(None) => not_found(),
        Err(error) => internal_error(error),
    }
}

/// A cluster as the API shows it: its id and the other published stories in it.
fn cluster_json(
    state: &AppState,
    cluster: i64,
    members: &[verbatim_store::ClusterLink],
    except: &str,
) -> serde_json::Value {
    let stories: Vec<serde_json::Value> = members
        .iter()
        .filter(|member| member.id != except)
        .map(|member| {
            json!({
                "id": member.id,
                "source": member.source,
                "headline": member.headline,
                "url": format!("{}{}", state.site.base_url, crate::view::story_path(&member.id)),
            })
        })
        .collect();
    json!({ "id": cluster, "url": format!("{}/api/v1/clusters/{cluster}", state.site.base_url), "stories": stories })
}

/// `GET /api/v1/clusters/{id}`: every published story of the cluster, as ITEMs.
pub async fn cluster(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let members = match state.store.cluster_members(id, 200).await {
        Ok(members) => members,
        Err(error) => return internal_error(error),
    };
    if members.is_empty() {
        return not_found();
    }
    let items: Vec<serde_json::Value> = members
        .iter()
        .filter_map(|member| {
            let version = member.current.as_ref()?;
            Some(item_json(&state.site, member, version))
        })
        .collect();
    let body = json!({ "id": id, "items": items });
    with_etag(&headers, StatusCode::OK, JSON, body.to_string())
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({ "error": "no such item" })),
    )
        .into_response()
}

pub async fn health(State(state): State<AppState>) -> Response {
    match state.store.counts().await {
        Ok(counts) => axum::Json(json!({ "status": "ok", "counts": counts })).into_response(),
        Err(error) => {
            tracing::error!(%error, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({ "status": "error", "error": error.to_string() })),
            )
                .into_response()
        }
    }
}

/// Prometheus text exposition of the store's state: stories by state, versions, held versions,
/// payloads, and each source's health. Derived from the store on every scrape, so every node
/// reports the same truth and nothing is kept in process-wide state.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let (counts, sources) = match (state.store.counts().await, state.store.sources().await) {
        (Ok(counts), Ok(sources)) => (counts, sources),
        (Err(error), _) | (_, Err(error)) => return internal_error(error),
    };
    let mut text = String::with_capacity(2048);
    let mut gauge = |name: &str, help: &str, samples: Vec<(String, i64)>| {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (labels, value) in samples {
            text.push_str(&format!("{name}{labels} {value}\n"));
        }
    };
    gauge(
        "verbatim_stories",
        "Stories in the store.",
        vec![(String::new(), counts.stories)],
    );
    gauge(
        "verbatim_stories_published",
        "Stories every output shows.",
        vec![(String::new(), counts.published)],
    );
    gauge(
        "verbatim_versions",
        "Versions stored, held ones included.",
        vec![(String::new(), counts.versions)],
    );
    gauge(
        "verbatim_versions_held",
        "Versions held by the gate.",
        vec![(String::new(), counts.held)],
    );
    gauge(
        "verbatim_held_queue",
        "Held versions waiting for an operator (verbatim held, /admin/held).",
        vec![(String::new(), counts.held_queue)],
    );
    gauge(
        "verbatim_raw_payloads",
        "Payloads in the raw archive.",
        vec![(String::new(), counts.raw_payloads)],
    );
    gauge(
        "verbatim_raw_payloads_failed",
        "Payloads nothing could be read from.",
        vec![(String::new(), counts.raw_failed)],
    );
    if let Some((finished_at, checked, failed)) = counts.last_audit {
        gauge(
            "verbatim_audit_checked",
            "Stories the newest audit verified.",
            vec![(String::new(), checked)],
        );
        gauge(
            "verbatim_audit_failed",
            "Stories the newest audit found different from their signed record or archive.",
            vec![(String::new(), failed)],
        );
        gauge(
            "verbatim_audit_finished_seconds",
            "When the newest audit finished (Unix time).",
            vec![(String::new(), finished_at.timestamp())],
        );
    }
    let label = |name: &str| {
        format!(
            "{{source=\"{}\"}}",
            name.replace('\\', "\\\\").replace('"', "\\\"")
        )
    };
    gauge(
        "verbatim_source_consecutive_errors",
        "Consecutive failed fetches per source.",
        sources
            .iter()
            .map(|source| (label(&source.name), source.consecutive_errors))
            .collect(),
    );
    gauge(
        "verbatim_source_last_success_seconds",
        "Unix time of each source's last successful fetch (0: never).",
        sources
            .iter()
            .map(|source| {
                (
                    label(&source.name),
                    source.last_success.map_or(0, |time| time.timestamp()),
                )
            })
            .collect(),
    );
    if let Some(writer) = state.store.writer_time() {
        for (name, help, time) in [
            (
                "verbatim_store_writer_busy_seconds_total",
                "Time the store's one write connection has been held by commits (SQLite); a \
                 rate near 1 means commits queue for it.",
                writer.held,
            ),
            (
                "verbatim_store_writer_cpu_seconds_total",
                "CPU time the threads holding the store's one write connection spent meanwhile \
                 (SQLite): what commits cost without waits for a core.",
                writer.cpu,
            ),
        ] {
            text.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {:.6}\n",
                time.as_secs_f64()
            ));
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// What a push accepted.
#[derive(Debug, Clone, Serialize)]
pub struct PushReceipt {
    pub accepted: Vec<String>,
    pub errors: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("unauthorized")]
    Unauthorized,
    #[error("no push source named {0:?}")]
    UnknownSource(String),
    #[error("{0}")]
    BadInput(String),
    #[error("too many pushes; retry in {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    #[error("{0}")]
    Internal(String),
}

/// The ingest pipeline as the push endpoint sees it (implemented by the binary).
#[async_trait]
pub trait PushSink: Send + Sync {
    /// `token` is the bearer token; `signature` the hex HMAC-SHA256 of the body (without its
    /// `sha256=` prefix). Either one must be valid.
    async fn push(
        &self,
        source: &str,
        token: Option<&str>,
        signature: Option<&str>,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<PushReceipt, IngestError>;
}

/// The headers a signed push may carry: Verbatim's own, or the one WebSub hubs and many webhook
/// senders use.
pub const SIGNATURE_HEADERS: [&str; 2] = ["x-verbatim-signature", "x-hub-signature-256"];

pub async fn push(
    State(state): State<AppState>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(sink) = &state.push else {
        return (StatusCode::NOT_FOUND, "push is not enabled").into_response();
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let signature = SIGNATURE_HEADERS
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().strip_prefix("sha256="));
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    match sink.push(&source, token, signature, content_type, body).await {
        Ok(receipt) => (StatusCode::ACCEPTED, axum::Json(receipt)).into_response(),
        Err(IngestError::Unauthorized) => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            axum::Json(json!({ "error": "a valid bearer token or HMAC signature for this source is required" })),
        )
            .into_response(),
        Err(IngestError::UnknownSource(name)) => {
            // Same answer as a bad token: do not reveal which source names exist.
            let _ = name;
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({ "error": "a valid bearer token or HMAC signature for this source is required" })),
            )
                .into_response()
        }
        Err(IngestError::BadInput(message)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({ "error": message })),
        )
            .into_response(),
        Err(IngestError::RateLimited {
            retry_after_seconds,
        }) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after_seconds.to_string())],
            axum::Json(json!({ "error": format!("too many pushes for this source; retry in {retry_after_seconds} s") })),
        )
            .into_response(),
        Err(IngestError::Internal(message)) => internal_error(message),
    }
}
