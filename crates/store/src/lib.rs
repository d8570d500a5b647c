//! store: the one interface to everything Verbatim keeps — sources, the raw archive's records,
//! stories and their versions. `commit` (in the binary) is its only writer; `publish` reads it.
//! SQLite is the embedded implementation; other backends implement the same trait.

pub mod archive;
pub mod changes;
pub mod copy;
pub mod lifecycle;
mod postgres;
mod rows;
mod sqlite;
mod sqlite_reader;
mod sqlite_writer;
pub mod throwaway_postgres;

pub use archive::RawArchive;
pub use changes::ChangeCursor;
pub use copy::{CopyProgress, CopyReport, copy_sqlite_to_postgres};
pub use lifecycle::{Resolution, StoryState, VersionFacts, resolve, story_order};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use verbatim_item::Item;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    #[error("source {0:?} already exists")]
    SourceExists(String),
    #[error("no source named {0:?}")]
    NoSuchSource(String),
    #[error("no story with id {0:?}")]
    NotFound(String),
    #[error("unsupported store URL {0:?} (use sqlite://PATH or postgres://…)")]
    UnsupportedUrl(String),
}

/// The time a store's single write connection has been held, all commits together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterTime {
    /// Wall time: a rate near one second a second means commits queue for the connection,
    /// however many cores the machine has.
    pub held: std::time::Duration,
    /// The holding thread's CPU time meanwhile: what the commits themselves cost, without the
    /// waits for a core on a busy machine (zero where the system cannot tell).
    pub cpu: std::time::Duration,
}

/// How a source delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Poll,
    Push,
    Inbox,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Poll => "poll",
            SourceKind::Push => "push",
            SourceKind::Inbox => "inbox",
        }
    }
}

/// A source as configured, with its health.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub name: String,
    pub url: Option<String>,
    pub kind: SourceKind,
    pub every_seconds: i64,
    /// The per-source notice line template, if the operator set one.
    pub notice: Option<String>,
    pub paused: bool,
    #[serde(skip)]
    pub push_token_sha256: Option<String>,
    /// The shared secret for HMAC-signed pushes, when the operator made one.
    #[serde(skip)]
    pub push_hmac_secret: Option<String>,
    /// How a polled source authenticates (a secret: never serialized).
    #[serde(skip)]
    pub auth: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub consecutive_errors: i64,
    pub next_due: Option<DateTime<Utc>>,
    /// The language the operator declared for the source (the quality gate compares).
    pub language: Option<String>,
    /// The node that fetched it last (several nodes on one PostgreSQL store).
    pub last_node: Option<String>,
}

/// A polled source whose next fetch is due, as the scheduler first sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DueSource {
    pub name: String,
    pub url: String,
}

/// Where a WebSub subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionState {
    /// Asked the hub; waiting for its verification request.
    Requested,
    /// Verified by the hub; deliveries are expected until `lease_until`.
    Active,
    /// The hub refused, denied or never verified; the source is polled as before.
    Failed,
}

impl SubscriptionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionState::Requested => "requested",
            SubscriptionState::Active => "active",
            SubscriptionState::Failed => "failed",
        }
    }
}

/// A source's WebSub subscription to its feed's hub.
#[derive(Debug, Clone, Serialize)]
pub struct Subscription {
    pub source: String,
    pub hub: String,
    pub topic: String,
    /// The `hub.secret` deliveries are signed with (never serialized).
    #[serde(skip)]
    pub secret: String,
    pub state: SubscriptionState,
    pub requested_at: DateTime<Utc>,
    pub lease_seconds: Option<i64>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub deliveries: i64,
    pub last_delivery: Option<DateTime<Utc>>,
}

impl Subscription {
    /// Verified and within its lease: the hub pushes, so polling can slow down.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.state == SubscriptionState::Active && self.lease_until.is_some_and(|until| until > now)
    }
}

/// A published story of a cluster, as a link: enough to list it, without its text.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterLink {
    pub id: String,
    pub source: String,
    /// The headline shown (the operator's, when set).
    pub headline: String,
    pub language: Option<String>,
}

