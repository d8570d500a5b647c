//! publish: everything readers and downstream systems see, built from committed state only —
//! the site (`site`), the out-feeds (`feeds`) and the JSON API (`api`), on one axum router.
//! Every response carries security headers and a validator; HTML pages send a strict CSP.

mod api;
mod desk;
mod diff;
mod feeds;
mod http;
mod live;
mod search;
mod seo;
mod site;
mod view;
mod websub;

pub use api::{ADMIN_TOKEN_SETTING, IngestError, PushReceipt, PushSink};
pub use live::Live;
pub use websub::{WebSubSink, WebSubVerification};

use axum::Router;
use axum::routing::{get, post};
use std::path::PathBuf;
use std::sync::Arc;
use verbatim_store::Store;

/// What the operator configures about the site.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    pub title: String,
    /// The public address of the site, used in feeds and the API's `url` (no trailing slash).
    pub base_url: String,
    /// The notice line under every story; `{{ source }}`, `{{ received }}` and `{{ link }}` are
    /// replaced. A source's own notice overrides it.
    pub notice: String,
    /// A folder whose templates override the built-in ones, file by file.
    pub templates_dir: Option<PathBuf>,
    /// How many stories a feed carries.
    pub feed_size: usize,
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            title: "Verbatim".to_string(),
            base_url: "http://127.0.0.1:8080".to_string(),
            notice: DEFAULT_NOTICE.to_string(),
            templates_dir: None,
            feed_size: 50,
        }
    }
}

/// The default notice line.
pub const DEFAULT_NOTICE: &str = "Published automatically from the {{ source }} feed, received {{ received }}. The text is exactly as the agency sent it, unmodified.";

/// What every handler reads. Cloned for each request, so it is one `Arc`; its fields are read
/// through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The fields of [`AppState`].
#[derive(Clone)]
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub site: Arc<SiteConfig>,
    pub templates: Arc<minijinja::Environment<'static>>,
    pub push: Option<Arc<dyn PushSink>>,
    /// The WebSub callback's handler, when the server subscribes to hubs.
    pub websub: Option<Arc<dyn WebSubSink>>,
    /// The full-text index (`/search`, the API's `q`); without it `q` is a plain substring match.
    pub search: Option<Arc<verbatim_search::SearchIndex>>,
    /// The live-update broadcaster (`/events`).
    pub live: Option<Arc<live::Live>>,
    /// Rendered article pages, valid until the store next changes.
    pub pages: Arc<site::PageCache>,
    /// Which changes the page cache has seen: this process's own writes at once (the store
    /// counts them in memory), other processes' through the store's change token, read by a
    /// background task and never older than 50 ms when a cached page is served.
    pub changes: Arc<site::ChangeWatch>,
    /// The site's public keys (current first), served at the well-known URL and used to check
    /// signatures on provenance pages.
    pub keys: Arc<Vec<verbatim_provenance::PublicKey>>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        site: SiteConfig,
        push: Option<Arc<dyn PushSink>>,
    ) -> AppState {
        let templates = site::environment(site.templates_dir.clone());
        AppState(Arc::new(Shared {
            store,
            site: Arc::new(site),
            templates: Arc::new(templates),
            push,
            websub: None,
            search: None,
            live: None,
            pages: Arc::default(),
            changes: Arc::default(),
            keys: Arc::new(Vec::new()),
        }))
    }

    /// The fields, to change while the state is being built (copied if already shared).
    fn shared(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.0)
    }

    /// Starts the live-update watcher (needs a tokio runtime) and serves `/events`.
    pub fn with_live(mut self) -> AppState {
        let live = live::Live::start(self.store.clone(), self.site.clone());
        self.shared().live = Some(live);
        self
    }

    /// Searches with this index.
    pub fn with_search(mut self, search: Arc<verbatim_search::SearchIndex>) -> AppState {
        self.shared().search = Some(search);
        self
    }

    /// Handles WebSub verifications and deliveries at `/websub/{source}`.
    pub fn with_websub(mut self, websub: Arc<dyn WebSubSink>) -> AppState {
        self.shared().websub = Some(websub);
        self
    }

    /// The public keys provenance records are checked with.
    pub fn with_keys(mut self, keys: Vec<verbatim_provenance::PublicKey>) -> AppState {
        self.shared().keys = Arc::new(keys);
        self
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Where the site's public keys are published.
pub const KEYS_PATH: &str = "/.well-known/verbatim-keys.json";

/// The whole HTTP interface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(site::front))
        .route("/items/{id}", get(site::article))
        .route("/items/{id}/history", get(site::history))
        .route("/items/{id}/provenance", get(site::provenance))
        .route(KEYS_PATH, get(api::keys))
        .route("/static/style.css", get(site::stylesheet))
        .route("/static/live.js", get(site::live_script))
        .route("/static/theme/{file}", get(site::theme_file))
        .route("/events", get(live::events))
        .route("/search", get(search::page))
        .route("/robots.txt", get(seo::robots))
        .route("/sitemap.xml", get(seo::index))
        .route("/sitemaps/news.xml", get(seo::news))
        .route("/sitemaps/{file}", get(seo::stories))
        .route("/feeds/all.atom", get(feeds::atom))
        .route("/feeds/all.rss", get(feeds::rss))
        .route("/feeds/all.json", get(feeds::json_feed))
        .route("/feeds/sources/{file}", get(feeds::source_feed))
        .route("/sources/{name}", get(site::source_page))
        .route("/feeds/sections/{file}", get(feeds::section_feed))
        .route("/sections/{name}", get(site::section_page))
        .route("/admin", get(desk::overview))
        .route("/admin/login", get(desk::login_form).post(desk::login))
        .route("/admin/held", get(desk::held_list))
        .route("/admin/held/{id}/{decision}", post(desk::held_decide))
        .route("/api/v1/items", get(api::list))
        .route("/api/v1/items/{id}", get(api::one))
        .route("/api/v1/push/{source}", post(api::push))
        .route("/api/v1/sources", get(api::sources))
        .route("/api/v1/clusters/{id}", get(api::cluster))
        .route(
            "/websub/{source}",
            get(websub::verify).post(websub::deliver),
        )
        .route("/healthz", get(api::health))
        .route("/metrics", get(api::metrics))
        .fallback(site::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(api::MAX_PUSH_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.store.clone(),
            http::policy,
        ))
        // gzip or brotli when the client accepts it; event streams and tiny bodies are left
        // alone (tower-http's default predicate).
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}
