//! Derived state follows the store: every story whose state or current version changed is
//! re-read and put into the search index (published) or taken out (anything else), and a
//! published story joins its cluster (stories about the same event, `verbatim-cluster`). The
//! position reached is saved with each index commit, so `serve` resumes where it stopped, a new
//! node builds its index from the store, and `verbatim reindex` is the same walk from the start.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;
use verbatim_search::{SearchDoc, SearchError, SearchIndex};
use verbatim_store::{Store, StoryRecord, StoryState, format_time, parse_time};

/// How often `serve` looks for changes.
pub const FOLLOW_TICK: Duration = Duration::from_millis(250);
/// Changes are re-read this far behind the mark: two processes writing the store may commit
/// slightly out of their clocks' order, and a change stamped just before the mark must not be
/// missed.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(2);
/// Stories read per store query.
const PAGE: usize = 1_000;

/// The story as the index holds it, or `None` when it must not be found.
pub fn search_doc(story: &StoryRecord) -> Option<SearchDoc> {
    if story.state != StoryState::Published {
        return None;
    }
    let version = story.current.as_ref()?;
    let item = &version.item;
    Some(SearchDoc {
        id: story.id.clone(),
        source: story.source.clone(),
        language: item.language.clone(),
        headline: story.headline_override.as_ref().map_or_else(
            || item.headline.clone(),
            |headline| headline.headline.clone(),
        ),
        // A link-only story is found by its headline: its text is not the publisher's to show.
        body_text: if version.link_only {
            String::new()
        } else {
            item.body_text.clone()
        },
        published: item.versioncreated.unwrap_or(version.received_at),
        sections: story.sections.clone(),
    })
}

/// Stories older than this are no longer matched against (events end); they keep their cluster.
const CLUSTER_WINDOW: chrono::Duration = chrono::Duration::hours(48);

/// Follows the store from the index's mark.
pub struct Follower {
    mark: DateTime<Utc>,
    /// Changes already indexed inside the overlap window, so they are not indexed again.
    recent: HashMap<String, DateTime<Utc>>,
    clusters: verbatim_cluster::Clusterer,
}

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Store(#[from] verbatim_store::StoreError),
    #[error(transparent)]
    Search(#[from] SearchError),
}

impl Follower {
    /// Starts at the index's saved mark (from the beginning for a new index).
    pub fn new(index: &SearchIndex) -> Follower {
        let mark = index
            .mark()
            .and_then(|mark| parse_time(&mark).ok())
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        Follower {
            mark,
            recent: HashMap::new(),
            clusters: verbatim_cluster::Clusterer::new(),
        }
    }

    /// Puts the last 48 hours of clustered stories back into the clusterer, so new stories join
    /// the clusters they belong to after a restart.
    pub async fn restore_clusters(&mut self, store: &dyn Store) -> Result<usize, FollowError> {
        let since = Utc::now() - CLUSTER_WINDOW;
        let stored = store.cluster_signatures(since).await?;
        let mut restored = 0;
        for (id, cluster, bytes, time) in stored {
            if let Ok(signature) = verbatim_cluster::Signature::from_bytes(&bytes) {
                self.clusters.restore(
                    &id,
                    &signature,
                    time,
                    verbatim_cluster::ClusterId(cluster.max(0) as u64),
                );
                restored += 1;
            }
        }
        Ok(restored)
    }

    /// Assigns a published story to its cluster (recorded in the store when it changes) or takes
    /// a story that is no longer published out of the clusterer.
    async fn cluster(&mut self, store: &dyn Store, story: &StoryRecord) -> Result<(), FollowError> {
        let Some(doc) = search_doc(story) else {
            self.clusters.remove(&story.id);
            return Ok(());
        };
        let signature =
            verbatim_cluster::Signature::new(&doc.source, &doc.headline, &doc.body_text);
        let cluster = self.clusters.insert(&story.id, &signature, doc.published);
        let cluster = i64::try_from(cluster.0).unwrap_or(i64::MAX);
        if story.cluster_id != Some(cluster) {
            store
                .set_cluster(&story.id, cluster, &signature.to_bytes(), doc.published)
                .await?;
        }
        Ok(())
    }

    /// From the beginning (after the index was cleared).
    pub fn from_start() -> Follower {
        Follower {
            mark: DateTime::<Utc>::MIN_UTC,
            recent: HashMap::new(),
            clusters: verbatim_cluster::Clusterer::new(),
        }
    }

    /// Applies every change since the mark; returns how many stories were (re)indexed or removed.
    pub async fn catch_up(
        &mut self,
        store: &dyn Store,
        index: &SearchIndex,
    ) -> Result<usize, FollowError> {
        let mut since = self
            .mark
            .checked_sub_signed(OVERLAP)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut applied = 0;
        let mut newest = self.mark;
        loop {
            let mut limit = PAGE;
            let mut stories = store.changed_stories(since, limit).await?;
            // A full page that does not get past its first timestamp: read that instant whole.
            while stories.len() == limit
                && stories.first().map(|story| story.changed_at)
                    == stories.last().map(|story| story.changed_at)
                && limit < 10_000
            {
                limit *= 10;
                stories = store.changed_stories(since, limit).await?;
            }
            let full = stories.len() == limit;
            for story in &stories {
                newest = newest.max(story.changed_at);
                if self.recent.get(&story.id) == Some(&story.changed_at) {
                    continue;
                }
                match search_doc(story) {
                    Some(doc) => index.upsert(&doc)?,
                    None => index.remove(&story.id)?,
                }
                self.cluster(store, story).await?;
                self.recent.insert(story.id.clone(), story.changed_at);
                applied += 1;
            }
            match stories.last() {
                Some(last) if full && last.changed_at > since => since = last.changed_at,
                _ => break,
            }
        }
        if applied > 0 {
            index.commit_with_mark(&format_time(newest))?;
        }
        self.mark = newest;
        if let Some(window_start) = self.mark.checked_sub_signed(OVERLAP) {
            self.recent.retain(|_, changed| *changed >= window_start);
        }
        if applied > 0 {
            self.clusters.retire_before(Utc::now() - CLUSTER_WINDOW);
        }
        Ok(applied)
    }
}

/// `serve`'s loop: keeps the index within a tick of the store.
pub async fn follow(store: std::sync::Arc<dyn Store>, index: std::sync::Arc<SearchIndex>) {
    let mut follower = Follower::new(&index);
    match follower.restore_clusters(&*store).await {
        Ok(restored) => tracing::debug!(restored, "story clusters restored"),
        Err(error) => tracing::error!(%error, "cannot restore story clusters"),
    }
    loop {
        if let Err(error) = follower.catch_up(&*store, &index).await {
            tracing::error!(%error, "search index update failed");
        }
        tokio::time::sleep(FOLLOW_TICK).await;
    }
}
