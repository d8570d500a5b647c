//! The ingest pipeline, end to end: archive the raw payload first, then parse → normalize → gate
//! (pure, on a blocking thread; the gate applies the quality checks and the operator's routing
//! rules) and commit each item to the store. This is the only code that writes stories; fetch,
//! push and the inbox all hand their payloads here.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;
use verbatim_parse::{Input, Limits, ParseError};
use verbatim_provenance::{KeyRing, ProvenanceRecord, Signed, sha256_text};
use verbatim_store::{CommitKind, NewVersion, RawArchive, RawRecord, Store, StoryState};

/// A payload as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub source: String,
    /// File path, URL or push endpoint.
    pub origin: String,
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub http_status: Option<i64>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub received_at: DateTime<Utc>,
}

impl Received {
    pub fn new(source: &str, origin: &str, bytes: Vec<u8>) -> Received {
        Received {
            source: source.to_string(),
            origin: origin.to_string(),
            bytes,
            content_type: None,
            http_status: None,
            etag: None,
            last_modified: None,
            received_at: Utc::now(),
        }
    }
}

/// One item the pipeline handled.
#[derive(Debug, Clone, Serialize)]
pub struct ItemReport {
    pub id: String,
    pub guid: String,
    pub outcome: CommitKind,
    pub state: StoryState,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hold_reasons: Vec<String>,
    /// Sections the routing rules put it in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<String>,
    /// The rule that dropped it (outcome `dropped`: not stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_by: Option<String>,
    /// The story it was folded into: the same agency story, already stored from another feed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folded_into: Option<String>,
}

/// What happened to one payload.
#[derive(Debug, Clone, Serialize, Default)]
pub struct IngestReport {
    pub origin: String,
    pub raw_sha256: String,
    pub format: Option<String>,
    pub items: Vec<ItemReport>,
    /// Problems that skipped single items or parts of the payload; the rest went through.
    pub errors: Vec<String>,
    /// Set when nothing could be read from the payload at all.
    pub failed: Option<String>,
    /// The feed's own metadata (title, WebSub hub and self link, …).
    pub feed: verbatim_parse::FeedMeta,
}

impl IngestReport {
    pub fn count(&self, kind: CommitKind) -> usize {
        self.items
            .iter()
            .filter(|item| item.outcome == kind)
            .count()
    }

    pub fn held(&self) -> usize {
        self.items
            .iter()
            .filter(|item| !item.hold_reasons.is_empty())
            .count()
    }

    /// True when the payload or any part of it was bad input.
    pub fn had_bad_input(&self) -> bool {
        self.failed.is_some() || !self.errors.is_empty()
    }
}

#[derive(Clone)]
pub struct Pipeline {
    pub store: Arc<dyn Store>,
    pub archive: RawArchive,
    pub limits: Limits,
    /// Signs every version's provenance record.
    pub keys: Arc<KeyRing>,
    /// The operator's rules and the quality gate.
    pub gate: Arc<GateSettings>,
}

/// What the gate applies besides the fixed rules, from the config.
#[derive(Debug, Clone, Default)]
pub struct GateSettings {
    pub rules: verbatim_gate::Rules,
    /// Run the quality checks.
    pub quality: bool,
    /// Webhook endpoints by name (for `notify`): name → URL.
    pub endpoints: std::collections::HashMap<String, String>,
    /// The site's base URL, for links in notifications.
    pub base_url: String,
}

impl GateSettings {
    /// The gate's verdict on one item with these settings (ingest, `parse` and `source test`
    /// all ask here, so what they say is what ingest does).
    pub fn verdict(
        &self,
        normalized: &verbatim_normalize::Normalized,
        profile: &verbatim_gate::SourceProfile,
        now: DateTime<Utc>,
    ) -> verbatim_gate::Verdict {
        verbatim_gate::gate_with(
            normalized,
            now,
            verbatim_gate::Context {
                rules: Some(&self.rules),
                source: Some(profile),
                quality: self.quality,
            },
        )
    }
}

/// How many of a source's newest stories give its usual body length.
const PROFILE_STORIES: usize = 50;

/// An item a routing rule dropped: not stored (its payload stays archived).
#[derive(Debug, Clone)]
pub struct Dropped {
    pub guid: String,
    pub rule: String,
}

/// The signed record of where `item` came from (see `verbatim_provenance`).
pub fn provenance_of(
    item: &verbatim_item::Item,
    received: &Received,
    raw_sha256: &str,
    keys: &KeyRing,
) -> Signed {
    ProvenanceRecord {
        format: verbatim_provenance::FORMAT.to_string(),
        story_id: verbatim_store::story_id(&item.source, &item.guid),
        source: item.source.clone(),
        guid: item.guid.clone(),
        agency_version: item.version,
        origin: verbatim_fetch::redact_url(&received.origin),
        received_at: verbatim_store::format_time(received.received_at),
        http_status: received.http_status,
        etag: received.etag.clone(),
        last_modified: received.last_modified.clone(),
        raw_sha256: raw_sha256.to_string(),
        headline_sha256: sha256_text(&item.headline),
        body_text_sha256: sha256_text(&item.body_text),
        text_hash: item.text_hash.clone().unwrap_or_default(),
        parser: format!("verbatim-parse {}", verbatim_parse::VERSION),
        normalizer: format!("verbatim-normalize {}", verbatim_normalize::VERSION),
        headline_override: None,
        key_id: keys.current_id().to_string(),
    }
    .sign(keys.signing_key())
}

