//! The reader's site: front page, article pages, version history, withdrawal and not-found
//! pages, rendered from minijinja templates that an operator can override file by file.

use crate::AppState;
use crate::diff::{Segment, changed, word_diff};
use crate::http::{HTML, internal_error, with_etag};
use crate::view::{
    StoryView, display_time, is_correction, iso_time, notice_line, shown_body, story_path,
};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Environment, context};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use verbatim_store::{ListQuery, Store, StoreError, StoryState, story_order};

const BUILT_IN: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("front.html", include_str!("../templates/front.html")),
    ("article.html", include_str!("../templates/article.html")),
    ("history.html", include_str!("../templates/history.html")),
    ("gone.html", include_str!("../templates/gone.html")),
    (
        "provenance.html",
        include_str!("../templates/provenance.html"),
    ),
    (
        "not_found.html",
        include_str!("../templates/not_found.html"),
    ),
    ("search.html", include_str!("../templates/search.html")),
    ("admin.html", include_str!("../templates/admin.html")),
    (
        "admin_held.html",
        include_str!("../templates/admin_held.html"),
    ),
    (
        "admin_login.html",
        include_str!("../templates/admin_login.html"),
    ),
];

const STYLESHEET: &str = include_str!("../static/style.css");
const LIVE_SCRIPT: &str = include_str!("../static/live.js");

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
    // minijinja's HTML escaping also escapes `/`, which turns every URL in an attribute into
    // `&#x2f;` soup. `/` is harmless in HTML text and quoted attributes, so strings are escaped
    // for `& < > " '` only; everything else keeps minijinja's own formatting.
    env.set_formatter(|out, state, value| {
        if matches!(state.auto_escape(), minijinja::AutoEscape::Html)
            && !value.is_safe()
            && let Some(text) = value.as_str()
        {
            let mut escaped = String::with_capacity(text.len());
            verbatim_normalize::escape_into(text, &mut escaped);
            return out.write_str(&escaped).map_err(minijinja::Error::from);
        }
        minijinja::escape_formatter(out, state, value)
    });
    env
}

pub(crate) fn render(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    name: &str,
    ctx: minijinja::Value,
) -> Response {
    match render_html(state, name, ctx) {
        Ok(html) => with_etag(headers, status, HTML, html),
        Err(error) => internal_error(error),
    }
}

fn render_html(
    state: &AppState,
    name: &str,
    ctx: minijinja::Value,
) -> Result<String, minijinja::Error> {
    state
        .templates
        .get_template(name)?
        .render(context! { site => context! { title => &state.site.title }, ..ctx })
}

/// Rendered article pages. A page is served from here only while no change it could show has
/// happened since it was rendered: its [`Generation`] (this process's own committed writes, and
/// the moves of the store's change token seen by the [`ChangeWatch`]) must still be the current
/// one. A kill, update or correction this process commits makes every cached page stale before
/// the write returns; one another process commits, within 50 ms. Serving a cached page reads
/// nothing from the store, hashes nothing and formats nothing: each page keeps its ETag and
/// `Last-Modified` as header values.
#[derive(Default)]
pub struct PageCache {
    pages: std::sync::RwLock<std::collections::HashMap<String, Arc<CachedPage>>>,
}

struct CachedPage {
    generation: Generation,
    html: axum::body::Bytes,
    etag: String,
    etag_value: HeaderValue,
    /// The newest change anywhere when it was rendered, or the story's own if later.
    last_modified: Option<HeaderValue>,
}

/// Pages kept at most; the cache is emptied when it is full.
const PAGE_CACHE_SIZE: usize = 2_000;

impl PageCache {
    fn get(&self, id: &str, generation: Generation) -> Option<Arc<CachedPage>> {
        let pages = self
            .pages
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        pages
            .get(id)
            .filter(|page| page.generation == generation)
            .cloned()
    }

    fn put(&self, id: &str, page: Arc<CachedPage>) {
        let mut pages = self
            .pages
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if pages.len() >= PAGE_CACHE_SIZE {
            pages.clear();
        }
        pages.insert(id.to_string(), page);
    }
}

impl CachedPage {
    /// The page, or 304 when the client has it; with its ETag and `Last-Modified`.
    fn response(&self, request_headers: &HeaderMap) -> Response {
        let mut response = if crate::http::etag_matches(request_headers, &self.etag) {
            let mut response = Response::new(axum::body::Body::empty());
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            response
        } else {
            Response::new(axum::body::Body::from(self.html.clone()))
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, self.etag_value.clone());
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(HTML));
        if let Some(last_modified) = &self.last_modified {
            headers.insert(header::LAST_MODIFIED, last_modified.clone());
        }
        response
    }
}

