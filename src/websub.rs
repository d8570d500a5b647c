//! WebSub (W3C Recommendation) subscriber: a polled source whose feed names a hub is subscribed to
//! it; the hub's verification is answered, each delivery's HMAC is checked before it is ingested,
//! and leases are renewed. Polling never stops: it slows down while a subscription is live and
//! returns to the source's interval as soon as the hub fails, so a broken hub loses nothing.

use crate::pipeline::{Pipeline, Received};
use async_trait::async_trait;
use axum::body::Bytes;
use chrono::{DateTime, Utc};
use rand::Rng;
use std::time::Duration;
use verbatim_fetch::Fetcher;
use verbatim_publish::{IngestError, PushReceipt, WebSubSink, WebSubVerification};
use verbatim_store::{Subscription, SubscriptionState};

/// How long a hub has to verify a subscription before it counts as failed.
const VERIFY_TIMEOUT: chrono::Duration = chrono::Duration::minutes(5);
/// How long after a failure a hub is asked again (polling carries the source meanwhile).
const RETRY_FAILED_AFTER: chrono::Duration = chrono::Duration::hours(1);
/// The lease a hub may grant, at most (RFC-style sanity bound; WebSub leaves it to the hub).
const MAX_LEASE_SECONDS: i64 = 30 * 24 * 3600;
/// How often leases are checked for renewal.
const RENEW_TICK: Duration = Duration::from_secs(1);

/// What the operator configures (`[websub]`).
#[derive(Debug, Clone)]
pub struct WebSubSettings {
    /// The public address hubs call back (`{callback_base}/websub/{source}`).
    pub callback_base: String,
    /// The lease asked for.
    pub lease: Duration,
    /// The polling interval while a subscription is live (a safety net).
    pub poll_while_subscribed: Duration,
}

/// The subscriber: shared by the poller (discovery), the renewal loop and the HTTP callback.
#[derive(Clone)]
pub struct WebSub {
    pub pipeline: Pipeline,
    pub fetcher: Fetcher,
    pub settings: WebSubSettings,
}

/// Whether a source that names `hub` and `topic` should (re)subscribe, given its subscription.
/// Pure, so the rule is tested on its own.
pub fn should_subscribe(
    existing: Option<&Subscription>,
    hub: &str,
    topic: &str,
    now: DateTime<Utc>,
) -> bool {
    let Some(existing) = existing else {
        return true;
    };
    if existing.hub != hub || existing.topic != topic {
        return true;
    }
    match existing.state {
        SubscriptionState::Active => renewal_due(existing, now),
        SubscriptionState::Requested => now - existing.requested_at > VERIFY_TIMEOUT,
        SubscriptionState::Failed => now - existing.requested_at > RETRY_FAILED_AFTER,
    }
}

/// A live lease is renewed when half of it (at most an hour) is left.
fn needs_renewal(subscription: &Subscription, now: DateTime<Utc>) -> bool {
    let Some(until) = subscription.lease_until else {
        return true;
    };
    let lease = subscription.lease_seconds.unwrap_or(0).max(0);
    let margin = chrono::Duration::seconds((lease / 2).min(3600));
    until - now <= margin
}

/// A renewal is asked for when the lease nears its end, and asked again (if the hub has not
/// confirmed it yet) after half the margin, at least a second later.
fn renewal_due(subscription: &Subscription, now: DateTime<Utc>) -> bool {
    let lease = subscription.lease_seconds.unwrap_or(0).max(0);
    let retry = chrono::Duration::seconds((lease / 4).clamp(1, 1800));
    needs_renewal(subscription, now) && now - subscription.requested_at >= retry
}

