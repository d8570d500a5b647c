//! `verbatim serve`: one process that ingests (polling, push, inbox) and serves. The background
//! loops here are the edges of the pipeline: they fetch or pick up payloads and hand them to
//! `Pipeline::ingest`; the embargo loop releases stories on time.

use crate::pipeline::{Pipeline, Received};
use anyhow::{Context, Result};
use async_trait::async_trait;
use axum::body::Bytes;
use chrono::Utc;
use rand::Rng;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use verbatim_fetch::{FetchOutcome, Fetcher, Validators};
use verbatim_publish::{IngestError, PushReceipt, PushSink};
use verbatim_store::{FetchRecord, SourceKind};

/// How many sources are fetched at once.
const FETCH_CONCURRENCY: usize = 8;
/// How many fetches one host gets at once, so an agency with many feeds is not hammered.
const PER_HOST_CONCURRENCY: usize = 2;
/// How many of the most overdue sources the scheduler considers at a time. A host with more
/// overdue sources than this, all waiting for its two slots, can delay other hosts' sources
/// until its backlog shrinks.
const DUE_BATCH: usize = 256;
/// How often the scheduler asks the store which sources are due (an index lookup).
const SCHEDULER_TICK: Duration = Duration::from_millis(200);
/// The longest wait after repeated errors.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// The longest `Retry-After` believed.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How polling adapts to what servers say and to WebSub.
#[derive(Clone)]
pub struct PollSettings {
    /// The shortest interval (`fetch.min_interval`); backoff starts from the source's interval.
    pub min_interval: Duration,
    /// A `Cache-Control: max-age` delays the next poll up to this.
    pub max_age_cap: Duration,
    /// The WebSub subscriber, when enabled.
    pub websub: Option<crate::websub::WebSub>,
    /// This node: sources are polled under its leases.
    pub node: Arc<crate::node::Node>,
}

/// Polls due sources for ever.
pub async fn poll_loop(pipeline: Pipeline, fetcher: Fetcher, settings: PollSettings) {
    let permits = Arc::new(Semaphore::new(FETCH_CONCURRENCY));
    let mut host_permits: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let in_flight = Arc::new(std::sync::Mutex::new(
        std::collections::HashSet::<String>::new(),
    ));
    // A finished fetch frees a slot: look for due sources at once rather than at the next tick.
    let slot_freed = Arc::new(tokio::sync::Notify::new());
    let mut share = crate::node::PollShare::new(settings.node.clone());
    loop {
        let busy = in_flight
            .lock()
            .map(|running| running.clone())
            .unwrap_or_default();
        if let Err(error) = share.refresh(&busy).await {
            tracing::error!(%error, "cannot renew this node's leases");
        }
        match pipeline.store.due_sources(Utc::now(), DUE_BATCH).await {
            Ok(sources) => {
                // Most overdue first. A fetch starts only when a slot is free, globally and for
                // its host; the others stay due in the store for the next tick, so waiting costs
                // no memory however many sources there are.
                for source in sources {
                    if busy.contains(&source.name) {
                        continue;
                    }
                    let Ok(permit) = permits.clone().try_acquire_owned() else {
                        break;
                    };
                    // Another node's source, or over this node's share.
                    if !share.claim(&source.name).await {
                        continue;
                    }
                    let host = url::Url::parse(&source.url)
                        .ok()
                        .and_then(|url| url.host_str().map(str::to_string))
                        .unwrap_or_default();
                    let Ok(host_permit) = host_permits
                        .entry(host)
                        .or_insert_with(|| Arc::new(Semaphore::new(PER_HOST_CONCURRENCY)))
                        .clone()
                        .try_acquire_owned()
                    else {
                        continue;
                    };
                    // Never two fetches of one source at once.
                    if let Ok(mut running) = in_flight.lock()
                        && !running.insert(source.name.clone())
                    {
                        continue;
                    }
                    let pipeline = pipeline.clone();
                    let fetcher = fetcher.clone();
                    let in_flight = in_flight.clone();
                    let slot_freed = slot_freed.clone();
                    let settings = settings.clone();
                    tokio::spawn(async move {
                        // The whole row, read now: it may have been paused since the list.
                        match pipeline.store.source(&source.name).await {
                            Ok(Some(source)) if !source.paused => {
                                poll_one(&pipeline, &fetcher, &source, &settings).await;
                            }
                            Ok(_) => {}
                            Err(error) => {
                                tracing::error!(%error, source = %source.name, "cannot read source");
                            }
                        }
                        if let Ok(mut running) = in_flight.lock() {
                            running.remove(&source.name);
                        }
                        drop((permit, host_permit));
                        slot_freed.notify_one();
                    });
                }
            }
            Err(error) => tracing::error!(%error, "cannot read sources"),
        }
        tokio::select! {
            _ = tokio::time::sleep(SCHEDULER_TICK) => {}
            _ = slot_freed.notified() => {}
        }
    }
}