/// What a cached page was rendered after: (this process's committed writes as the store counts
/// them, moves of the store's change token seen). Both only grow, so an equal pair means no
/// change either could show has happened since.
type Generation = (u64, u64);

/// Other processes' changes (CLI commands on the same data folder, other nodes on PostgreSQL),
/// seen through [`Store::change_token`]: a counter the store bumps in every writing
/// transaction, so unlike the newest `changed_at` it cannot miss a change stamped by a clock that
/// is behind. A background task (started by the first page that asks) reads it every 20 ms;
/// a page is never served on a reading older than 50 ms (if the task is late, the request reads
/// the token itself first), so another process's kill reaches cached pages within 50 ms.
pub struct ChangeWatch {
    /// How many times the token was seen to move.
    moves: AtomicU64,
    /// The token last read (under `reading`).
    token: std::sync::Mutex<Option<i64>>,
    /// When the last read of the token started, in microseconds after `epoch` (0: never).
    read_at: AtomicU64,
    epoch: std::time::Instant,
    /// One read at a time.
    reading: tokio::sync::Mutex<()>,
    watching: std::sync::atomic::AtomicBool,
}

impl Default for ChangeWatch {
    fn default() -> Self {
        ChangeWatch {
            moves: AtomicU64::new(0),
            token: std::sync::Mutex::new(None),
            read_at: AtomicU64::new(0),
            epoch: std::time::Instant::now(),
            reading: tokio::sync::Mutex::new(()),
            watching: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// The oldest reading of the change token a cached page is served on.
const WATCH_FRESH: std::time::Duration = std::time::Duration::from_millis(50);
/// How often the background task reads the change token.
const WATCH_TICK: std::time::Duration = std::time::Duration::from_millis(20);

impl ChangeWatch {
    /// The current generation. Read it before reading what a page shows, so a change in
    /// between only makes the page stale sooner.
    async fn generation(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
    ) -> Result<Generation, StoreError> {
        let local = store.local_changes();
        self.watch(store);
        self.refresh(&**store, WATCH_FRESH).await?;
        Ok((local, self.moves.load(Ordering::Acquire)))
    }

    /// Microseconds since `epoch`, never 0.
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Reads the token unless a read that started less than `max_age` ago did.
    async fn refresh(
        &self,
        store: &dyn Store,
        max_age: std::time::Duration,
    ) -> Result<(), StoreError> {
        let max_age = u64::try_from(max_age.as_micros()).unwrap_or(u64::MAX);
        let fresh = |watch: &ChangeWatch| {
            let read_at = watch.read_at.load(Ordering::Acquire);
            read_at != 0 && watch.now().saturating_sub(read_at) <= max_age
        };
        if fresh(self) {
            return Ok(());
        }
        let _reading = self.reading.lock().await;
        if fresh(self) {
            return Ok(());
        }
        let started = self.now();
        let token = store.change_token().await?;
        let mut last = self
            .token
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *last != Some(token) {
            // The first reading counts as a move too: pages rendered before it are not trusted.
            *last = Some(token);
            self.moves.fetch_add(1, Ordering::Release);
        }
        // After the move: whoever sees this time also sees the move.
        self.read_at.store(started, Ordering::Release);
        Ok(())
    }

    /// Starts the background reader once, when there is a runtime to run it. It stops when the
    /// watch is dropped.
    fn watch(self: &Arc<Self>, store: &Arc<dyn Store>) {
        if self.watching.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let watch = Arc::downgrade(self);
        let store = store.clone();
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(WATCH_TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(watch) = watch.upgrade() else {
                    return;
                };
                if let Err(error) = watch.refresh(&*store, WATCH_TICK / 2).await {
                    tracing::debug!(%error, "cannot read the store's change token");
                }
            }
        });
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
    story_list(&state, &headers, query.cursor, ListScope::All).await
}

/// `/sources/{name}`: one source's stories, newest first, with its feeds.
pub async fn source_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<FrontQuery>,
) -> Response {
    match state.store.source(&name).await {
        Ok(Some(_)) => story_list(&state, &headers, query.cursor, ListScope::Source(name)).await,
        Ok(None) => not_found_page(&state, &headers),
        Err(error) => internal_error(error),
    }
}

/// `/sections/{name}`: the stories the routing rules put in a section.
pub async fn section_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<FrontQuery>,
) -> Response {
    // `story_list` answers 404 for a section with no published story.
    story_list(&state, &headers, query.cursor, ListScope::Section(name)).await
}

/// Which stories a list page shows.
pub enum ListScope {
    All,
    Source(String),
    Section(String),
}

