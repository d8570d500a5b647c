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
    pub sources: Vec<SourceSection>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// `sqlite://PATH`; default: `DATA/verbatim.db`.
    pub url: Option<String>,
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
}

impl Default for FetchSection {
    fn default() -> Self {
        FetchSection {
            allow_private_networks: false,
            user_agent: None,
            timeout: default_timeout(),
            max_body_bytes: default_max_body(),
        }
    }
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
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_document_bytes: default_max_document(),
        }
    }
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
            if source.every < Duration::from_secs(10) {
                anyhow::bail!(
                    "{}: sources.{}: every must be at least 10s",
                    path.display(),
                    source.name
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