/// Whether `signature` (`method=hex`, WebSub §8) is the HMAC of `body` under `secret`. The
/// comparison is in constant time (the `hmac` crate's `verify_slice`).
pub fn signature_matches(secret: &str, body: &[u8], signature: &str) -> bool {
    use hmac::{Hmac, Mac};
    let Some((method, hex_value)) = signature.trim().split_once('=') else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_value.trim()) else {
        return false;
    };
    fn check<M: Mac + hmac::digest::KeyInit>(secret: &str, body: &[u8], expected: &[u8]) -> bool {
        let Ok(mut mac) = <M as Mac>::new_from_slice(secret.as_bytes()) else {
            return false;
        };
        mac.update(body);
        mac.verify_slice(expected).is_ok()
    }
    match method.trim().to_ascii_lowercase().as_str() {
        "sha1" => check::<Hmac<sha1::Sha1>>(secret, body, &expected),
        "sha256" => check::<Hmac<sha2::Sha256>>(secret, body, &expected),
        "sha384" => check::<Hmac<sha2::Sha384>>(secret, body, &expected),
        "sha512" => check::<Hmac<sha2::Sha512>>(secret, body, &expected),
        _ => false,
    }
}

impl WebSub {
    fn callback(&self, source: &str) -> String {
        format!(
            "{}/websub/{source}",
            self.settings.callback_base.trim_end_matches('/')
        )
    }

    /// After a poll: subscribes when the feed names a hub and no live or pending subscription
    /// covers it. `topic` is the feed's self link, or the URL it was fetched from.
    pub async fn discovered(&self, source: &str, hub: &str, topic: &str) {
        let existing = match self.pipeline.store.subscription(source).await {
            Ok(existing) => existing,
            Err(error) => {
                tracing::error!(%error, "cannot read the WebSub subscription");
                return;
            }
        };
        if should_subscribe(existing.as_ref(), hub, topic, Utc::now()) {
            self.subscribe(source, hub, topic).await;
        }
    }

    /// Whether the source's subscription is live now (then polling slows down).
    pub async fn is_live(&self, source: &str) -> bool {
        matches!(
            self.pipeline.store.subscription(source).await,
            Ok(Some(subscription)) if subscription.is_live(Utc::now())
        )
    }

    /// Asks the hub for a subscription (WebSub §5.1) with a fresh secret; the hub then verifies
    /// it by calling back. A refusal is recorded on the subscription, and polling goes on.
    pub async fn subscribe(&self, source: &str, hub: &str, topic: &str) {
        let secret = hex::encode(rand::rng().random::<[u8; 32]>());
        let lease = self.settings.lease.as_secs().to_string();
        let callback = self.callback(source);
        let now = Utc::now();
        let mut subscription = Subscription {
            source: source.to_string(),
            hub: hub.to_string(),
            topic: topic.to_string(),
            secret,
            state: SubscriptionState::Requested,
            requested_at: now,
            lease_seconds: None,
            lease_until: None,
            last_error: None,
            deliveries: 0,
            last_delivery: None,
        };
        // A renewal keeps the live lease until the hub confirms the new one.
        if let Ok(Some(current)) = self.pipeline.store.subscription(source).await
            && current.is_live(now)
            && current.hub == hub
            && current.topic == topic
        {
            subscription.state = SubscriptionState::Active;
            subscription.lease_seconds = current.lease_seconds;
            subscription.lease_until = current.lease_until;
            // The hub signs with the secret it last confirmed until it confirms the new one;
            // keeping one secret per subscription keeps that simple.
            subscription.secret = current.secret;
        }
        // Stored before the request: the hub may call back before its answer arrives.
        if let Err(error) = self.pipeline.store.put_subscription(&subscription).await {
            tracing::error!(%error, "cannot store the WebSub subscription");
            return;
        }
        let form = [
            ("hub.mode", "subscribe"),
            ("hub.topic", topic),
            ("hub.callback", callback.as_str()),
            ("hub.secret", subscription.secret.as_str()),
            ("hub.lease_seconds", lease.as_str()),
        ];
        let failure = match self.fetcher.post_form(hub, &form).await {
            Ok((status, _)) if (200..300).contains(&status) => None,
            Ok((status, answer)) => Some(format!("the hub answered HTTP {status}: {answer}")),
            Err(error) => Some(error.to_string()),
        };
        if let Some(failure) = failure {
            tracing::warn!(%source, %hub, error = %failure, "WebSub subscription refused; polling");
            // Only a pending request fails; a live lease stays live until it ends.
            if subscription.state == SubscriptionState::Requested {
                subscription.state = SubscriptionState::Failed;
            }
            subscription.last_error = Some(failure);
            if let Err(error) = self.pipeline.store.put_subscription(&subscription).await {
                tracing::error!(%error, "cannot store the WebSub subscription");
            }
        } else {
            tracing::info!(%source, %hub, %topic, "WebSub subscription requested");
        }
    }

