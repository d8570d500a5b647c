//! The configuration file (TOML): one typed value, read once at start and passed down. Unknown
//! keys are errors that name the key, so a typo never silently does nothing.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub node: NodeSection,
    #[serde(default)]
    pub provenance: ProvenanceSection,
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub site: SiteSection,
    #[serde(default)]
    pub fetch: FetchSection,
    #[serde(default)]
    pub limits: LimitsSection,
    #[serde(default)]
    pub audit: AuditSection,
    #[serde(default)]
    pub websub: WebSubSection,
    #[serde(default)]
    pub inbox: InboxSection,
    #[serde(default)]
    pub sources: Vec<SourceSection>,
    #[serde(default)]
    pub webhooks: Vec<WebhookSection>,
    /// Routing rules, matched in order against every item (`[[rules]]`).
    #[serde(default)]
    pub rules: Vec<verbatim_gate::RuleSpec>,
    #[serde(default)]
    pub gate: GateSection,
    /// Searches that notify a webhook when a new story matches (`[[saved_searches]]`).
    #[serde(default)]
    pub saved_searches: Vec<SavedSearchSection>,
}

/// The quality gate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateSection {
    /// Hold teasers, empty bodies, encoding damage and copy in another language than the
    /// source declares (default true).
    #[serde(default = "yes")]
    pub quality: bool,
}

impl Default for GateSection {
    fn default() -> Self {
        GateSection { quality: true }
    }
}

fn yes() -> bool {
    true
}

/// A saved search: each new story that matches `query` is POSTed to the webhook named
/// `webhook` (event `search`), once per story.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedSearchSection {
    pub name: String,
    /// The search syntax of `/search`: words, "phrases", OR, -exclusion.
    pub query: String,
    /// The `name` of a `[[webhooks]]` entry.
    pub webhook: String,
    pub source: Option<String>,
    pub language: Option<String>,
    pub section: Option<String>,
}

/// A downstream endpoint told of publishes, updates, corrections and kills.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSection {
    /// Lets rules (`notify`) and saved searches name this endpoint.
    pub name: Option<String>,
    pub url: String,
    /// The HMAC-SHA256 key of `X-Verbatim-Signature`.
    pub secret: String,
    /// Which events it receives; default all.
    #[serde(default = "all_webhook_events")]
    pub events: Vec<String>,
}

pub const WEBHOOK_EVENTS: [&str; 5] = ["publish", "update", "correction", "kill", "withhold"];

fn all_webhook_events() -> Vec<String> {
    WEBHOOK_EVENTS
        .iter()
        .map(|event| event.to_string())
        .collect()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// `sqlite://PATH` or `postgres://USER@HOST/DATABASE`; default: `DATA/verbatim.db`.
    pub url: Option<String>,
    /// Where raw payloads are kept: `files` (`DATA/raw`, the default with SQLite) or
    /// `database` (the default with PostgreSQL, where every node must read them).
    pub archive: Option<ArchivePlace>,
}

/// Where raw payloads are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchivePlace {
    Files,
    Database,
}

/// Signing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenanceSection {
    /// The signing keys' folder (default `DATA/keys`); nodes sharing a store share it.
    pub keys: Option<PathBuf>,
}

/// This process as one of several nodes on one store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// The node's name in leases and source health; default `HOST-PID`.
    pub name: Option<String>,
    /// How long a node's leases last without renewal: after a node dies, another takes its
    /// sources over within this (default 30s; leases are renewed every fifth of it, one UPDATE per node).
    #[serde(default = "default_node_lease", with = "humantime_serde_compat")]
    pub lease: Duration,
}

impl Default for NodeSection {
    fn default() -> Self {
        NodeSection {
            name: None,
            lease: default_node_lease(),
        }
    }
}

fn default_node_lease() -> Duration {
    Duration::from_secs(30)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            listen: default_listen(),
        }
    }
}

pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSection {
    pub title: Option<String>,
    /// The public address of the site (default: `http://LISTEN`).
    pub base_url: Option<String>,
    /// The notice line under every story (a template; see README).
    pub notice: Option<String>,
    /// A folder of templates that override the built-in ones.
    pub templates: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchSection {
    #[serde(default)]
    pub allow_private_networks: bool,
    pub user_agent: Option<String>,
    #[serde(default = "default_timeout", with = "humantime_serde_compat")]
    pub timeout: Duration,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// The shortest polling interval a source may have (at least 1s).
    #[serde(default = "default_min_interval", with = "humantime_serde_compat")]
    pub min_interval: Duration,
    /// A feed's `Cache-Control: max-age` delays its next poll, up to this (`0s`: ignored).
    #[serde(default = "default_max_age_cap", with = "humantime_serde_compat")]
    pub max_age_cap: Duration,
}

impl Default for FetchSection {
    fn default() -> Self {
        FetchSection {
            allow_private_networks: false,
            user_agent: None,
            timeout: default_timeout(),
            max_body_bytes: default_max_body(),
            min_interval: default_min_interval(),
            max_age_cap: default_max_age_cap(),
        }
    }
}

pub fn default_min_interval() -> Duration {
    Duration::from_secs(10)
}

fn default_max_age_cap() -> Duration {
    Duration::from_secs(600)
}

/// The inbox folder (`DATA/inbox/`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxSection {
    /// How long a file's size and modification time must stay the same before it is read.
    #[serde(default = "default_settle", with = "humantime_serde_compat")]
    pub settle: Duration,
}

impl Default for InboxSection {
    fn default() -> Self {
        InboxSection {
            settle: default_settle(),
        }
    }
}

fn default_settle() -> Duration {
    Duration::from_millis(500)
}

/// WebSub: subscribing polled sources to the hubs their feeds name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSubSection {
    #[serde(default)]
    pub enabled: bool,
    /// The public address hubs call back; default: `site.base_url`.
    pub callback_base: Option<String>,
    /// The lease asked of hubs.
    #[serde(default = "default_lease", with = "humantime_serde_compat")]
    pub lease: Duration,
    /// How often a source with a live subscription is still polled, as a safety net.
    #[serde(
        default = "default_poll_while_subscribed",
        with = "humantime_serde_compat"
    )]
    pub poll_while_subscribed: Duration,
}

impl Default for WebSubSection {
    fn default() -> Self {
        WebSubSection {
            enabled: false,
            callback_base: None,
            lease: default_lease(),
            poll_while_subscribed: default_poll_while_subscribed(),
        }
    }
}

fn default_lease() -> Duration {
    Duration::from_secs(24 * 3600)
}

fn default_poll_while_subscribed() -> Duration {
    Duration::from_secs(3600)
}

fn default_timeout() -> Duration {
    Duration::from_secs(60)
}

fn default_max_body() -> usize {
    32 * 1024 * 1024
}

/// How often `serve` verifies every published story (`0s` turns it off).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    #[serde(default = "default_audit_every", with = "humantime_serde_compat")]
    pub every: Duration,
}

impl Default for AuditSection {
    fn default() -> Self {
        AuditSection {
            every: default_audit_every(),
        }
    }
}

pub fn default_audit_every() -> Duration {
    Duration::from_secs(24 * 60 * 60)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    #[serde(default = "default_max_document")]
    pub max_document_bytes: usize,
    /// Pushes per second one source may make, on average.
    #[serde(default = "default_push_per_second")]
    pub push_per_second: u32,
    /// Pushes one source may make at once, beyond the average.
    #[serde(default = "default_push_burst")]
    pub push_burst: u32,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_document_bytes: default_max_document(),
            push_per_second: default_push_per_second(),
            push_burst: default_push_burst(),
        }
    }
}

fn default_push_per_second() -> u32 {
    50
}

fn default_push_burst() -> u32 {
    200
}

fn default_max_document() -> usize {
    64 * 1024 * 1024
}

/// A polled source declared in the config file (added or updated at start).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    pub name: String,
    pub url: String,
    #[serde(default = "default_every", with = "humantime_serde_compat")]
    pub every: Duration,
    pub notice: Option<String>,
    /// `basic:USER:PASSWORD`, `bearer:TOKEN` or `header:NAME:VALUE`.
    pub auth: Option<String>,
    /// The language the source's copy is in (`en`, `pt-BR`); the quality gate holds items in
    /// another language.
    pub language: Option<String>,
}

pub fn default_every() -> Duration {
    Duration::from_secs(300)
}

/// Reads durations written as "90s", "5m", "1h 30m".
mod humantime_serde_compat {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text)
            .map_err(|error| serde::de::Error::custom(format!("{text:?}: {error}")))
    }
}

impl Config {
    /// The routing rules, checked; with `known_sources`, every source a rule names must be one.
    pub fn compile_rules(
        &self,
        known_sources: Option<&[String]>,
    ) -> Result<verbatim_gate::Rules, verbatim_gate::RuleError> {
        let webhook_names: Vec<String> = self
            .webhooks
            .iter()
            .filter_map(|webhook| webhook.name.clone())
            .collect();
        verbatim_gate::Rules::compile(&self.rules, known_sources, &webhook_names)
    }