async fn story_list(
    state: &AppState,
    headers: &HeaderMap,
    cursor: Option<String>,
    scope: ListScope,
) -> Response {
    let (source, section) = match &scope {
        ListScope::All => (None, None),
        ListScope::Source(name) => (Some(name.clone()), None),
        ListScope::Section(name) => (None, Some(name.clone())),
    };
    let page = match state
        .store
        .list(&ListQuery {
            limit: 30,
            cursor,
            source: source.clone(),
            section: section.clone(),
            ..ListQuery::default()
        })
        .await
    {
        Ok(page) => page,
        Err(error) => return internal_error(error),
    };
    let sections = match state.store.sections().await {
        Ok(sections) => sections,
        Err(error) => return internal_error(error),
    };
    if let Some(wanted) = &section
        && !sections.iter().any(|(name, _)| name == wanted)
    {
        return not_found_page(state, headers);
    }
    let sections: Vec<minijinja::Value> = sections
        .into_iter()
        .map(|(name, count)| context! { name, count })
        .collect();
    let stories: Vec<StoryView> = page
        .stories
        .iter()
        .filter_map(|story| {
            let version = story.current.as_ref()?;
            Some(StoryView::new(&state.site, story, version, String::new()))
        })
        .collect();
    let (base_path, live) = match &scope {
        ListScope::All => ("/".to_string(), "all".to_string()),
        ListScope::Source(name) => (format!("/sources/{name}"), format!("source:{name}")),
        ListScope::Section(name) => (format!("/sections/{name}"), format!("section:{name}")),
    };
    render(
        state,
        headers,
        StatusCode::OK,
        "front.html",
        context! { stories, next => page.next, source, section, sections, base_path, live },
    )
}

pub async fn article(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    // Read before the story, so a change in between only makes the cached copy stale sooner.
    let generation = match state.changes.generation(&state.store).await {
        Ok(generation) => generation,
        Err(error) => return internal_error(error),
    };
    if let Some(page) = state.pages.get(&id, generation) {
        return page.response(&headers);
    }
    // Rendering holds far more than serving does: boxed, so the future every request moves
    // around stays small.
    Box::pin(render_article(state, headers, id, generation)).await
}

/// Renders an article page from the store (and caches it when published).
async fn render_article(
    state: AppState,
    headers: HeaderMap,
    id: String,
    generation: Generation,
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
            let json_ld =
                crate::seo::news_article_json_ld(&state.site, &story, version, &view.headline);
            // Other stories about the same event ("also reported by"), published ones only.
            let also: Vec<minijinja::Value> = match story.cluster_id {
                Some(cluster) => match state.store.cluster_links(cluster, 20).await {
                    Ok(links) => links
                        .into_iter()
                        .filter(|link| link.id != story.id)
                        .map(|link| {
                            context! {
                                path => story_path(&link.id),
                                dir => crate::view::text_direction(link.language.as_deref()),
                                language => link.language.unwrap_or_default(),
                                source => link.source,
                                headline => link.headline,
                            }
                        })
                        .collect(),
                    Err(error) => return internal_error(error),
                },
                None => Vec::new(),
            };
            let versions = match state.store.versions(&id).await {
                Ok(versions) => shown_versions(versions, chrono::Utc::now()),
                Err(error) => return internal_error(error),
            };
            // A corrected story says so; an updated one says it changed. Both link the history.
            let revision = (versions.len() > 1 || is_correction(&version.item)).then(|| {
                context! {
                    kind => if is_correction(&version.item) { "correction" } else { "update" },
                    versions => versions.len(),
                    when_iso => iso_time(version.received_at),
                    when_display => display_time(version.received_at),
                }
            });
            // `Last-Modified`: the newest change anywhere (read after the story, so never
            // earlier than what the page shows), or the story's own if later.
            let newest = match state.store.last_change().await {
                Ok(newest) => newest.max(Some(story.changed_at)),
                Err(error) => return internal_error(error),
            };
            let html = match render_html(
                &state,
                "article.html",
                context! { story => view, revision, json_ld, also },
            ) {
                Ok(html) => axum::body::Bytes::from(html),
                Err(error) => return internal_error(error),
            };
            let etag = crate::http::etag_of(&html);
            let Ok(etag_value) = HeaderValue::from_str(&etag) else {
                return internal_error("an ETag that is not a header value");
            };
            let page = Arc::new(CachedPage {
                generation,
                html,
                etag,
                etag_value,
                last_modified: newest.and_then(crate::http::http_date),
            });
            state.pages.put(&id, page.clone());
            page.response(&headers)
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
    correction: bool,
    headline: String,
    received_iso: String,
    received_display: String,
    /// Word-level changes from the version before (`None` for the first).
    headline_diff: Option<Vec<Segment>>,
    body_diff: Option<Vec<Segment>>,
}

