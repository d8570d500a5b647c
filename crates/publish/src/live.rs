//! Live updates (`GET /events`, Server-Sent Events): an open front page, source page or article
//! learns of new, updated and removed stories without reloading. One watcher per server reads
//! the store's changes (so copy ingested by any process is seen) and broadcasts them; each open
//! page is one subscriber. `static/live.js` applies them with DOM methods only (no HTML from
//! the stream is ever parsed).

use crate::AppState;
use crate::view::StoryView;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use verbatim_store::{Store, StoryState};

/// How often the watcher asks the store for changes.
const WATCH_TICK: Duration = Duration::from_millis(250);
/// Events a slow page may fall behind by before it is told to reload.
const BACKLOG: usize = 256;
/// Open event streams at most; more are answered 503.
pub const MAX_SUBSCRIBERS: usize = 1_000;

/// One change as pages see it.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LiveEvent {
    /// A story was published or its current version changed.
    Story(Box<LiveStory>),
    /// A story is no longer shown (killed, withheld, held again).
    Removed { id: String },
}

/// A story as a live page inserts it.
#[derive(Debug, Clone, Serialize)]
pub struct LiveStory {
    id: String,
    path: String,
    source: String,
    headline: String,
    language: String,
    dir: &'static str,
    time_iso: String,
    time_display: String,
    teaser: String,
    sections: Vec<String>,
}

/// The broadcaster: started once per server, shared by every `/events` request.
pub struct Live {
    sender: broadcast::Sender<LiveEvent>,
}

impl Live {
    /// Starts the watcher on the current tokio runtime.
    pub fn start(store: Arc<dyn Store>, site: Arc<crate::SiteConfig>) -> Arc<Live> {
        let (sender, _) = broadcast::channel(BACKLOG);
        let live = Arc::new(Live { sender });
        let watcher = live.clone();
        tokio::spawn(async move { watcher.watch(store, site).await });
        live
    }

    async fn watch(&self, store: Arc<dyn Store>, site: Arc<crate::SiteConfig>) {
        // Only changes from now on: a page loaded now already shows the rest.
        let mut changes = verbatim_store::ChangeCursor::new(chrono::Utc::now());
        loop {
            tokio::time::sleep(WATCH_TICK).await;
            if self.sender.receiver_count() == 0 {
                // No page open: move past the changes without reading the stories. A page
                // opened later gets the changes from the next tick on, as it did when they
                // were read (a page rendered, then subscribed, is told what changed after the
                // tick before it subscribed). One that subscribed during this pass gets what
                // was passed (a story it already shows comes again and moves to the top).
                if let Ok(passed) = changes.pass(&*store).await
                    && self.sender.receiver_count() > 0
                {
                    for id in &passed {
                        changes.retry(id);
                    }
                }
                continue;
            }
            let Ok(batch) = changes.next(&*store, usize::MAX).await else {
                continue;
            };
            for story in batch.stories {
                let event = match (story.state, story.current.as_ref()) {
                    (StoryState::Published, Some(version)) => {
                        let view = StoryView::new(&site, &story, version, String::new());
                        LiveEvent::Story(Box::new(LiveStory {
                            id: view.id,
                            path: view.path,
                            source: view.source,
                            headline: view.headline,
                            language: view.language,
                            dir: view.dir,
                            time_iso: view.time_iso,
                            time_display: view.time_display,
                            teaser: view.teaser,
                            sections: view.sections,
                        }))
                    }
                    _ => LiveEvent::Removed { id: story.id },
                };
                // No subscriber is not an error.
                let _ = self.sender.send(event);
            }
        }
    }
}

/// `GET /events`: the event stream (`story` and `removed` events, JSON data).
pub async fn events(State(state): State<AppState>) -> Response {
    let Some(live) = &state.live else {
        return (axum::http::StatusCode::NOT_FOUND, "live updates are off").into_response();
    };
    if live.sender.receiver_count() >= MAX_SUBSCRIBERS {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "too many live pages open",
        )
            .into_response();
    }
    let receiver = live.sender.subscribe();
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let event = match receiver.recv().await {
            Ok(event) => {
                let name = match &event {
                    LiveEvent::Story(_) => "story",
                    LiveEvent::Removed { .. } => "removed",
                };
                let data = serde_json::to_string(&event).unwrap_or_default();
                Event::default().event(name).data(data)
            }
            // Fell behind: tell the page to reload rather than show a partial picture.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                Event::default().event("reload").data("{}")
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok::<Event, Infallible>(event), receiver))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
