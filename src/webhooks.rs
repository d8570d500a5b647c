//! Webhooks: downstream systems learn of every publish, update, correction and kill by a signed
//! POST. A watcher turns story changes in the store into events (recorded once, with one
//! pending delivery per endpoint: the delivery log); a sender POSTs due deliveries and retries
//! failures with exponential backoff. Both live in `serve`; the log survives restarts.

use crate::pipeline::Pipeline;
use chrono::{DateTime, Utc};
use serde_json::json;
use std::time::Duration;
use verbatim_fetch::Fetcher;
use verbatim_store::{StoryRecord, StoryState};

/// How often the store is asked for changes and for due deliveries.
const TICK: Duration = Duration::from_millis(250);
/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: i64 = 10;
/// The longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// The setting that holds the watcher's position in the store.
const MARK_SETTING: &str = "webhooks_mark";

/// One configured endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    /// The HMAC-SHA256 key of `X-Verbatim-Signature`.
    pub secret: String,
    /// The kinds it receives (`publish`, `update`, `correction`, `kill`, `withhold`).
    pub events: Vec<String>,
}

/// What a change of a story means for downstream systems, given the last event sent for it.
/// Pure: `None` when there is nothing to tell (a held or embargoed story never published).
pub fn event_kind(previous: Option<&str>, story: &StoryRecord) -> Option<&'static str> {
    let was_live = matches!(previous, Some("publish" | "update" | "correction"));
    match (story.state, story.current.as_ref()) {
        (StoryState::Published, Some(version)) => Some(if !was_live {
            "publish"
        } else if version
            .item
            .signals
            .iter()
            .any(|signal| signal.eq_ignore_ascii_case("correction"))
        {
            "correction"
        } else {
            "update"
        }),
        (StoryState::Canceled, _) if previous != Some("kill") => Some("kill"),
        (StoryState::Withheld, _) if was_live => Some("withhold"),
        _ => None,
    }
}

/// The wait before attempt `attempts + 1`: 1 s, doubling, at most an hour.
pub fn backoff(attempts: i64) -> Duration {
    (Duration::from_secs(1) * 2u32.pow(attempts.clamp(0, 12) as u32)).min(MAX_BACKOFF)
}

fn payload(kind: &str, story: &StoryRecord, base_url: &str) -> String {
    let mut body = json!({
        "event": kind,
        "id": story.id,
        "source": story.source,
        "guid": story.guid,
        "url": format!("{base_url}/items/{}", story.id),
        "api": format!("{base_url}/api/v1/items/{}", story.id),
        "changed_at": story.changed_at.to_rfc3339(),
    });
    if let (Some(version), Some(map)) = (story.current.as_ref(), body.as_object_mut())
        && story.state == StoryState::Published
    {
        map.insert("headline".into(), json!(version.item.headline));
        map.insert("version".into(), json!(version.item.version));
        map.insert("signals".into(), json!(version.item.signals));
    }
    body.to_string()
}