/// Fetches one source once, ingests what changed, and records the source's health.
pub async fn poll_one(
    pipeline: &Pipeline,
    fetcher: &Fetcher,
    source: &verbatim_store::Source,
    settings: &PollSettings,
) {
    let Some(url) = source.url.clone() else {
        return;
    };
    let validators = Validators {
        etag: source.etag.clone(),
        last_modified: source.last_modified.clone(),
    };
    let started = Utc::now();
    let mut interval =
        Duration::from_secs(source.every_seconds.max(0) as u64).max(settings.min_interval);
    let mut record = FetchRecord {
        at: started,
        node: Some(settings.node.name.clone()),
        ..FetchRecord::default()
    };
    let mut retry_after: Option<Duration> = None;
    let mut max_age: Option<Duration> = None;
    // (hub, topic) when the feed or its HTTP headers name a WebSub hub.
    let mut websub_hub: Option<(String, String)> = None;
    let outcome = match source
        .auth
        .as_deref()
        .map(verbatim_fetch::Credentials::parse)
        .transpose()
    {
        Ok(credentials) => {
            fetcher
                .get_with(&url, &validators, credentials.as_ref())
                .await
        }
        Err(reason) => Err(verbatim_fetch::FetchError::BadCredentials {
            url: verbatim_fetch::redact_url(&url),
            reason,
        }),
    };
    match outcome {
        Ok(FetchOutcome::NotModified { max_age: allowed }) => {
            record.status = Some(304);
            max_age = allowed;
        }
        Ok(FetchOutcome::Fetched(fetched)) => {
            record.status = Some(i64::from(fetched.status));
            max_age = fetched.max_age;
            let (header_hub, header_self) = (fetched.hub.clone(), fetched.self_link.clone());
            record.etag = fetched.validators.etag.clone();
            record.last_modified = fetched.validators.last_modified.clone();
            let received = Received {
                source: source.name.clone(),
                origin: fetched.final_url,
                bytes: fetched.body,
                content_type: fetched.content_type,
                http_status: Some(i64::from(fetched.status)),
                etag: fetched.validators.etag,
                last_modified: fetched.validators.last_modified,
                received_at: started,
            };
            match pipeline.ingest(received).await {
                Ok(report) => {
                    // WebSub §4: the Link header first, then the feed's own links; without a
                    // self link the topic is the URL the feed was fetched from.
                    if let Some(hub) = header_hub.or(report.feed.hub.clone()) {
                        let topic = header_self
                            .or(report.feed.self_link.clone())
                            .unwrap_or_else(|| url.clone());
                        websub_hub = Some((hub, topic));
                    }
                    if let Some(failed) = &report.failed {
                        record.error = Some(failed.clone());
                    } else if let Some(first) = report.errors.first() {
                        tracing::warn!(source = %source.name, error = %first, "some items were skipped");
                    }
                    tracing::info!(source = %source.name, items = report.items.len(), "polled");
                }
                Err(error) => record.error = Some(format!("{error:#}")),
            }
        }
        Err(error) => {
            if let verbatim_fetch::FetchError::Status {
                status,
                retry_after: wait,
                ..
            } = &error
            {
                record.status = Some(i64::from(*status));
                retry_after = *wait;
            }
            record.error = Some(error.to_string());
        }
    }
    if let Some(websub) = &settings.websub {
        if let Some((hub, topic)) = &websub_hub {
            websub.discovered(&source.name, hub, topic).await;
        }
        // While the hub pushes, polling is only a safety net.
        if websub.is_live(&source.name).await {
            interval = interval.max(websub.settings.poll_while_subscribed);
        }
    }
    let delay = if record.error.is_some() {
        let wait = backoff(interval, source.consecutive_errors);
        // A server that says when to come back is believed, up to a day, never sooner than
        // the backoff.
        retry_after.map_or(wait, |asked| asked.min(MAX_RETRY_AFTER).max(wait))
    } else {
        // A server that says its answer stays fresh for a while is not asked again sooner,
        // within the operator's cap.
        let fresh_for = max_age.unwrap_or_default().min(settings.max_age_cap);
        let interval = interval.max(fresh_for);
        let jitter = rand::rng().random_range(0.0..0.1) * interval.as_secs_f64();
        interval + Duration::from_secs_f64(jitter)
    };
    record.next_due = chrono::Duration::from_std(delay)
        .ok()
        .map(|delay| started + delay);
    if let Some(error) = &record.error {
        tracing::warn!(source = %source.name, %error, "fetch failed");
    }
    if let Err(error) = pipeline.store.record_fetch(&source.name, &record).await {
        tracing::error!(%error, "cannot record fetch");
    }
}