/// The pure part: parse → normalize → gate (and sign). `verify` re-runs it on archived payloads.
pub fn prepare(
    received: &Received,
    raw_sha256: &str,
    limits: &Limits,
    keys: &KeyRing,
    now: DateTime<Utc>,
) -> Result<Prepared, ParseError> {
    prepare_gated(
        received,
        raw_sha256,
        limits,
        keys,
        now,
        &GateSettings::default(),
        &verbatim_gate::SourceProfile::default(),
    )
}

/// [`prepare`] with the operator's rules, the quality gate and what is known of the source.
pub fn prepare_gated(
    received: &Received,
    raw_sha256: &str,
    limits: &Limits,
    keys: &KeyRing,
    now: DateTime<Utc>,
    settings: &GateSettings,
    profile: &verbatim_gate::SourceProfile,
) -> Result<Prepared, ParseError> {
    let parsed = verbatim_parse::parse(
        Input {
            bytes: &received.bytes,
            content_type: received.content_type.as_deref(),
            origin: &received.origin,
        },
        limits,
    )?;
    let mut versions = Vec::with_capacity(parsed.drafts.len());
    let mut dropped = Vec::new();
    for mut draft in parsed.drafts {
        draft.item.source = received.source.clone();
        draft.item.raw = Some(raw_sha256.to_string());
        draft.item.received_at = Some(received.received_at);
        let normalized = verbatim_normalize::normalize(draft);
        let verdict = settings.verdict(&normalized, profile, now);
        if let Some(rule) = verdict.dropped_by {
            dropped.push(Dropped {
                guid: normalized.item.guid,
                rule,
            });
            continue;
        }
        let signed = provenance_of(&normalized.item, received, raw_sha256, keys);
        versions.push(Gated {
            version: NewVersion {
                item: normalized.item,
                hold_reasons: verdict.hold_reasons,
                embargoed_until: verdict.embargoed_until,
                provenance: serde_json::to_string(&signed.record).ok(),
                signature: Some(signed.signature),
                sections: verdict.sections,
                link_only: verdict.link_only,
            },
            notify: verdict.notify,
        });
    }
    Ok(Prepared {
        format: parsed.format.name().to_string(),
        versions,
        dropped,
        errors: parsed.errors,
        feed: parsed.feed,
    })
}

/// A version ready to commit, with the webhooks its rules want told.
pub struct Gated {
    pub version: NewVersion,
    /// (endpoint name, rule name).
    pub notify: Vec<(String, String)>,
}

/// A payload parsed, normalized, gated and signed, ready to commit.
pub struct Prepared {
    pub format: String,
    pub versions: Vec<Gated>,
    /// Items a routing rule dropped.
    pub dropped: Vec<Dropped>,
    /// Items that could not be read; the others went through.
    pub errors: Vec<ParseError>,
    /// What the feed says about itself (its WebSub hub among it).
    pub feed: verbatim_parse::FeedMeta,
}

impl Pipeline {
    /// Archives and processes one payload. `Err` is for our own failures (disk, database); bad
    /// input is reported in the `IngestReport`.
    pub async fn ingest(&self, mut received: Received) -> Result<IngestReport> {
        // The payload moves to the archive and back rather than being copied.
        let bytes = std::mem::take(&mut received.bytes);
        let (stored, bytes) = self.archive.put(bytes).await;
        received.bytes = bytes;
        let raw_sha256 = stored.with_context(|| {
            format!(
                "{}: cannot write the raw payload to the archive",
                received.origin
            )
        })?;
        self.store
            .record_raw(&RawRecord {
                sha256: raw_sha256.clone(),
                source: received.source.clone(),
                origin: received.origin.clone(),
                received_at: received.received_at,
                size: received.bytes.len() as i64,
                content_type: received.content_type.clone(),
                http_status: received.http_status,
                etag: received.etag.clone(),
                last_modified: received.last_modified.clone(),
            })
            .await?;
        self.process(received, raw_sha256).await
    }

