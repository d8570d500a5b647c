//! Derived state follows the store: every story whose state or current version changed is
//! re-read and put into the search index (published) or taken out (anything else), and a
//! published story joins its cluster (stories about the same event, `verbatim-cluster`). The
//! position reached is saved with each index commit, so `serve` resumes where it stopped, a new
//! node builds its index from the store, and `verbatim reindex` is the same walk from the start.
//! Saved searches ride on the same walk: each new story the index takes is matched against
//! them, and a match becomes a webhook event, once per story and search.

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use verbatim_search::{CommonWords, CommonWordsLearner, SearchDoc, SearchError, SearchIndex};
use verbatim_store::{
    ChangeCursor, ClusterAssignment, Store, StoryRecord, StoryState, format_time, parse_time,
};

/// How often `serve` looks for changes.
pub const FOLLOW_TICK: Duration = Duration::from_millis(250);
/// Stories read from the store, clustered and indexed at a time.
const PAGE: usize = 1_000;
/// During a long catch-up the index commits at most this often (and always when caught up):
/// a commit waits for the indexing threads to write their segments, and each small segment is
/// merged again later, so committing every page kept the follower waiting.
const CATCH_UP_COMMIT_EVERY: Duration = Duration::from_secs(1);

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

/// The common words of the published stories, for a rebuilt index (`verbatim reindex`): word
/// pairs are indexed where one of the two words is common, and the stories' own most frequent
/// words (with the built-in set) are the ones whose phrases are worth pairs. One pass over the
/// store, a page at a time.
pub async fn learn_common_words(store: &dyn Store) -> Result<CommonWords, FollowError> {
    let mut learner = CommonWordsLearner::new(
        verbatim_search::LEARN_MIN_FRACTION,
        verbatim_search::LEARN_MAX_WORDS,
    );
    let mut changes = ChangeCursor::new(DateTime::<Utc>::MIN_UTC);
    loop {
        let batch = changes.next(store, PAGE).await?;
        for doc in batch.stories.iter().filter_map(search_doc) {
            learner.add(&doc);
        }
        if !batch.more {
            break;
        }
    }
    Ok(learner.finish().union(&CommonWords::default()))
}

/// Stories older than this are no longer matched against (events end); they keep their cluster.
const CLUSTER_WINDOW: chrono::Duration = chrono::Duration::hours(48);

/// Follows the store from the index's mark.
pub struct Follower {
    /// Where the index is in the store's change order (each change is read once).
    changes: ChangeCursor,
    clusters: verbatim_cluster::Clusterer,
    searches: Option<SavedSearches>,
    /// Among several nodes, only the node holding the `cluster` lease assigns clusters (each
    /// node's clusterer would number them its own way); `None`: this process always does.
    cluster_role: Option<Arc<crate::node::Node>>,
    /// Whether this follower assigned clusters at its last catch-up.
    clustering: bool,
    /// When the cluster lease was last taken or renewed (every fifth of the lease period).
    role_checked: Option<std::time::Instant>,
}

/// The lease of the node that assigns clusters.
const CLUSTER_ROLE: &str = "cluster";

/// A saved search: its query and the endpoint told of matches.
#[derive(Debug, Clone)]
pub struct SavedSearch {
    pub name: String,
    pub query: verbatim_search::SearchQuery,
    pub endpoint_url: String,
}

/// The saved searches, and how far matching got: stories received after the mark are new.
/// The mark is kept in the store, so a rebuilt index does not notify its whole history again.
pub struct SavedSearches {
    pub searches: Vec<SavedSearch>,
    pub base_url: String,
    mark: Option<DateTime<Utc>>,
}

/// The setting that holds how far saved searches got.
const SEARCHES_MARK: &str = "saved_searches_mark";

impl SavedSearches {
    pub fn new(searches: Vec<SavedSearch>, base_url: String) -> SavedSearches {
        SavedSearches {
            searches,
            base_url,
            mark: None,
        }
    }