/// The wait after an error, given the errors before it: the source's interval (at most a minute)
/// after the first, doubling with each further one, at most an hour.
pub fn backoff(interval: Duration, errors_before: i64) -> Duration {
    let doublings = errors_before.clamp(0, 12) as u32;
    (interval.min(Duration::from_secs(60)) * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

/// Releases embargoed stories when their time comes.
pub async fn embargo_loop(pipeline: Pipeline) {
    loop {
        match pipeline.store.release_due(Utc::now()).await {
            Ok(released) => {
                for id in released {
                    tracing::info!(%id, "embargo ended");
                }
            }
            Err(error) => tracing::error!(%error, "embargo release failed"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Files an inbox scan ignores: hidden files and names that say a transfer is still running.
fn is_in_transfer(name: &str) -> bool {
    name.starts_with('.')
        || name.starts_with('~')
        || [
            ".tmp",
            ".part",
            ".partial",
            ".filepart",
            ".crdownload",
            ".swp",
        ]
        .iter()
        .any(|suffix| name.to_ascii_lowercase().ends_with(suffix))
}

/// Watches `DATA/inbox/`: a file whose size and modification time have not changed for `settle`
/// is ingested and moved to `done/`, or to `failed/` with a `.error` file beside it. Files in
/// `inbox/NAME/` belong to source NAME; files directly in the inbox to the source `inbox`.
pub async fn inbox_loop(pipeline: Pipeline, inbox: PathBuf, settle: Duration) {
    let (wake_tx, mut wake_rx) = tokio::sync::mpsc::channel::<()>(1);
    let watcher = {
        let wake = wake_tx.clone();
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            // Reading the folder is itself an event (inotify reports the scan's own open and
            // close); waking on those made the loop rescan for ever, a core at 100% when idle.
            let changed = event.is_ok_and(|event| {
                !matches!(
                    event.kind,
                    notify::EventKind::Access(
                        notify::event::AccessKind::Open(_)
                            | notify::event::AccessKind::Close(notify::event::AccessMode::Read)
                            | notify::event::AccessKind::Read
                            | notify::event::AccessKind::Any
                    )
                )
            });
            if changed {
                let _ = wake.try_send(());
            }
        })
    };
    let _watcher = match watcher {
        Ok(mut watcher) => {
            use notify::Watcher;
            if let Err(error) = watcher.watch(&inbox, notify::RecursiveMode::Recursive) {
                tracing::warn!(%error, "cannot watch the inbox; scanning every second instead");
            }
            Some(watcher)
        }
        Err(error) => {
            tracing::warn!(%error, "no file watcher; scanning the inbox every second");
            None
        }
    };
    // Each file's size and modification time, and since when they have been the same.
    let mut seen: HashMap<PathBuf, (FileState, std::time::Instant)> = HashMap::new();
    loop {
        let now = std::time::Instant::now();
        let mut still_settling = HashMap::new();
        for (path, state) in scan_inbox(&inbox) {
            let since = match seen.get(&path) {
                Some((before, since)) if *before == state => *since,
                _ => now,
            };
            if now.duration_since(since) >= settle {
                ingest_inbox_file(&pipeline, &inbox, &path).await;
            } else {
                still_settling.insert(path, (state, since));
            }
        }
        seen = still_settling;
        // A change wakes the loop early; otherwise it scans every second, and more often while
        // a file is settling.
        let wait = if seen.is_empty() {
            Duration::from_secs(1)
        } else {
            (settle / 4).clamp(Duration::from_millis(20), Duration::from_millis(250))
        };
        let _ = tokio::time::timeout(wait, wake_rx.recv()).await;
    }
}

/// What tells a file is still being written: its size and modification time.
type FileState = (u64, Option<std::time::SystemTime>);

fn scan_inbox(inbox: &Path) -> Vec<(PathBuf, FileState)> {
    let mut found = Vec::new();
    let mut folders = vec![inbox.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                if folder == inbox && (name == "done" || name == "failed" || name.starts_with('.'))
                {
                    continue;
                }
                if folder == inbox {
                    folders.push(path);
                }
            } else if meta.is_file() && !is_in_transfer(&name) {
                found.push((path, (meta.len(), meta.modified().ok())));
            }
        }
    }
    found
}

async fn ingest_inbox_file(pipeline: &Pipeline, inbox: &Path, path: &Path) {
    let relative = path.strip_prefix(inbox).unwrap_or(path);
    let source = match relative
        .parent()
        .and_then(|parent| parent.to_str())
        .filter(|parent| !parent.is_empty())
    {
        Some(folder) => folder.to_string(),
        None => "inbox".to_string(),
    };
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot read inbox file");
            return;
        }
    };
    if let Err(error) = crate::ensure_source(&*pipeline.store, &source, SourceKind::Inbox).await {
        tracing::error!(%error, "cannot register inbox source");
        return;
    }
    let origin = format!("inbox:{}", relative.display());
    let outcome = pipeline
        .ingest(Received::new(&source, &origin, bytes))
        .await;
    let (folder, error_text) = match &outcome {
        Ok(report) if report.failed.is_none() => (
            "done",
            (!report.errors.is_empty()).then(|| report.errors.join("\n")),
        ),
        Ok(report) => ("failed", report.failed.clone()),
        Err(error) => ("failed", Some(format!("{error:#}"))),
    };
    match &outcome {
        Ok(report) => {
            tracing::info!(file = %relative.display(), items = report.items.len(), folder, "inbox file ingested")
        }
        Err(error) => {
            tracing::error!(file = %relative.display(), error = %format!("{error:#}"), "inbox file failed")
        }
    }
    if let Err(error) = move_out_of_inbox(inbox, path, relative, folder, error_text.as_deref()) {
        tracing::error!(path = %path.display(), %error, "cannot move inbox file");
    }
}