    /// Reads the file at `path`; a missing default file is an empty config, a missing named one
    /// is an error.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let config: Config = toml::from_str(&text)
            .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        if self.fetch.min_interval < Duration::from_secs(1) {
            anyhow::bail!("{}: fetch.min_interval must be at least 1s", path.display());
        }
        let mut urls = std::collections::HashSet::new();
        for webhook in &self.webhooks {
            let parsed = url::Url::parse(&webhook.url).map_err(|error| {
                anyhow::anyhow!("{}: webhooks: {:?}: {error}", path.display(), webhook.url)
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                anyhow::bail!(
                    "{}: webhooks: {:?} is not http(s)",
                    path.display(),
                    webhook.url
                );
            }
            if webhook.secret.len() < 16 {
                anyhow::bail!(
                    "{}: webhooks: the secret for {:?} must be at least 16 characters",
                    path.display(),
                    webhook.url
                );
            }
            if let Some(unknown) = webhook
                .events
                .iter()
                .find(|event| !WEBHOOK_EVENTS.contains(&event.as_str()))
            {
                anyhow::bail!(
                    "{}: webhooks: unknown event {unknown:?} (known: {})",
                    path.display(),
                    WEBHOOK_EVENTS.join(", ")
                );
            }
            if !urls.insert(webhook.url.as_str()) {
                anyhow::bail!(
                    "{}: webhooks: {:?} is declared twice",
                    path.display(),
                    webhook.url
                );
            }
        }
        let mut endpoint_names = std::collections::HashSet::new();
        for name in self
            .webhooks
            .iter()
            .filter_map(|webhook| webhook.name.as_deref())
        {
            if !endpoint_names.insert(name) {
                anyhow::bail!(
                    "{}: webhooks: the name {name:?} is used twice",
                    path.display()
                );
            }
        }
        // Sources are checked again at start, when the store's sources are known too.
        self.compile_rules(None)
            .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
        let mut searches = std::collections::HashSet::new();
        for search in &self.saved_searches {
            let label = format!("{}: saved_searches: {:?}", path.display(), search.name);
            if search.name.trim().is_empty() {
                anyhow::bail!(
                    "{}: saved_searches: every search needs a name",
                    path.display()
                );
            }
            if !searches.insert(search.name.as_str()) {
                anyhow::bail!("{label}: the name is used twice");
            }
            if search.query.trim().is_empty() {
                anyhow::bail!("{label}: the query is empty");
            }
            if !endpoint_names.contains(search.webhook.as_str()) {
                anyhow::bail!(
                    "{label}: no webhook named {:?} (give a [[webhooks]] entry that name)",
                    search.webhook
                );
            }
            if let Some(section) = &search.section
                && !verbatim_gate::rules::valid_section(section)
            {
                anyhow::bail!("{label}: {section:?} is not a section name");
            }
        }
        let mut names = std::collections::HashSet::new();
        for source in &self.sources {
            crate::validate_source_name(&source.name)
                .map_err(|error| anyhow::anyhow!("{}: sources: {error}", path.display()))?;
            if !names.insert(source.name.as_str()) {
                anyhow::bail!(
                    "{}: sources: {:?} is declared twice",
                    path.display(),
                    source.name
                );
            }
            if let Some(language) = &source.language {
                crate::validate_language_tag(language).map_err(|error| {
                    anyhow::anyhow!(
                        "{}: sources.{}: language: {error}",
                        path.display(),
                        source.name
                    )
                })?;
            }
            if source.every < self.fetch.min_interval {
                anyhow::bail!(
                    "{}: sources.{}: every must be at least fetch.min_interval ({})",
                    path.display(),
                    source.name,
                    humantime::format_duration(self.fetch.min_interval)
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_full_config() -> Result<()> {
        let config: Config = toml::from_str(
            r#"
            [store]
            url = "sqlite:///tmp/v.db"
            [server]
            listen = "127.0.0.1:9000"
            [site]
            title = "Wire Desk"
            [fetch]
            allow_private_networks = true
            timeout = "30s"
            [[sources]]
            name = "nordic"
            url = "https://nordic.example/feed.xml"
            every = "2m"
            "#,
        )?;
        assert_eq!(config.server.listen.port(), 9000);
        assert_eq!(config.sources[0].every, Duration::from_secs(120));
        assert_eq!(config.fetch.timeout, Duration::from_secs(30));
        Ok(())
    }

    #[test]
    fn unknown_keys_are_named() {
        let error = toml::from_str::<Config>("[site]\ntitel = \"x\"\n")
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(error.contains("titel"), "{error}");
    }
}