    /// Matches the new stories among `stories` (just indexed) and records one event per match.
    async fn notify(
        &mut self,
        store: &dyn Store,
        index: &SearchIndex,
        stories: &[StoryRecord],
    ) -> Result<(), FollowError> {
        let mark = match self.mark {
            Some(mark) => mark,
            None => {
                // First pass: from the saved mark, or from now (history is not replayed).
                let saved = store
                    .setting(SEARCHES_MARK)
                    .await?
                    .and_then(|mark| parse_time(&mark).ok());
                let mark = saved.unwrap_or_else(Utc::now);
                self.mark = Some(mark);
                mark
            }
        };
        let fresh: Vec<&StoryRecord> = stories
            .iter()
            .filter(|story| story.state == StoryState::Published)
            .filter(|story| {
                story.current.as_ref().is_some_and(|version| {
                    version.received_at > mark - verbatim_store::changes::OVERLAP
                })
            })
            .collect();
        let Some(newest) = fresh
            .iter()
            .filter_map(|story| story.current.as_ref().map(|version| version.received_at))
            .max()
        else {
            return Ok(());
        };
        let ids: Vec<String> = fresh.iter().map(|story| story.id.clone()).collect();
        for search in &self.searches {
            for chunk in ids.chunks(verbatim_search::MAX_LIMIT) {
                let results = index.search(&verbatim_search::SearchQuery {
                    only_ids: Some(chunk.to_vec()),
                    offset: 0,
                    limit: verbatim_search::MAX_LIMIT,
                    ..search.query.clone()
                })?;
                for hit in results.hits {
                    let Some(story) = fresh.iter().find(|story| story.id == hit.id) else {
                        continue;
                    };
                    let body = search_payload(&self.base_url, &search.name, story);
                    // One event per story and search: the fixed time makes a repeat a no-op.
                    store
                        .add_webhook_event(
                            &format!("{}#search:{}", story.id, search.name),
                            DateTime::<Utc>::UNIX_EPOCH,
                            "search",
                            &body,
                            std::slice::from_ref(&search.endpoint_url),
                            Utc::now(),
                        )
                        .await?;
                }
            }
        }
        if newest > mark {
            self.mark = Some(newest);
            store
                .set_setting(SEARCHES_MARK, &format_time(newest))
                .await?;
        }
        Ok(())
    }
}

fn search_payload(base_url: &str, search: &str, story: &StoryRecord) -> String {
    let headline = story
        .current
        .as_ref()
        .map(|version| version.item.headline.clone())
        .unwrap_or_default();
    serde_json::json!({
        "event": "search",
        "search": search,
        "id": story.id,
        "source": story.source,
        "guid": story.guid,
        "headline": headline,
        "url": format!("{base_url}/items/{}", story.id),
        "api": format!("{base_url}/api/v1/items/{}", story.id),
    })
    .to_string()
}

/// Assigns a published story (its document and signature) to its cluster or takes a story that
/// is no longer published out of the clusterer. A changed assignment is returned, for the store.
fn cluster_story(
    clusters: &mut verbatim_cluster::Clusterer,
    story_id: &str,
    stored_cluster: Option<i64>,
    published: Option<(&SearchDoc, verbatim_cluster::Signature)>,
) -> Option<ClusterAssignment> {
    let Some((doc, signature)) = published else {
        clusters.remove(story_id);
        return None;
    };
    let cluster = clusters.insert(story_id, &signature, doc.published);
    let cluster = i64::try_from(cluster.0).unwrap_or(i64::MAX);
    (stored_cluster != Some(cluster)).then(|| ClusterAssignment {
        story_id: story_id.to_string(),
        cluster_id: cluster,
        signature: signature.to_bytes(),
        story_time: doc.published,
    })
}

/// Threads a page's cluster signatures are computed on at most.
const SIGNATURE_THREADS: usize = 4;
/// Below this many stories a page's signatures are computed on the clustering thread alone.
const SIGNATURES_PER_THREAD: usize = 64;