fn move_out_of_inbox(
    inbox: &Path,
    path: &Path,
    relative: &Path,
    folder: &str,
    error: Option<&str>,
) -> std::io::Result<()> {
    let mut target = inbox.join(folder).join(relative);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if target.exists() {
        let stamp = Utc::now().format("%Y%m%dT%H%M%S%.f").to_string();
        let name = target
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        target.set_file_name(format!("{stamp}-{name}"));
    }
    // The note first, then the file: a crash in between leaves the file in the inbox, read again
    // (and the note rewritten) on the next start, never a file in done/ or failed/ without it.
    if let Some(error) = error {
        let mut error_path = target.clone().into_os_string();
        error_path.push(".error");
        std::fs::write(error_path, format!("{error}\n"))?;
    }
    std::fs::rename(path, &target)?;
    Ok(())
}

/// The push endpoint's view of the pipeline: checks the source's token or HMAC signature, then
/// ingests.
pub struct PushIngest {
    pub pipeline: Pipeline,
    /// Pushes per source: a steady rate with a burst allowance (`limits.push_*`).
    pub limiter: PushLimiter,
}

/// Pushes allowed per source name (GCRA, from the `governor` crate).
pub type PushLimiter = governor::DefaultKeyedRateLimiter<String>;

/// A limiter allowing `per_second` pushes per source on average and `burst` at once.
pub fn push_limiter(per_second: u32, burst: u32) -> PushLimiter {
    let per_second = std::num::NonZeroU32::new(per_second).unwrap_or(std::num::NonZeroU32::MIN);
    let burst = std::num::NonZeroU32::new(burst).unwrap_or(per_second);
    governor::RateLimiter::keyed(governor::Quota::per_second(per_second).allow_burst(burst))
}