/// One webhook delivery (an event for one endpoint) with its state: the delivery log's row.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookDelivery {
    pub event_id: i64,
    pub story_id: String,
    /// `publish`, `update`, `correction`, `kill` or `withhold`.
    pub kind: String,
    pub endpoint: String,
    /// `pending`, `delivered` or `failed` (gave up).
    pub state: String,
    pub attempts: i64,
    pub next_attempt: DateTime<Utc>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The JSON body sent.
    #[serde(skip)]
    pub payload: String,
}

/// A source to add.
#[derive(Debug, Clone)]
pub struct NewSource {
    pub name: String,
    pub url: Option<String>,
    pub kind: SourceKind,
    pub every_seconds: i64,
    pub notice: Option<String>,
    pub push_token_sha256: Option<String>,
    /// `basic:USER:PASSWORD`, `bearer:TOKEN` or `header:NAME:VALUE`.
    pub auth: Option<String>,
    /// The language the source's copy is in, as the operator declares it.
    pub language: Option<String>,
}

/// The result of one fetch attempt, for the source's health.
#[derive(Debug, Clone, Default)]
pub struct FetchRecord {
    pub at: DateTime<Utc>,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub next_due: Option<DateTime<Utc>>,
    /// The node that fetched.
    pub node: Option<String>,
}

/// A named piece of work that one node does at a time (polling a source, clustering), held
/// until `until` and renewed while the node lives; a dead node's leases expire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    pub name: String,
    pub node: String,
    pub until: DateTime<Utc>,
}

/// A payload written to the raw archive.
#[derive(Debug, Clone, Serialize)]
pub struct RawRecord {
    pub sha256: String,
    pub source: String,
    /// File path, URL or push endpoint it arrived through.
    pub origin: String,
    pub received_at: DateTime<Utc>,
    pub size: i64,
    pub content_type: Option<String>,
    pub http_status: Option<i64>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A normalized, gated item to store as a version of its story.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub item: Item,
    pub hold_reasons: Vec<String>,
    pub embargoed_until: Option<DateTime<Utc>>,
    /// The signed provenance record (JSON) and its signature, stored with the version.
    pub provenance: Option<String>,
    pub signature: Option<String>,
    /// Sections the routing rules put it in.
    pub sections: Vec<String>,
    /// Rights: published as headline and link only.
    pub link_only: bool,
}

impl NewVersion {
    /// A version with nothing held, routed or signed (tests and tools).
    pub fn plain(item: Item) -> NewVersion {
        NewVersion {
            item,
            hold_reasons: Vec::new(),
            embargoed_until: None,
            provenance: None,
            signature: None,
            sections: Vec::new(),
            link_only: false,
        }
    }
}

/// What committing one version did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CommitKind {
    /// A story not seen before.
    New,
    /// A new version of a known story.
    Version,
    /// Exactly this version was already stored.
    Unchanged,
    /// Not stored: a routing rule dropped it (reported by the pipeline, never by the store).
    Dropped,
}

#[derive(Debug, Clone, Serialize)]
pub struct Committed {
    pub id: String,
    pub kind: CommitKind,
    pub state: StoryState,
    /// The item came through another feed of a story already stored (same guid, same text)
    /// and was folded into it.
    pub folded_into: Option<String>,
}

impl Committed {
    /// A version stored in story `id`: the story's first (`created`) or a later one, folded in
    /// from another feed or not.
    pub(crate) fn stored(id: String, folded: bool, created: bool, state: StoryState) -> Committed {
        Committed {
            folded_into: folded.then(|| id.clone()),
            id,
            kind: if created {
                CommitKind::New
            } else {
                CommitKind::Version
            },
            state,
        }
    }
}