/// The cluster signatures of a page's published stories (`None` for the others), in order.
/// Each depends on its own story only, so they are computed on several threads (up to the
/// machine's cores, at most [`SIGNATURE_THREADS`]); only inserting them into the clusterer has
/// to go one story after another, which keeps the one clustering thread's share per story
/// down to the inserts. A panic on one of the threads is the job's panic, as on one thread.
fn signatures_of(docs: &[Option<SearchDoc>]) -> Vec<Option<verbatim_cluster::Signature>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(SIGNATURE_THREADS)
        .min(docs.len() / SIGNATURES_PER_THREAD);
    signatures_on(docs, threads)
}

/// [`signatures_of`] on `threads` threads (one: this one).
fn signatures_on(
    docs: &[Option<SearchDoc>],
    threads: usize,
) -> Vec<Option<verbatim_cluster::Signature>> {
    let sign = |doc: &Option<SearchDoc>| {
        doc.as_ref()
            .map(|doc| verbatim_cluster::Signature::new(&doc.source, &doc.headline, &doc.body_text))
    };
    if threads <= 1 {
        return docs.iter().map(sign).collect();
    }
    let part = docs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        // A part whose thread cannot be started is signed here instead.
        let parts: Vec<_> = docs
            .chunks(part)
            .map(|docs| {
                std::thread::Builder::new()
                    .name("verbatim-sign".into())
                    .spawn_scoped(scope, move || docs.iter().map(sign).collect::<Vec<_>>())
                    .map_err(|_| docs)
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|part| match part {
                Ok(thread) => thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(docs) => docs.iter().map(sign).collect(),
            })
            .collect()
    })
}