/// Whether `signature` (hex) is the HMAC-SHA256 of `body` under `secret`, compared in constant
/// time.
pub fn hmac_matches(secret: &str, body: &[u8], signature: &str) -> bool {
    use hmac::Mac;
    let Ok(expected) = hex::decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

#[async_trait]
impl PushSink for PushIngest {
    async fn push(
        &self,
        source: &str,
        token: Option<&str>,
        signature: Option<&str>,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<PushReceipt, IngestError> {
        let record = self
            .pipeline
            .store
            .source(source)
            .await
            .map_err(|error| IngestError::Internal(error.to_string()))?
            // A paused push source takes nothing, like a paused polled one.
            .filter(|record| record.kind == SourceKind::Push && !record.paused)
            .ok_or_else(|| IngestError::UnknownSource(source.to_string()))?;
        // Counted before the credentials are checked, so a flood of bad ones is limited too.
        if let Err(not_until) = self.limiter.check_key(&record.name) {
            use governor::clock::Clock;
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            return Err(IngestError::RateLimited {
                retry_after_seconds: wait.as_secs_f64().ceil().max(1.0) as u64,
            });
        }
        // Hashes of the tokens are compared, so timing reveals nothing about the token itself.
        let token_ok = matches!(
            (&record.push_token_sha256, token),
            (Some(expected), Some(token)) if *expected == verbatim_item::sha256_hex(token.as_bytes())
        );
        let signature_ok = match (&record.push_hmac_secret, signature) {
            (Some(secret), Some(signature)) => hmac_matches(secret, &body, signature),
            _ => false,
        };
        if !token_ok && !signature_ok {
            return Err(IngestError::Unauthorized);
        }
        let mut received = Received::new(source, &format!("push:{source}"), body.to_vec());
        received.content_type = content_type.map(str::to_string);
        let report = self
            .pipeline
            .ingest(received)
            .await
            .map_err(|error| IngestError::Internal(format!("{error:#}")))?;
        if let Some(failed) = report.failed {
            return Err(IngestError::BadInput(failed));
        }
        Ok(PushReceipt {
            accepted: report.items.iter().map(|item| item.id.clone()).collect(),
            errors: report.errors,
        })
    }
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn run_server(listener: tokio::net::TcpListener, app: axum::Router) -> Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the HTTP server failed")
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_interval_up_to_an_hour() {
        let minute = Duration::from_secs(60);
        assert_eq!(backoff(Duration::from_secs(30), 0), Duration::from_secs(30));
        assert_eq!(backoff(Duration::from_secs(30), 1), minute);
        assert_eq!(backoff(Duration::from_secs(300), 0), minute);
        assert_eq!(backoff(Duration::from_secs(300), 3), 8 * minute);
        assert_eq!(backoff(Duration::from_secs(300), 500), MAX_BACKOFF);
        assert_eq!(backoff(Duration::from_secs(300), -1), minute);
    }

    #[test]
    fn transfers_in_progress_are_skipped() {
        assert!(is_in_transfer(".hidden.xml"));
        assert!(is_in_transfer("story.xml.part"));
        assert!(is_in_transfer("story.XML.TMP"));
        assert!(!is_in_transfer("story.xml"));
    }
}