    /// Processes an archived payload (also used on start-up for payloads a crash left pending).
    pub async fn process(&self, received: Received, raw_sha256: String) -> Result<IngestReport> {
        let limits = self.limits;
        let received_source = received.source.clone();
        let origin = received.origin.clone();
        let sha = raw_sha256.clone();
        let keys = self.keys.clone();
        let settings = self.gate.clone();
        let profile = self.source_profile(&received.source).await?;
        let prepared = tokio::task::spawn_blocking(move || {
            prepare_gated(
                &received,
                &sha,
                &limits,
                &keys,
                Utc::now(),
                &settings,
                &profile,
            )
        })
        .await
        .context("parse task failed")?;
        let mut report = IngestReport {
            origin,
            raw_sha256: raw_sha256.clone(),
            ..IngestReport::default()
        };
        let Prepared {
            format,
            versions,
            dropped,
            errors,
            feed,
        } = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                let message = error.to_string();
                self.store.finish_raw(&raw_sha256, Some(&message)).await?;
                report.failed = Some(message);
                return Ok(report);
            }
        };
        report.format = Some(format);
        report.feed = feed;
        report.errors = errors.iter().map(ToString::to_string).collect();
        // The payload's items commit together (in transactions of `COMMIT_BATCH`).
        let (versions, notifies): (Vec<NewVersion>, Vec<_>) = versions
            .into_iter()
            .map(|Gated { version, notify }| (version, notify))
            .unzip();
        let outcomes = self.store.commit_all(&versions, Utc::now()).await?;
        for ((version, notify), committed) in versions.into_iter().zip(notifies).zip(outcomes) {
            // Told once per stored version: a feed polled again changes nothing.
            if committed.kind != CommitKind::Unchanged {
                for (endpoint, rule) in &notify {
                    self.notify(endpoint, rule, &committed, &version).await?;
                }
            }
            report.items.push(ItemReport {
                id: committed.id,
                guid: version.item.guid,
                outcome: committed.kind,
                state: committed.state,
                hold_reasons: version.hold_reasons,
                sections: version.sections,
                dropped_by: None,
                folded_into: committed.folded_into,
            });
        }
        for Dropped { guid, rule } in dropped {
            tracing::info!(source = %report.origin, %guid, %rule, "dropped by a routing rule");
            report.items.push(ItemReport {
                id: verbatim_store::story_id(&received_source, &guid),
                guid,
                outcome: CommitKind::Dropped,
                state: StoryState::Held,
                hold_reasons: Vec::new(),
                sections: Vec::new(),
                dropped_by: Some(rule),
                folded_into: None,
            });
        }
        let error_summary = (!report.errors.is_empty()).then(|| report.errors.join("\n"));
        self.store
            .finish_raw(&raw_sha256, error_summary.as_deref())
            .await?;
        Ok(report)
    }

    /// What the quality gate knows of a source: its declared language and usual body length.
    pub async fn source_profile(&self, source: &str) -> Result<verbatim_gate::SourceProfile> {
        if !self.gate.quality {
            return Ok(verbatim_gate::SourceProfile::default());
        }
        let language = self
            .store
            .source(source)
            .await?
            .and_then(|source| source.language);
        let mut lengths = self
            .store
            .source_body_lengths(source, PROFILE_STORIES)
            .await?;
        lengths.sort_unstable();
        Ok(verbatim_gate::SourceProfile {
            language,
            median_body_chars: lengths
                .get(lengths.len() / 2)
                .and_then(|median| usize::try_from(*median).ok()),
            samples: lengths.len(),
        })
    }

    /// Queues a `notify` webhook event for a rule that matched (once per stored version).
    async fn notify(
        &self,
        endpoint: &str,
        rule: &str,
        committed: &verbatim_store::Committed,
        version: &NewVersion,
    ) -> Result<()> {
        let Some(url) = self.gate.endpoints.get(endpoint) else {
            return Ok(());
        };
        let item = &version.item;
        let base = &self.gate.base_url;
        let body = serde_json::json!({
            "event": "notify",
            "rule": rule,
            "id": committed.id,
            "source": item.source,
            "guid": item.guid,
            "headline": item.headline,
            "urgency": item.urgency,
            "state": committed.state,
            "hold_reasons": version.hold_reasons,
            "url": format!("{base}/items/{}", committed.id),
            "api": format!("{base}/api/v1/items/{}", committed.id),
        })
        .to_string();
        let received = item.received_at.unwrap_or_else(Utc::now);
        self.store
            .add_webhook_event(
                &format!("{}#notify:{rule}", committed.id),
                received,
                "notify",
                &body,
                std::slice::from_ref(url),
                Utc::now(),
            )
            .await?;
        Ok(())
    }

    /// Processes every payload that was archived but never finished (after a crash).
    pub async fn recover_pending(&self) -> Result<usize> {
        let pending = self.store.pending_raw().await?;
        let count = pending.len();
        for raw in pending {
            let bytes = match self.archive.get(&raw.sha256).await {
                Ok(bytes) => bytes,
                Err(error) => {
                    let message = format!("archived payload is missing: {error}");
                    self.store.finish_raw(&raw.sha256, Some(&message)).await?;
                    continue;
                }
            };
            let received = Received {
                source: raw.source,
                origin: raw.origin,
                bytes,
                content_type: raw.content_type,
                http_status: raw.http_status,
                etag: raw.etag,
                last_modified: raw.last_modified,
                received_at: raw.received_at,
            };
            let report = self.process(received, raw.sha256).await?;
            tracing::info!(origin = %report.origin, items = report.items.len(), "recovered a pending payload");
        }
        Ok(count)
    }
}