/// `X-Verbatim-Signature`: `sha256=` and the hex HMAC-SHA256 of the body.
pub fn signature(secret: &str, body: &[u8]) -> String {
    use hmac::Mac;
    match hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

/// Turns story changes into events, for ever.
pub async fn watch(pipeline: Pipeline, endpoints: Vec<Endpoint>, base_url: String) {
    let store = pipeline.store.clone();
    // From the saved mark; a first start begins now (history is not replayed to endpoints).
    let mut mark = match store.setting(MARK_SETTING).await {
        Ok(Some(mark)) => verbatim_store::parse_time(&mark).unwrap_or_else(|_| Utc::now()),
        _ => Utc::now(),
    };
    let mut changes = verbatim_store::ChangeCursor::new(mark);
    loop {
        tokio::time::sleep(TICK).await;
        let Ok(batch) = changes.next(&*store, usize::MAX).await else {
            continue;
        };
        let newest = changes.mark();
        for story in batch.stories {
            let previous = match store.last_webhook_event(&story.id).await {
                Ok(previous) => previous,
                Err(error) => {
                    tracing::error!(%error, "cannot read webhook events");
                    changes.retry(&story.id);
                    continue;
                }
            };
            let Some(kind) = event_kind(previous.as_deref(), &story) else {
                continue;
            };
            let wanted: Vec<String> = endpoints
                .iter()
                .filter(|endpoint| endpoint.events.iter().any(|event| event == kind))
                .map(|endpoint| endpoint.url.clone())
                .collect();
            let body = payload(kind, &story, &base_url);
            // Recorded even with no endpoint wanting it: the next event's kind depends on it.
            if let Err(error) = store
                .add_webhook_event(
                    &story.id,
                    story.changed_at,
                    kind,
                    &body,
                    &wanted,
                    Utc::now(),
                )
                .await
            {
                tracing::error!(%error, "cannot record a webhook event");
                changes.retry(&story.id);
            }
        }
        if newest > mark {
            mark = newest;
            let _ = store
                .set_setting(MARK_SETTING, &verbatim_store::format_time(mark))
                .await;
        }
    }
}

/// Deliveries taken at a time.
const DELIVERY_BATCH: usize = 16;
/// How long a node owns the deliveries it took: longer than a batch of timed-out attempts
/// (16 × 60 s). A node that dies holding some leaves them to another node after this.
const DELIVERY_CLAIM: chrono::Duration = chrono::Duration::minutes(20);

/// Sends due deliveries, for ever.
pub async fn send(pipeline: Pipeline, fetcher: Fetcher, endpoints: Vec<Endpoint>) {
    let store = pipeline.store.clone();
    loop {
        tokio::time::sleep(TICK).await;
        // Claimed for long enough to send them all; on several nodes, no other node sends
        // them meanwhile.
        let now = Utc::now();
        let Ok(due) = store
            .due_webhook_deliveries(now, now + DELIVERY_CLAIM, DELIVERY_BATCH)
            .await
        else {
            continue;
        };
        for delivery in due {
            let Some(endpoint) = endpoints
                .iter()
                .find(|endpoint| endpoint.url == delivery.endpoint)
            else {
                // No longer configured: stop trying.
                let _ = store
                    .record_webhook_attempt(
                        delivery.event_id,
                        &delivery.endpoint,
                        "failed",
                        None,
                        Some("the endpoint is no longer configured"),
                        Utc::now(),
                        Utc::now(),
                    )
                    .await;
                continue;
            };
            let body = delivery.payload.clone().into_bytes();
            let headers = [
                ("X-Verbatim-Event", delivery.kind.clone()),
                ("X-Verbatim-Delivery", delivery.event_id.to_string()),
                ("X-Verbatim-Signature", signature(&endpoint.secret, &body)),
            ];
            let outcome = fetcher
                .post(&endpoint.url, "application/json", &headers, body)
                .await;
            let now = Utc::now();
            let (state, status, error, next): (&str, Option<i64>, Option<String>, DateTime<Utc>) =
                match outcome {
                    Ok((status, _)) if (200..300).contains(&status) => {
                        ("delivered", Some(i64::from(status)), None, now)
                    }
                    failed => {
                        let (status, error) = match failed {
                            Ok((status, answer)) => {
                                (Some(i64::from(status)), format!("HTTP {status}: {answer}"))
                            }
                            Err(error) => (None, error.to_string()),
                        };
                        let attempts = delivery.attempts + 1;
                        let wait = chrono::Duration::from_std(backoff(attempts - 1))
                            .unwrap_or(chrono::Duration::hours(1));
                        let state = if attempts >= MAX_ATTEMPTS {
                            "failed"
                        } else {
                            "pending"
                        };
                        tracing::warn!(endpoint = %endpoint.url, attempts, %error, "webhook delivery failed");
                        (state, status, Some(error), now + wait)
                    }
                };
            if let Err(error) = store
                .record_webhook_attempt(
                    delivery.event_id,
                    &delivery.endpoint,
                    state,
                    status,
                    error.as_deref(),
                    next,
                    now,
                )
                .await
            {
                tracing::error!(%error, "cannot record a webhook attempt");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_second_to_an_hour() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(40), MAX_BACKOFF);
    }

    #[test]
    fn signatures_are_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
