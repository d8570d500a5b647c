//! This process as one node among several sharing a store. Leases kept in the store make one
//! node at a time poll a source, cluster stories, renew WebSub subscriptions or run the audit;
//! a node renews its leases while it lives, so a dead node's work passes to another node once
//! they expire.

use chrono::Utc;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use verbatim_store::{Store, StoreError};

/// The lease every live node holds on its own name (how nodes count each other).
const NODE_PREFIX: &str = "node:";
/// Leases on polled sources: `poll:SOURCE`.
const POLL_PREFIX: &str = "poll:";
/// How often the number of polled sources is re-read for the fair share (a source added since
/// waits at most this long for a node with room).
const SOURCE_COUNT_EVERY: Duration = Duration::from_secs(5);

/// This node: its name and how long its leases last.
pub struct Node {
    pub name: String,
    pub lease: Duration,
    store: Arc<dyn Store>,
}

impl Node {
    pub fn new(name: String, lease: Duration, store: Arc<dyn Store>) -> Node {
        Node {
            name,
            lease: lease.max(Duration::from_secs(2)),
            store,
        }
    }

    /// `HOST-PID`: unique among processes, readable in logs.
    pub fn default_name() -> String {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|host| host.trim().to_string())
            .filter(|host| !host.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "node".to_string());
        format!("{host}-{}", std::process::id())
    }

    fn until(&self) -> chrono::DateTime<Utc> {
        Utc::now() + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(10))
    }

    /// Takes or extends the lease on a role only one node plays at a time; `true` while this
    /// node plays it.
    pub async fn hold(&self, role: &str) -> bool {
        self.hold_for(role, self.lease).await
    }

    /// Takes or extends a role's lease for `period` (a job run once per period by any one node).
    pub async fn hold_for(&self, role: &str, period: Duration) -> bool {
        let until =
            Utc::now() + chrono::Duration::from_std(period).unwrap_or(chrono::Duration::hours(1));
        match self
            .store
            .acquire_lease(role, &self.name, Utc::now(), until)
            .await
        {
            Ok(held) => held,
            Err(error) => {
                tracing::error!(%error, role, "cannot renew a lease");
                false
            }
        }
    }

    /// Says this node is alive; returns how many nodes are (at least this one).
    async fn heartbeat(&self) -> Result<usize, StoreError> {
        let name = format!("{NODE_PREFIX}{}", self.name);
        self.store
            .acquire_lease(&name, &self.name, Utc::now(), self.until())
            .await?;
        Ok(self
            .store
            .leases(NODE_PREFIX, Utc::now())
            .await?
            .len()
            .max(1))
    }
}

/// Which polled sources this node fetches: the ones it holds a lease on, and free due ones up
/// to its fair share (the polled sources divided by the live nodes, rounded up). A node over its
/// share after others joined gives the excess up, so the work spreads out again; a node alone
/// polls every source.
pub struct PollShare {
    node: Arc<Node>,
    held: HashSet<String>,
    fair_share: usize,
    polled_sources: usize,
    renewed: Option<Instant>,
    counted: Option<Instant>,
}

impl PollShare {
    pub fn new(node: Arc<Node>) -> PollShare {
        PollShare {
            node,
            held: HashSet::new(),
            fair_share: 0,
            polled_sources: 0,
            renewed: None,
            counted: None,
        }
    }

    /// Renews this node's leases (a fifth of the lease period apart) and recomputes its share;
    /// gives up leases over the share that are not being fetched (`busy`).
    pub async fn refresh(&mut self, busy: &HashSet<String>) -> Result<(), StoreError> {
        let store = &self.node.store;
        if self
            .counted
            .is_none_or(|counted| counted.elapsed() >= SOURCE_COUNT_EVERY)
        {
            self.polled_sources = store.polled_source_count().await?;
            self.counted = Some(Instant::now());
        }
        if self
            .renewed
            .is_some_and(|renewed| renewed.elapsed() < self.node.lease / 5)
        {
            return Ok(());
        }
        let nodes = self.node.heartbeat().await?;
        let held = store
            .renew_leases(&self.node.name, POLL_PREFIX, Utc::now(), self.node.until())
            .await?;
        self.held = held
            .into_iter()
            .filter_map(|name| name.strip_prefix(POLL_PREFIX).map(str::to_string))
            .collect();
        // Alone, a node polls everything (a source added a moment ago too); among others, the
        // even split rounded up.
        self.fair_share = if nodes == 1 {
            usize::MAX
        } else {
            self.polled_sources.div_ceil(nodes).max(1)
        };
        if self.held.len() > self.fair_share {
            let excess: Vec<String> = self
                .held
                .iter()
                .filter(|source| !busy.contains(*source))
                .take(self.held.len() - self.fair_share)
                .cloned()
                .collect();
            for source in excess {
                store
                    .release_lease(&format!("{POLL_PREFIX}{source}"), &self.node.name)
                    .await?;
                self.held.remove(&source);
                tracing::debug!(%source, "gave a source up to another node");
            }
        }
        self.renewed = Some(Instant::now());
        Ok(())
    }

    /// Whether this node fetches the due source `name` now: it holds its lease, or takes it
    /// because it is free and the node is under its share.
    pub async fn claim(&mut self, name: &str) -> bool {
        if self.held.contains(name) {
            return true;
        }
        if self.held.len() >= self.fair_share {
            return false;
        }
        let lease = format!("{POLL_PREFIX}{name}");
        match self
            .node
            .store
            .acquire_lease(&lease, &self.node.name, Utc::now(), self.node.until())
            .await
        {
            Ok(true) => {
                self.held.insert(name.to_string());
                true
            }
            Ok(false) => false,
            Err(error) => {
                tracing::error!(%error, source = name, "cannot take a source's lease");
                false
            }
        }
    }
}