/// Where the index's last commit left the follower (the beginning for a new index).
fn committed_mark(index: &SearchIndex) -> DateTime<Utc> {
    index
        .mark()
        .and_then(|mark| parse_time(&mark).ok())
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A page being clustered on a blocking thread: the clusterer and the page's changed
/// assignments come back.
type ClusteringJob = tokio::task::JoinHandle<(verbatim_cluster::Clusterer, Vec<ClusterAssignment>)>;

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Store(#[from] verbatim_store::StoreError),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error("clustering a page of stories failed: {0}")]
    Clustering(String),
}

impl Follower {
    /// Starts at the index's saved mark (from the beginning for a new index).
    pub fn new(index: &SearchIndex) -> Follower {
        Follower {
            changes: ChangeCursor::new(committed_mark(index)),
            clusters: verbatim_cluster::Clusterer::new(),
            searches: None,
            cluster_role: None,
            clustering: true,
            role_checked: None,
        }
    }

    /// Assigns clusters only while this node holds the `cluster` lease.
    pub fn with_cluster_role(mut self, node: Arc<crate::node::Node>) -> Follower {
        self.cluster_role = Some(node);
        self.clustering = false;
        self
    }

    /// Matches new stories against saved searches as it indexes them.
    pub fn with_saved_searches(mut self, searches: SavedSearches) -> Follower {
        if !searches.searches.is_empty() {
            self.searches = Some(searches);
        }
        self
    }

    /// Puts the last 48 hours of clustered stories back into the clusterer, so new stories join
    /// the clusters they belong to after a restart. A signature stored by a build with another
    /// signature version (or unreadable) is computed again from the story and stored.
    pub async fn restore_clusters(&mut self, store: &dyn Store) -> Result<usize, FollowError> {
        let since = Utc::now() - CLUSTER_WINDOW;
        let stored = store.cluster_signatures(since).await?;
        let mut restored = 0;
        let mut signed_again = Vec::new();
        for (id, cluster, bytes, time) in stored {
            let cluster_id = verbatim_cluster::ClusterId(cluster.max(0) as u64);
            let signature = match verbatim_cluster::Signature::from_bytes(&bytes) {
                Ok(signature) => signature,
                Err(_) => {
                    let Some(doc) = store.story(&id).await?.as_ref().and_then(search_doc) else {
                        continue;
                    };
                    let signature = verbatim_cluster::Signature::new(
                        &doc.source,
                        &doc.headline,
                        &doc.body_text,
                    );
                    signed_again.push(ClusterAssignment {
                        story_id: id.clone(),
                        cluster_id: cluster,
                        signature: signature.to_bytes(),
                        story_time: time,
                    });
                    signature
                }
            };
            self.clusters.restore(&id, &signature, time, cluster_id);
            restored += 1;
        }
        if !signed_again.is_empty() {
            tracing::info!(
                stories = signed_again.len(),
                "cluster signatures of another version computed again"
            );
            store.set_clusters(&signed_again).await?;
        }
        Ok(restored)
    }

    /// From the beginning (after the index was cleared).
    pub fn from_start() -> Follower {
        Follower {
            changes: ChangeCursor::new(DateTime::<Utc>::MIN_UTC),
            clusters: verbatim_cluster::Clusterer::new(),
            searches: None,
            cluster_role: None,
            clustering: true,
            role_checked: None,
        }
    }

    /// Starts clustering `stories` on a blocking thread, the clusterer with it (`None` when
    /// this node does not assign clusters, or for an empty page: an idle follower's every tick).
    fn start_clustering(
        &mut self,
        stories: &[StoryRecord],
        docs: &Arc<Vec<Option<SearchDoc>>>,
    ) -> Option<ClusteringJob> {
        if !self.clustering || stories.is_empty() {
            return None;
        }
        let mut clusters =
            std::mem::replace(&mut self.clusters, verbatim_cluster::Clusterer::new());
        let stories: Vec<(String, Option<i64>)> = stories
            .iter()
            .map(|story| (story.id.clone(), story.cluster_id))
            .collect();
        let docs = Arc::clone(docs);
        Some(tokio::task::spawn_blocking(move || {
            let signatures = signatures_of(&docs);
            let assignments: Vec<ClusterAssignment> = stories
                .iter()
                .zip(docs.iter().zip(signatures))
                .filter_map(|((id, stored), (doc, signature))| {
                    let published = doc.as_ref().zip(signature);
                    cluster_story(&mut clusters, id, *stored, published)
                })
                .collect();
            (clusters, assignments)
        }))
    }

    /// Waits for a clustering job and takes its clusterer back; returns the assignments to
    /// store. A job that failed lost the clusterer with it: the clusters are restored from the
    /// store and the failure is returned.
    async fn take_clusterer_back(
        &mut self,
        store: &dyn Store,
        job: Option<ClusteringJob>,
    ) -> Result<Vec<ClusterAssignment>, FollowError> {
        let Some(job) = job else {
            return Ok(Vec::new());
        };
        match job.await {
            Ok((clusters, assignments)) => {
                self.clusters = clusters;
                Ok(assignments)
            }
            Err(error) => {
                self.clusters = verbatim_cluster::Clusterer::new();
                self.restore_clusters(store).await?;
                Err(FollowError::Clustering(error.to_string()))
            }
        }
    }

    /// Applies every change since the mark; returns how many stories were (re)indexed or removed.
    /// After an error the follower starts again from the index's last commit: its cursor had
    /// moved past stories this catch-up did not finish, which would otherwise wait for a
    /// restart. Reading a story again is harmless (an upsert replaces it, a clustered story keeps
    /// its cluster, a saved search notifies once per story).
    pub async fn catch_up(
        &mut self,
        store: &dyn Store,
        index: &SearchIndex,
    ) -> Result<usize, FollowError> {
        let applied = self.apply_changes(store, index).await;
        if applied.is_err() {
            self.changes = ChangeCursor::new(committed_mark(index));
        }
        applied
    }

    async fn apply_changes(
        &mut self,
        store: &dyn Store,
        index: &SearchIndex,
    ) -> Result<usize, FollowError> {
        if let Some(node) = self.cluster_role.clone()
            && self
                .role_checked
                .is_none_or(|checked| checked.elapsed() >= node.lease / 5)
        {
            self.role_checked = Some(std::time::Instant::now());
            let was_clustering = self.clustering;
            self.clustering = node.hold(CLUSTER_ROLE).await;
            if self.clustering && !was_clustering {
                // Taking the role over: start from the clusters the store knows.
                self.clusters = verbatim_cluster::Clusterer::new();
                let restored = self.restore_clusters(store).await?;
                tracing::info!(node = %node.name, restored, "this node assigns story clusters");
            }
        }
        let mut pending = None;
        let applied = self.apply_pages(store, index, &mut pending).await;
        if pending.is_some() {
            // Only after an error: the clusterer comes back from the page it was clustering
            // before the error is returned. That page's assignments are not recorded; the
            // catch-up that follows an error reads its stories again.
            if let Err(error) = self.take_clusterer_back(store, pending).await {
                tracing::warn!(%error, "clustering failed too");
            }
        }
        let (applied, indexed) = applied?;
        if let Some(searches) = self.searches.as_mut()
            && !indexed.is_empty()
        {
            searches.notify(store, index, &indexed).await?;
        }
        if applied > 0 {
            self.clusters.retire_before(Utc::now() - CLUSTER_WINDOW);
        }
        Ok(applied)
    }

    /// The pages of changes since the mark, applied in order, each committed to the index as
    /// `apply_changes` says; returns how many stories were applied and the published
    /// ones for saved searches. A page is clustered on a blocking thread while the previous
    /// page's clusters are recorded, the page feeds the index and the next page is read: the
    /// clusterer goes with the job, in `pending`, and comes back before the next page starts
    /// clustering, so stories still go into it one after another, in order. An error leaves the
    /// job in `pending` for the caller to take back.
    async fn apply_pages(
        &mut self,
        store: &dyn Store,
        index: &SearchIndex,
        pending: &mut Option<ClusteringJob>,
    ) -> Result<(usize, Vec<StoryRecord>), FollowError> {
        let mut applied = 0;
        let mut indexed: Vec<StoryRecord> = Vec::new();
        let mut committed_at = std::time::Instant::now();
        loop {
            let started = std::time::Instant::now();
            let batch = self.changes.next(store, PAGE).await?;
            let read = started.elapsed();
            let docs: Arc<Vec<Option<SearchDoc>>> =
                Arc::new(batch.stories.iter().map(search_doc).collect());
            // The previous page, clustered while this one was read.
            let previous = self.take_clusterer_back(store, pending.take()).await?;
            let waited = started.elapsed();
            *pending = self.start_clustering(&batch.stories, &docs);
            store.set_clusters(&previous).await?;
            let stored = started.elapsed();
            batch
                .stories
                .iter()
                .zip(docs.iter())
                .try_for_each(|(story, doc)| match doc {
                    Some(doc) => index.upsert(doc),
                    None => index.remove(&story.id),
                })?;
            applied += batch.stories.len();
            if self.searches.is_some() {
                indexed.extend(
                    batch
                        .stories
                        .iter()
                        .filter(|story| story.state == StoryState::Published)
                        .cloned(),
                );
            }
            // Where a page's time goes, for an operator whose index lags (`VERBATIM_LOG=
            // verbatim::index=debug`): each figure is the time since the page started; waiting
            // for the previous page's clusters is what clustering adds to the follower's path.
            tracing::debug!(
                stories = batch.stories.len(),
                read_ms = read.as_millis() as u64,
                previous_clustered_ms = waited.as_millis() as u64,
                previous_stored_ms = stored.as_millis() as u64,
                index_fed_ms = started.elapsed().as_millis() as u64,
                "follower page"
            );
            if !batch.more {
                break;
            }
            // A long catch-up (a new node, a rebuilt index, a burst) commits as it goes, so
            // searches see its progress and a restart resumes from there.
            if applied > 0 && committed_at.elapsed() >= CATCH_UP_COMMIT_EVERY {
                self.record_pending_clusters(store, pending).await?;
                index.commit_with_mark(&format_time(self.changes.mark()))?;
                committed_at = std::time::Instant::now();
            }
        }
        self.record_pending_clusters(store, pending).await?;
        if applied > 0 {
            index.commit_with_mark(&format_time(self.changes.mark()))?;
        }
        Ok((applied, indexed))
    }

    /// Waits for the page being clustered and records its assignments: before the index's mark
    /// moves past its stories, so a restart never skips a story's cluster.
    async fn record_pending_clusters(
        &mut self,
        store: &dyn Store,
        pending: &mut Option<ClusteringJob>,
    ) -> Result<(), FollowError> {
        let assignments = self.take_clusterer_back(store, pending.take()).await?;
        store.set_clusters(&assignments).await?;
        Ok(())
    }
}

/// `serve`'s loop: keeps the index within a tick of the store.
pub async fn follow(
    store: Arc<dyn Store>,
    index: Arc<SearchIndex>,
    searches: SavedSearches,
    node: Arc<crate::node::Node>,
) {
    // Clusters are restored when this node takes the cluster role, at its first catch-up.
    let mut follower = Follower::new(&index)
        .with_saved_searches(searches)
        .with_cluster_role(node);
    loop {
        if let Err(error) = follower.catch_up(&*store, &index).await {
            tracing::error!(%error, "search index update failed");
        }
        tokio::time::sleep(FOLLOW_TICK).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verbatim_cluster::{ClusterId, Signature};
    use verbatim_item::{Item, Pubstatus};
    use verbatim_store::{NewVersion, SqliteStore};

    fn story(guid: &str, headline: &str, body: &str) -> Item {
        Item {
            source: "agency".into(),
            guid: guid.into(),
            version: Some(1),
            pubstatus: Pubstatus::Usable,
            headline: headline.into(),
            body_text: body.into(),
            text_hash: Some(guid.into()),
            ..Item::default()
        }
    }

    /// The signatures computed on several threads are each story's own, in page order, with
    /// `None` where a story is not published (a page large enough to be split).
    #[test]
    fn a_page_signed_on_several_threads_gives_each_story_its_own_signature() {
        let docs: Vec<Option<SearchDoc>> = (0..5 * SIGNATURES_PER_THREAD + 3)
            .map(|n| {
                (n % 7 != 3).then(|| SearchDoc {
                    id: format!("story-{n}"),
                    source: "agency".into(),
                    language: None,
                    headline: format!("Flood {n} in Drevik"),
                    body_text: format!("DREVIK (Agency) - Water rose {n} metres in Drevik {n}."),
                    published: DateTime::<Utc>::UNIX_EPOCH,
                    sections: Vec::new(),
                })
            })
            .collect();
        let one_by_one: Vec<Option<Vec<u8>>> = docs
            .iter()
            .map(|doc| {
                doc.as_ref().map(|doc| {
                    Signature::new(&doc.source, &doc.headline, &doc.body_text).to_bytes()
                })
            })
            .collect();
        // Three threads whatever the machine has (parts of unequal length at the end), then
        // as `serve` chooses.
        for together in [signatures_on(&docs, 3), signatures_of(&docs)] {
            let together: Vec<Option<Vec<u8>>> = together
                .into_iter()
                .map(|signature| signature.map(|signature| signature.to_bytes()))
                .collect();
            assert_eq!(together, one_by_one);
        }
    }

    /// A store in `dir` holding `items`, each committed (and published) as a new story; their
    /// story ids in order.
    async fn store_with(
        dir: &std::path::Path,
        items: impl IntoIterator<Item = Item>,
        now: DateTime<Utc>,
    ) -> Result<(SqliteStore, Vec<String>), Box<dyn std::error::Error>> {
        let store = SqliteStore::open(&dir.join("verbatim.db")).await?;
        let mut ids = Vec::new();
        for item in items {
            ids.push(store.commit(&NewVersion::plain(item), now).await?.id);
        }
        Ok((store, ids))
    }

    #[tokio::test]
    async fn every_page_of_a_long_catch_up_is_clustered_and_stored()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let body = "DREVIK, Valdoria (Northwire) - A magnitude 6.4 earthquake struck Kessara \
                    province early on Tuesday, killing 12 people, the civil protection agency \
                    said. Rescue teams searched the rubble in the village of Hollin.";
        // More than two pages.
        let items = (0..(2 * PAGE + 10))
            .map(|number| story(&format!("quake-{number}"), "Quake strikes Valdoria", body));
        let (store, ids) = store_with(dir.path(), items, Utc::now()).await?;
        let index = SearchIndex::open(&dir.path().join("search"))?;
        let mut follower = Follower::from_start();
        assert_eq!(follower.catch_up(&store, &index).await?, ids.len());
        // The clusterer came back with every story, and the store has every assignment.
        assert_eq!(follower.clusters.len(), ids.len());
        let stored = store
            .cluster_signatures(Utc::now() - CLUSTER_WINDOW)
            .await?;
        assert_eq!(stored.len(), ids.len());
        let first = follower
            .clusters
            .cluster_of(&ids[0])
            .ok_or("not clustered")?;
        for id in &ids {
            let record = store.story(id).await?.ok_or("story missing")?;
            assert_eq!(record.cluster_id, Some(first.0 as i64), "{id}");
        }
        assert_eq!(index.mark(), Some(format_time(follower.changes.mark())));
        Ok(())
    }

    #[tokio::test]
    async fn a_failed_catch_up_starts_again_from_the_last_commit()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let items = (0..3).map(|number| {
            story(
                &format!("s-{number}"),
                "Ferries sail again",
                "Ferries sailed.",
            )
        });
        let (store, _) = store_with(dir.path(), items, Utc::now()).await?;
        // An index this process cannot write to: the first page fails to index.
        let locked = dir.path().join("locked");
        drop(SearchIndex::open(&locked)?);
        let read_only = SearchIndex::open_read_only(&locked)?;
        let mut follower = Follower::from_start();
        assert!(follower.catch_up(&store, &read_only).await.is_err());
        // Nothing was lost: the next catch-up reads the same stories again.
        let index = SearchIndex::open(&dir.path().join("search"))?;
        assert_eq!(follower.catch_up(&store, &index).await?, 3);
        assert_eq!(follower.clusters.len(), 3);
        Ok(())
    }

    #[tokio::test]
    async fn a_signature_of_another_version_is_computed_again_when_clusters_are_restored()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let now = Utc::now();
        let item = story(
            "quake",
            "Quake strikes Valdoria",
            "DREVIK, Valdoria (Northwire) - A magnitude 6.4 earthquake struck Kessara province \
             early on Tuesday, the civil protection agency said.",
        );
        let (store, ids) = store_with(dir.path(), [item], now).await?;
        let story = ids.first().ok_or("not committed")?.clone();
        // As a build with another signature version stored it.
        let mut old = Signature::new("agency", "Quake", "Quake in Valdoria").to_bytes();
        old[0] = Signature::VERSION.wrapping_sub(1);
        store
            .set_clusters(&[ClusterAssignment {
                story_id: story.clone(),
                cluster_id: 5,
                signature: old,
                story_time: now,
            }])
            .await?;

        let mut follower = Follower::from_start();
        assert_eq!(follower.restore_clusters(&store).await?, 1);
        assert_eq!(follower.clusters.cluster_of(&story), Some(ClusterId(5)));
        let stored = store.cluster_signatures(now - CLUSTER_WINDOW).await?;
        let (id, cluster, bytes, _) = stored.first().ok_or("no signature stored")?;
        assert_eq!((id, *cluster), (&story, 5));
        let expected = store
            .story(&story)
            .await?
            .as_ref()
            .and_then(search_doc)
            .map(|doc| Signature::new(&doc.source, &doc.headline, &doc.body_text))
            .ok_or("the story is not published")?;
        assert_eq!(Signature::from_bytes(bytes)?, expected);
        Ok(())
    }
}