/// One stored version.
#[derive(Debug, Clone, Serialize)]
pub struct VersionRecord {
    /// Arrival order, unique across the store.
    pub seq: i64,
    pub received_at: DateTime<Utc>,
    pub hold_reasons: Vec<String>,
    pub embargoed_until: Option<DateTime<Utc>>,
    pub item: Item,
    /// The provenance record (JSON) and its signature; `None` for versions stored before
    /// provenance existed.
    pub provenance: Option<String>,
    pub signature: Option<String>,
    /// Rights: published as headline and link only.
    pub link_only: bool,
    /// The operator's decision on a held version: `released` or `dropped`.
    pub review: Option<String>,
}

/// An operator's headline shown instead of the agency's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeadlineOverride {
    pub headline: String,
    pub set_by: String,
    pub set_at: DateTime<Utc>,
}

/// A story's id and the time it last changed (its place in the change order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoryStamp {
    pub id: String,
    pub changed_at: DateTime<Utc>,
}

/// A story with the version outputs show.
#[derive(Debug, Clone, Serialize)]
pub struct StoryRecord {
    pub id: String,
    pub source: String,
    pub guid: String,
    pub state: StoryState,
    pub sort_time: DateTime<Utc>,
    pub changed_at: DateTime<Utc>,
    pub current: Option<VersionRecord>,
    pub headline_override: Option<HeadlineOverride>,
    /// The cluster of stories about the same event this story belongs to, once assigned.
    pub cluster_id: Option<i64>,
    /// The sections it is published in, sorted.
    pub sections: Vec<String>,
}

/// A held version waiting for the operator (the held queue).
#[derive(Debug, Clone, Serialize)]
pub struct HeldRecord {
    pub story_id: String,
    pub source: String,
    pub guid: String,
    /// What outputs show for the story now (a published story may have a held update).
    pub story_state: StoryState,
    pub version: VersionRecord,
}

/// The operator's decision on a story's held versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Review {
    /// Publish it after all.
    Released,
    /// Keep it held, out of the queue.
    Dropped,
}

impl Review {
    pub fn as_str(self) -> &'static str {
        match self {
            Review::Released => "released",
            Review::Dropped => "dropped",
        }
    }
}

/// A payload that could not be read at all, or only in part.
#[derive(Debug, Clone, Serialize)]
pub struct FailedPayload {
    pub raw: RawRecord,
    pub error: String,
    /// `failed` (nothing readable) or `processed` (some items skipped).
    pub state: String,
}

/// A version as the desk lists it: which story, which version.
#[derive(Debug, Clone, Serialize)]
pub struct RecentVersion {
    pub story_id: String,
    pub story_state: StoryState,
    pub version: VersionRecord,
}

/// A story that was published and has been taken down: what downstream systems must remove.
#[derive(Debug, Clone, Serialize)]
pub struct GoneRecord {
    pub id: String,
    pub source: String,
    pub guid: String,
    /// `Canceled` (a kill) or `Withheld`.
    pub state: StoryState,
    /// When it was taken down.
    pub changed_at: DateTime<Utc>,
}

/// A page of the newest-first list of published stories.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub source: Option<String>,
    /// Only stories in this section.
    pub section: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub q: Option<String>,
    pub limit: usize,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StoryPage {
    pub stories: Vec<StoryRecord>,
    pub next: Option<String>,
}

/// Counts for health checks and summaries.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub sources: i64,
    pub stories: i64,
    pub published: i64,
    pub versions: i64,
    pub held: i64,
    /// Held versions no operator has decided on (the held queue).
    pub held_queue: i64,
    pub raw_payloads: i64,
    pub raw_failed: i64,
    /// The newest audit: when it finished, how many stories it checked, how many failed.
    pub last_audit: Option<(DateTime<Utc>, i64, i64)>,
}

/// A story's cluster and the signature it was clustered by (see [`Store::set_clusters`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterAssignment {
    pub story_id: String,
    pub cluster_id: i64,
    pub signature: Vec<u8>,
    pub story_time: DateTime<Utc>,
}

/// The most versions [`Store::commit_all`] puts in one transaction: enough that a payload's
/// items share a transaction's fixed costs, few enough that the write lock is held briefly.
pub const COMMIT_BATCH: usize = 200;