/// Versions a reader could have seen: not held, not still under embargo, in story order.
fn shown_versions(
    mut versions: Vec<verbatim_store::VersionRecord>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<verbatim_store::VersionRecord> {
    versions.retain(|version| {
        version.hold_reasons.is_empty() && version.embargoed_until.is_none_or(|until| until <= now)
    });
    versions.sort_by_key(|version| {
        story_order(
            version.item.version,
            version.item.versioncreated,
            version.seq,
        )
    });
    versions
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
    // Held versions and versions still under embargo were never shown, so they are not listed.
    let versions = shown_versions(versions, chrono::Utc::now());
    let mut views: Vec<VersionView> = Vec::with_capacity(versions.len());
    for (index, version) in versions.iter().enumerate() {
        let previous = index.checked_sub(1).map(|before| &versions[before]);
        let diff_of = |old: &str, new: &str| {
            let segments = word_diff(old, new);
            changed(&segments).then_some(segments)
        };
        views.push(VersionView {
            seq: version.seq,
            pubstatus: version.item.pubstatus.to_string(),
            agency_version: version.item.version,
            signals: version.item.signals.join(", "),
            correction: is_correction(&version.item),
            headline: version.item.headline.clone(),
            received_iso: iso_time(version.received_at),
            received_display: display_time(version.received_at),
            headline_diff: previous
                .and_then(|previous| diff_of(&previous.item.headline, &version.item.headline)),
            // Link-only text is not the publisher's to show, not even as a diff.
            body_diff: previous
                .and_then(|previous| diff_of(shown_body(previous).1, shown_body(version).1)),
        });
    }
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

/// `/items/{id}/provenance`: the current version's signed record, checked against the site's keys.
pub async fn provenance(
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
    let Some(version) = story.current.as_ref() else {
        return not_found_page(&state, &headers);
    };
    let signed = version
        .provenance
        .as_deref()
        .and_then(|record| {
            serde_json::from_str::<verbatim_provenance::ProvenanceRecord>(record).ok()
        })
        .map(|record| verbatim_provenance::Signed {
            record,
            signature: version.signature.clone().unwrap_or_default(),
        });
    let (verdict, verdict_class) = match &signed {
        Some(signed) => match signed.verify(&state.keys) {
            Ok(())
                if signed.record.text_hash
                    == version.item.text_hash.clone().unwrap_or_default() =>
            {
                (
                    "The signature is valid and the record matches the text published here."
                        .to_string(),
                    "valid",
                )
            }
            Ok(()) => (
                "The signature is valid, but the published text does not match the record."
                    .to_string(),
                "invalid",
            ),
            Err(error) => (format!("Not verified: {error}."), "invalid"),
        },
        None => (String::new(), "none"),
    };
    let record_json = signed
        .as_ref()
        .and_then(|signed| serde_json::to_string_pretty(&signed.record).ok())
        .unwrap_or_default();
    render(
        &state,
        &headers,
        StatusCode::OK,
        "provenance.html",
        context! {
            record => signed.as_ref().map(|signed| &signed.record),
            signature => signed.as_ref().map(|signed| signed.signature.clone()),
            record_json,
            verdict,
            verdict_class,
            headline => story.headline_override.as_ref().map_or_else(
                || version.item.headline.clone(),
                |headline| headline.headline.clone(),
            ),
            path => story_path(&id),
            url => format!("{}{}", state.site.base_url, story_path(&id)),
            keys_path => crate::KEYS_PATH,
        },
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

pub(crate) fn not_found_page(state: &AppState, headers: &HeaderMap) -> Response {
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

pub async fn live_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        LIVE_SCRIPT,
    )
        .into_response()
}

/// The longest theme file served.
const MAX_THEME_FILE: u64 = 4 * 1024 * 1024;

/// `/static/theme/{file}`: a file from the operator's `static/` folder beside the templates
/// (CSS, fonts, images). Names are plain file names (no folders, no dotfiles); the type comes
/// from the extension, and anything else is not served.
pub async fn theme_file(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Response {
    let content_type = match file.rsplit_once('.').map(|(_, extension)| extension) {
        Some("css") => "text/css; charset=utf-8",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("svg") => "image/svg+xml",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        _ => return not_found_page(&state, &headers),
    };
    let Some(dir) = &state.site.templates_dir else {
        return not_found_page(&state, &headers);
    };
    if file.starts_with('.') || file.contains(['/', '\\']) {
        return not_found_page(&state, &headers);
    }
    let path = dir.join("static").join(&file);
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() && meta.len() <= MAX_THEME_FILE => {}
        _ => return not_found_page(&state, &headers),
    }
    match tokio::fs::read(&path).await {
        Ok(bytes) => crate::http::with_etag(&headers, StatusCode::OK, content_type, bytes),
        Err(_) => not_found_page(&state, &headers),
    }
}

pub async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET,
    )
        .into_response()
}