    /// Renews leases before they end and gives up on hubs that never verified.
    pub async fn renew_loop(self, node: std::sync::Arc<crate::node::Node>) {
        loop {
            tokio::time::sleep(RENEW_TICK).await;
            // Among several nodes, one renews (two would subscribe twice).
            if !node.hold("websub").await {
                continue;
            }
            let Ok(subscriptions) = self.pipeline.store.subscriptions().await else {
                continue;
            };
            let now = Utc::now();
            for mut subscription in subscriptions {
                match subscription.state {
                    SubscriptionState::Active if renewal_due(&subscription, now) => {
                        let (hub, topic) = (subscription.hub.clone(), subscription.topic.clone());
                        self.subscribe(&subscription.source, &hub, &topic).await;
                    }
                    SubscriptionState::Requested
                        if now - subscription.requested_at > VERIFY_TIMEOUT =>
                    {
                        subscription.state = SubscriptionState::Failed;
                        subscription.last_error =
                            Some("the hub never verified the subscription".to_string());
                        let _ = self.pipeline.store.put_subscription(&subscription).await;
                    }
                    _ => {}
                }
            }
        }
    }
}

#[async_trait]
impl WebSubSink for WebSub {
    async fn verify(&self, source: &str, request: &WebSubVerification) -> Option<String> {
        let current = self.pipeline.store.subscription(source).await.ok()?;
        let ours = current
            .as_ref()
            .is_some_and(|subscription| subscription.topic == request.topic);
        match request.mode.as_str() {
            "subscribe" => {
                let mut subscription = current.filter(|_| ours)?;
                if subscription.state == SubscriptionState::Failed {
                    return None;
                }
                let challenge = request.challenge.clone()?;
                let now = Utc::now();
                let lease = request
                    .lease_seconds
                    .unwrap_or(self.settings.lease.as_secs() as i64)
                    .clamp(1, MAX_LEASE_SECONDS);
                subscription.state = SubscriptionState::Active;
                subscription.lease_seconds = Some(lease);
                subscription.lease_until = Some(now + chrono::Duration::seconds(lease));
                subscription.last_error = None;
                self.pipeline
                    .store
                    .put_subscription(&subscription)
                    .await
                    .ok()?;
                tracing::info!(%source, lease, "WebSub subscription verified");
                Some(challenge)
            }
            // We never ask to unsubscribe from a topic we still follow; confirming one we left
            // (the source was removed or moved to another topic) lets the hub stop.
            "unsubscribe" if !ours => request.challenge.clone(),
            "denied" if ours => {
                let mut subscription = current?;
                subscription.state = SubscriptionState::Failed;
                subscription.last_error = Some(format!(
                    "the hub denied the subscription: {}",
                    request.reason.as_deref().unwrap_or("no reason given")
                ));
                self.pipeline
                    .store
                    .put_subscription(&subscription)
                    .await
                    .ok()?;
                Some(String::new())
            }
            _ => None,
        }
    }