/// Everything above the store talks to it through this trait.
#[async_trait]
pub trait Store: Send + Sync {
    async fn add_source(&self, source: &NewSource, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Adds the source or updates its URL, interval and notice (for sources from the config file).
    async fn upsert_source(&self, source: &NewSource, now: DateTime<Utc>)
    -> Result<(), StoreError>;
    async fn sources(&self) -> Result<Vec<Source>, StoreError>;
    /// How many sources are polled and not paused (counted by the store, not read).
    async fn polled_source_count(&self) -> Result<usize, StoreError>;
    /// Polled, unpaused sources whose next fetch is due at `now`, the `limit` most overdue:
    /// their names and URLs only (the scheduler reads them at every tick and after every fetch,
    /// and skips most; [`Store::source`] reads the whole row of one it starts).
    async fn due_sources(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueSource>, StoreError>;
    /// Stops (`true`) or restarts polling a source; `false` when there is no such source.
    async fn set_paused(&self, name: &str, paused: bool) -> Result<bool, StoreError>;
    /// Forgets a source (its published stories stay; they were the agency's copy when
    /// published); `false` when there is no such source.
    async fn remove_source(&self, name: &str) -> Result<bool, StoreError>;
    /// Sets or removes a push source's HMAC secret; `false` when there is no such source.
    async fn set_push_hmac_secret(
        &self,
        name: &str,
        secret: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// Versions received per source since `since` (the "items per day" of source health).
    async fn items_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<String, i64>, StoreError>;
    async fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError>;
    async fn source(&self, name: &str) -> Result<Option<Source>, StoreError>;
    /// The source's WebSub subscription, if it has one.
    async fn subscription(&self, source: &str) -> Result<Option<Subscription>, StoreError>;
    /// Every WebSub subscription (for renewals and source health).
    async fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError>;
    /// Creates or replaces the source's subscription (deliveries counted so far are kept).
    async fn put_subscription(&self, subscription: &Subscription) -> Result<(), StoreError>;
    /// Counts a delivery that passed its signature check.
    async fn record_delivery(&self, source: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    async fn record_fetch(&self, name: &str, record: &FetchRecord) -> Result<(), StoreError>;

    /// Records a payload written to the archive; returns false if it was already recorded.
    async fn record_raw(&self, raw: &RawRecord) -> Result<bool, StoreError>;
    /// Marks a payload processed, or failed with the reason.
    async fn finish_raw(&self, sha256: &str, error: Option<&str>) -> Result<(), StoreError>;
    /// Payloads archived but never processed (a crash between archive and commit).
    async fn pending_raw(&self) -> Result<Vec<RawRecord>, StoreError>;
    /// The record of one archived payload.
    async fn raw(&self, sha256: &str) -> Result<Option<RawRecord>, StoreError>;
    /// Keeps a payload's bytes in the database (the raw archive of multi-node deployments);
    /// storing the same bytes twice is a no-op.
    async fn put_raw_bytes(&self, sha256: &str, bytes: &[u8]) -> Result<(), StoreError>;
    /// A payload's bytes kept in the database, if any.
    async fn raw_bytes(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Takes the lease `name` for `node` until `until` when it is free, expired or already
    /// the node's own (then it is extended); `false` while another node holds it.
    async fn acquire_lease(
        &self,
        name: &str,
        node: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Extends every unexpired lease `node` holds whose name starts with `prefix`; returns
    /// the names it still holds.
    async fn renew_leases(
        &self,
        node: &str,
        prefix: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError>;
    /// Gives a lease up (only the holder can).
    async fn release_lease(&self, name: &str, node: &str) -> Result<(), StoreError>;
    /// The unexpired leases whose name starts with `prefix`.
    async fn leases(&self, prefix: &str, now: DateTime<Utc>) -> Result<Vec<Lease>, StoreError>;

    /// Stores one version and recomputes what outputs show for its story, in one transaction.
    async fn commit(
        &self,
        version: &NewVersion,
        now: DateTime<Utc>,
    ) -> Result<Committed, StoreError> {
        self.commit_all(std::slice::from_ref(version), now)
            .await?
            .pop()
            .ok_or_else(|| StoreError::Corrupt("a commit returned no outcome".into()))
    }
    /// Stores versions in order, as [`Store::commit`] would one by one, in transactions of up
    /// to [`COMMIT_BATCH`] versions (the items of one payload commit together). Returns one
    /// outcome per version, in order; on an error nothing of the failing transaction is kept.
    async fn commit_all(
        &self,
        versions: &[NewVersion],
        now: DateTime<Utc>,
    ) -> Result<Vec<Committed>, StoreError>;
    /// Re-evaluates stories whose embargo has ended; returns their ids.
    async fn release_due(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError>;

    async fn list(&self, query: &ListQuery) -> Result<StoryPage, StoreError>;
    /// Stories taken down (killed or withheld), most recently changed first; `since` keeps
    /// those changed at or after it.
    async fn gone(
        &self,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<GoneRecord>, StoreError>;
    async fn story(&self, id: &str) -> Result<Option<StoryRecord>, StoreError>;
    /// Stories whose state or current version changed at or after `since`, oldest change first,
    /// at most `limit` (for indexes that follow the store).
    async fn changed_stories(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoryRecord>, StoreError>;
    /// The same stories as [`Store::changed_stories`], in the same order, as id and change time
    /// only: a follower that has already read most of them reads the rest with
    /// [`Store::stories_by_id`] (see [`ChangeCursor`]).
    async fn changed_story_stamps(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<StoryStamp>, StoreError>;
    /// These stories in full, in no particular order; ids not stored are left out.
    async fn stories_by_id(&self, ids: &[String]) -> Result<Vec<StoryRecord>, StoreError>;
    /// Assigns stories to clusters and keeps their signatures (for rebuilding the clusterer),
    /// in one transaction, in order (a later assignment of a story wins). Not a change of the
    /// stories.
    async fn set_clusters(&self, assignments: &[ClusterAssignment]) -> Result<(), StoreError>;
    /// Clustered stories with their cluster and signature whose time is at or after `since`.
    async fn cluster_signatures(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, i64, Vec<u8>, DateTime<Utc>)>, StoreError>;
    /// The published stories of a cluster as links (no bodies read), newest first.
    async fn cluster_links(
        &self,
        cluster_id: i64,
        limit: usize,
    ) -> Result<Vec<ClusterLink>, StoreError>;
    /// The published stories of a cluster, newest first, at most `limit`.
    async fn cluster_members(
        &self,
        cluster_id: i64,
        limit: usize,
    ) -> Result<Vec<StoryRecord>, StoreError>;
    /// The kind of the newest webhook event of a story, if any.
    async fn last_webhook_event(&self, story_id: &str) -> Result<Option<String>, StoreError>;
    /// Records an event and one pending delivery per endpoint; `false` when this change of the
    /// story was already recorded.
    async fn add_webhook_event(
        &self,
        story_id: &str,
        changed_at: DateTime<Utc>,
        kind: &str,
        payload: &str,
        endpoints: &[String],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Claims pending deliveries whose next attempt is due, oldest first: their next attempt
    /// moves to `claim_until` in the same statement, so no other node sends them meanwhile (a
    /// node that dies mid-delivery leaves them to be sent again after `claim_until`).
    async fn due_webhook_deliveries(
        &self,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;
    /// Records an attempt: delivered, or pending again at `next_attempt`, or failed for good.
    #[allow(clippy::too_many_arguments)]
    async fn record_webhook_attempt(
        &self,
        event_id: i64,
        endpoint: &str,
        state: &str,
        status: Option<i64>,
        error: Option<&str>,
        next_attempt: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The newest deliveries, newest first (the delivery log).
    async fn webhook_log(&self, limit: usize) -> Result<Vec<WebhookDelivery>, StoreError>;
    /// Ids and last-change times of published stories, newest first, `limit` after skipping
    /// `offset` (for sitemaps: no story bodies are read).
    async fn published_ids(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError>;
    async fn versions(&self, id: &str) -> Result<Vec<VersionRecord>, StoreError>;
    /// Replaces a version's provenance record and signature (an override was disclosed in it).
    async fn update_provenance(
        &self,
        version_seq: i64,
        provenance: &str,
        signature: &str,
    ) -> Result<(), StoreError>;
    /// Sets (`Some`) or removes (`None`) the operator's headline for a story.
    async fn set_headline_override(
        &self,
        story_id: &str,
        headline: Option<&HeadlineOverride>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// When anything visible last changed (for ETags and feed `updated`).
    async fn last_change(&self) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// The store-wide change counter: bumped (by triggers, so by every writer, whatever its
    /// version or clock; SQLite's own writer connection bumps it itself, once a transaction) in
    /// the same transaction as any change to a story, a version, a headline override or a
    /// source's notice. One indexed row; equal values mean nothing a page shows
    /// has changed in between. Caches read it to see other processes' changes.
    async fn change_token(&self) -> Result<i64, StoreError>;
    /// How many writes that can change a page this handle has committed, counted in memory
    /// after each commit (no IO): this process's own changes, seen at once.
    fn local_changes(&self) -> u64;
    /// How long the store's single write connection has been held by this handle's commits
    /// since it opened, where commits go through one (SQLite); `None` otherwise (PostgreSQL
    /// takes writes on many connections).
    fn writer_time(&self) -> Option<WriterTime> {
        None
    }
    /// The held queue: held versions no operator has decided on, newest first.
    async fn held(&self, limit: usize) -> Result<Vec<HeldRecord>, StoreError>;
    /// One story's entries in the held queue, newest first.
    async fn held_story(&self, story_id: &str) -> Result<Vec<HeldRecord>, StoreError>;
    /// Releases or drops every undecided held version of a story and recomputes its state;
    /// returns how many versions were decided and the story's state after.
    async fn review_held(
        &self,
        story_id: &str,
        review: Review,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(usize, StoryState), StoreError>;
    /// The source's declared language and the body lengths (characters) of its newest
    /// published stories, newest first, at most `limit`.
    async fn source_body_lengths(&self, source: &str, limit: usize)
    -> Result<Vec<i64>, StoreError>;
    /// Sets the language the operator declares for a source; `false` if there is no such source.
    async fn set_source_language(
        &self,
        name: &str,
        language: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// Versions received per bucket of `bucket_seconds` since `since` (bucket start, count).
    async fn ingest_rate(
        &self,
        since: DateTime<Utc>,
        bucket_seconds: i64,
    ) -> Result<Vec<(DateTime<Utc>, i64)>, StoreError>;
    /// The newest versions stored, newest first.
    async fn recent_versions(&self, limit: usize) -> Result<Vec<RecentVersion>, StoreError>;
    /// Payloads that failed to parse, or parsed with skipped items, newest first.
    async fn failed_payloads(&self, limit: usize) -> Result<Vec<FailedPayload>, StoreError>;
    /// Every section with its number of published stories.
    async fn sections(&self) -> Result<Vec<(String, i64)>, StoreError>;
    async fn counts(&self) -> Result<Counts, StoreError>;
    /// Records the result of an audit.
    async fn record_audit(
        &self,
        finished_at: DateTime<Utc>,
        checked: i64,
        failed: i64,
    ) -> Result<(), StoreError>;
}

/// Verbatim's stable id for a story: derived from (source, guid), so it survives re-ingest.
pub fn story_id(source: &str, guid: &str) -> String {
    let key = format!("{source}\u{0}{guid}");
    verbatim_item::sha256_hex(key.as_bytes())[..16].to_string()
}

/// The one way times are written into the store: RFC 3339, UTC, microseconds, so that text order
/// is time order.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn parse_time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| StoreError::Corrupt(format!("bad time {text:?}: {error}")))
}