    async fn deliver(
        &self,
        source: &str,
        signature: Option<&str>,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<PushReceipt, IngestError> {
        let subscription = self
            .pipeline
            .store
            .subscription(source)
            .await
            .map_err(|error| IngestError::Internal(error.to_string()))?
            .filter(|subscription| subscription.state == SubscriptionState::Active)
            .ok_or_else(|| IngestError::UnknownSource(source.to_string()))?;
        if !signature
            .is_some_and(|signature| signature_matches(&subscription.secret, &body, signature))
        {
            tracing::warn!(%source, "WebSub delivery ignored: missing or wrong signature");
            return Err(IngestError::Unauthorized);
        }
        let now = Utc::now();
        let mut received = Received::new(source, &subscription.topic, body.to_vec());
        received.content_type = content_type.map(str::to_string);
        received.received_at = now;
        let report = self
            .pipeline
            .ingest(received)
            .await
            .map_err(|error| IngestError::Internal(format!("{error:#}")))?;
        if let Err(error) = self.pipeline.store.record_delivery(source, now).await {
            tracing::error!(%error, "cannot count the WebSub delivery");
        }
        if let Some(failed) = report.failed {
            return Err(IngestError::BadInput(failed));
        }
        Ok(PushReceipt {
            accepted: report.items.iter().map(|item| item.id.clone()).collect(),
            errors: report.errors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(state: SubscriptionState, now: DateTime<Utc>) -> Subscription {
        Subscription {
            source: "wire".into(),
            hub: "https://hub.test/".into(),
            topic: "https://wire.test/feed".into(),
            secret: "s".into(),
            state,
            requested_at: now,
            lease_seconds: Some(86_400),
            lease_until: Some(now + chrono::Duration::seconds(86_400)),
            last_error: None,
            deliveries: 0,
            last_delivery: None,
        }
    }

    #[test]
    fn subscribes_when_new_changed_expiring_or_failed_long_ago() {
        let now = Utc::now();
        let (hub, topic) = ("https://hub.test/", "https://wire.test/feed");
        assert!(should_subscribe(None, hub, topic, now));
        let active = subscription(SubscriptionState::Active, now);
        assert!(!should_subscribe(Some(&active), hub, topic, now));
        assert!(should_subscribe(
            Some(&active),
            "https://other.test/",
            topic,
            now
        ));
        // Half an hour before the end of a day's lease: renew.
        let later = now + chrono::Duration::hours(23) + chrono::Duration::minutes(30);
        assert!(should_subscribe(Some(&active), hub, topic, later));
        let requested = subscription(SubscriptionState::Requested, now);
        assert!(!should_subscribe(Some(&requested), hub, topic, now));
        assert!(should_subscribe(
            Some(&requested),
            hub,
            topic,
            now + chrono::Duration::minutes(6)
        ));
        let failed = subscription(SubscriptionState::Failed, now);
        assert!(!should_subscribe(Some(&failed), hub, topic, now));
        assert!(should_subscribe(
            Some(&failed),
            hub,
            topic,
            now + chrono::Duration::hours(2)
        ));
    }

    #[test]
    fn signatures_are_checked_for_every_websub_method() {
        use hmac::{Hmac, Mac};
        let body = b"<feed/>";
        let sign = |mut mac: Hmac<sha2::Sha256>| {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        };
        let Ok(mac) = Hmac::<sha2::Sha256>::new_from_slice(b"secret") else {
            panic!("HMAC accepts any key");
        };
        let good = format!("sha256={}", sign(mac));
        assert!(signature_matches("secret", body, &good));
        assert!(!signature_matches("other", body, &good));
        assert!(!signature_matches("secret", b"<feed>x</feed>", &good));
        assert!(!signature_matches("secret", body, "md5=00"));
        assert!(!signature_matches("secret", body, "sha256=zz"));
        assert!(!signature_matches("secret", body, ""));
        let Ok(mut sha1) = Hmac::<sha1::Sha1>::new_from_slice(b"secret") else {
            panic!("HMAC accepts any key");
        };
        sha1.update(body);
        let sha1 = format!("sha1={}", hex::encode(sha1.finalize().into_bytes()));
        assert!(signature_matches("secret", body, &sha1));
    }
}
