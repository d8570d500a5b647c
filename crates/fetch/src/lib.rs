//! fetch: the only stage that talks to the network. One HTTP client with conditional GET, a cap
//! on the (decompressed) body, timeouts, a redirect limit and a guard that refuses loopback,
//! private, link-local and other internal addresses unless the operator allows them — checked on
//! the addresses actually connected to, also after redirects.

mod guard;

pub use guard::is_public_address;

use futures_util::StreamExt;
use std::time::Duration;

/// Settings for outbound fetches.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub allow_private_networks: bool,
    pub user_agent: String,
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    pub max_body_bytes: usize,
    pub max_redirects: usize,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            allow_private_networks: false,
            user_agent: concat!(
                "Verbatim/",
                env!("CARGO_PKG_VERSION"),
                " (+https://github.com/verbatim-news/verbatim)"
            )
            .to_string(),
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(60),
            max_body_bytes: 32 * 1024 * 1024,
            max_redirects: 5,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: not a valid http(s) URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error(
        "{url}: refused to connect to {address}: private, loopback and link-local addresses are not fetched (set fetch.allow_private_networks = true to allow)"
    )]
    Refused { url: String, address: String },
    #[error("{url}: HTTP status {status}")]
    Status {
        url: String,
        status: u16,
        /// The server's `Retry-After`, when it sent one (seconds or an HTTP date).
        retry_after: Option<Duration>,
    },
    #[error("{url}: the response is larger than the limit of {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: the source's credentials cannot be used: {reason}")]
    BadCredentials { url: String, reason: String },
    #[error("{url}: timed out")]
    Timeout { url: String },
    #[error("{url}: {reason}")]
    Network { url: String, reason: String },
}

/// Validators from the previous fetch, for a conditional GET.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A successful fetch.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    /// The document's URL after redirects (or its `Content-Location`): the base for its
    /// relative links, and the origin named in errors.
    pub final_url: String,
    pub content_type: Option<String>,
    pub validators: Validators,
    pub body: Vec<u8>,
    /// The `max-age` of the response's `Cache-Control`, when it allows caching.
    pub max_age: Option<Duration>,
    /// The WebSub hub named in an HTTP `Link` header (`rel="hub"`).
    pub hub: Option<String>,
    /// The topic URL named in an HTTP `Link` header (`rel="self"`).
    pub self_link: Option<String>,
}

#[derive(Debug, Clone)]
pub enum FetchOutcome {
    /// 304: nothing changed since the validators were issued.
    NotModified {
        /// The `max-age` of the 304's `Cache-Control`, when it allows caching.
        max_age: Option<Duration>,
    },
    Fetched(Fetched),
}

/// How a source proves who is fetching. Never printed: `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Basic {
        user: String,
        password: String,
    },
    Bearer(String),
    /// A custom header, e.g. `X-Api-Key`.
    Header {
        name: String,
        value: String,
    },
    /// An API key in the query string, e.g. `?api_key=…`.
    Query {
        name: String,
        value: String,
    },
}

const EXPECTED_CREDENTIALS: &str =
    "expected basic:USER:PASSWORD, bearer:TOKEN, header:NAME:VALUE or query:NAME:VALUE";

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { user, .. } => write!(f, "Basic({user}:***)"),
            Credentials::Bearer(_) => f.write_str("Bearer(***)"),
            Credentials::Header { name, .. } => write!(f, "Header({name}: ***)"),
            Credentials::Query { name, .. } => write!(f, "Query({name}=***)"),
        }
    }
}

impl Credentials {
    /// Reads `basic:USER:PASSWORD`, `bearer:TOKEN`, `header:NAME:VALUE` or `query:NAME:VALUE`
    /// (an API key added to the query string of every request, so the URL stored and shown for
    /// the source never contains it).
    pub fn parse(spec: &str) -> Result<Credentials, String> {
        let (kind, rest) = spec.split_once(':').ok_or(EXPECTED_CREDENTIALS)?;
        let pair = |what: &str| {
            rest.split_once(':')
                .map(|(first, second)| (first.to_string(), second.to_string()))
                .filter(|(first, _)| !first.is_empty())
                .ok_or(format!("{kind}: expected {what}"))
        };
        match kind.to_ascii_lowercase().as_str() {
            "basic" => {
                let (user, password) = pair("basic:USER:PASSWORD")?;
                Ok(Credentials::Basic { user, password })
            }
            "bearer" if !rest.is_empty() => Ok(Credentials::Bearer(rest.to_string())),
            "header" => {
                let (name, value) = pair("header:NAME:VALUE")?;
                reqwest::header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("{name:?} is not a header name"))?;
                Ok(Credentials::Header { name, value })
            }
            "query" => {
                let (name, value) = pair("query:NAME:VALUE")?;
                Ok(Credentials::Query { name, value })
            }
            other => Err(format!("unknown kind {other:?}: {EXPECTED_CREDENTIALS}")),
        }
    }
}

pub use verbatim_item::redact_url;

/// A `Retry-After` value: delay-seconds, or an HTTP date (RFC 9110 §10.2.3), as a wait from now.
pub fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The `max-age` a `Cache-Control` header allows, or `None` when it forbids caching
/// (`no-store`, `no-cache`, `private` says nothing about us and is ignored).
pub fn cache_max_age(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let mut max_age = None;
    for value in headers.get_all(reqwest::header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim().to_ascii_lowercase();
            if directive == "no-store" || directive == "no-cache" {
                return None;
            }
            if let Some(seconds) = directive.strip_prefix("max-age=") {
                max_age = seconds
                    .trim_matches('"')
                    .parse::<u64>()
                    .ok()
                    .map(Duration::from_secs);
            }
        }
    }
    max_age
}

/// The target of the first link with relation `rel` in an HTTP `Link` header value
/// (RFC 8288: `<url>; rel="hub", <url2>; rel="self"`).
pub fn link_with_rel(value: &str, rel: &str) -> Option<String> {
    let mut rest = value;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>')?;
        let target = &after[..end];
        let params_end = after[end..]
            .find('<')
            .map_or(after.len(), |next| end + next);
        // The parameters up to the next link, without the comma that separates links.
        let params = after[end + 1..params_end].trim().trim_end_matches(',');
        let matches = params.split(';').any(|param| {
            param.split_once('=').is_some_and(|(name, value)| {
                name.trim().eq_ignore_ascii_case("rel")
                    && value
                        .trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|one| one.eq_ignore_ascii_case(rel))
            })
        });
        if matches && !target.trim().is_empty() {
            return Some(target.trim().to_string());
        }
        rest = &after[params_end..];
    }
    None
}

/// `url` without the query parameter `name` (an empty query is removed).
fn without_query_param(mut url: url::Url, name: &str) -> url::Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != name)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    url
}

/// The one HTTP client.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    config: FetchConfig,
}

impl Fetcher {
    pub fn new(config: FetchConfig) -> Result<Fetcher, FetchError> {
        let allow_private = config.allow_private_networks;
        let max_redirects = config.max_redirects;
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= max_redirects {
                return attempt.error(format!("more than {max_redirects} redirects"));
            }
            if !allow_private
                && let Some(address) = guard::literal_address(attempt.url())
                && !is_public_address(address)
            {
                return attempt.error(format!("redirect to refused address {address}"));
            }
            attempt.follow()
        });
        let mut builder = reqwest::Client::builder()
            .user_agent(&config.user_agent)
            .connect_timeout(config.connect_timeout)
            .timeout(config.total_timeout)
            .redirect(redirect)
            .gzip(true)
            .brotli(true)
            .deflate(true);
        if !allow_private {
            builder = builder.dns_resolver(std::sync::Arc::new(guard::PublicOnlyResolver));
        }
        let client = builder.build().map_err(|error| FetchError::Network {
            url: String::new(),
            reason: error.to_string(),
        })?;
        Ok(Fetcher { client, config })
    }

    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// GETs `url`, conditionally when validators are given.
    pub async fn get(
        &self,
        url: &str,
        validators: &Validators,
    ) -> Result<FetchOutcome, FetchError> {
        self.get_with(url, validators, None).await
    }

    /// Like [`Fetcher::get`], presenting the source's credentials.
    pub async fn get_with(
        &self,
        url: &str,
        validators: &Validators,
        credentials: Option<&Credentials>,
    ) -> Result<FetchOutcome, FetchError> {
        let mut parsed = self.checked_url(url)?;
        if let Some(Credentials::Query { name, value }) = credentials {
            parsed.query_pairs_mut().append_pair(name, value);
        }
        let mut request = self.client.get(parsed);
        match credentials {
            Some(Credentials::Basic { user, password }) => {
                request = request.basic_auth(user, Some(password));
            }
            Some(Credentials::Bearer(token)) => request = request.bearer_auth(token),
            Some(Credentials::Header { name, value }) => {
                request = request.header(name.as_str(), value.as_str());
            }
            Some(Credentials::Query { .. }) | None => {}
        }
        if let Some(etag) = &validators.etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(last_modified) = &validators.last_modified {
            request = request.header(reqwest::header::IF_MODIFIED_SINCE, last_modified);
        }
        let response = request
            .send()
            .await
            .map_err(|error| self.classify(url, error))?;
        let status = response.status();
        let max_age = cache_max_age(response.headers());
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified { max_age });
        }
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(retry_after);
            return Err(FetchError::Status {
                url: redact_url(url),
                status: status.as_u16(),
                retry_after,
            });
        }
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let validators = Validators {
            etag: header(reqwest::header::ETAG),
            last_modified: header(reqwest::header::LAST_MODIFIED),
        };
        // The document's own URL, which relative links in it resolve against: where redirects
        // ended, or the `Content-Location` the server names (RFC 9110 §8.7).
        let link_to = |rel: &str| {
            response
                .headers()
                .get_all(reqwest::header::LINK)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .find_map(|value| link_with_rel(value, rel))
                .and_then(|link| response.url().join(&link).ok())
                .map(String::from)
        };
        let (hub, self_link) = (link_to("hub"), link_to("self"));
        let final_url = header(reqwest::header::CONTENT_LOCATION)
            .and_then(|location| response.url().join(&location).ok())
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .unwrap_or_else(|| response.url().clone());
        // The document's URL is stored and shown; a query-string key added here stays out of it.
        let final_url = match credentials {
            Some(Credentials::Query { name, .. }) => without_query_param(final_url, name),
            _ => final_url,
        }
        .to_string();
        let limit = self.config.max_body_bytes;
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(FetchError::TooLarge {
                url: redact_url(url),
                limit,
            });
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| self.classify(url, error))?;
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge {
                    url: redact_url(url),
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchOutcome::Fetched(Fetched {
            status: status.as_u16(),
            final_url,
            content_type,
            validators,
            body,
            max_age,
            hub,
            self_link,
        }))
    }

    /// POSTs a form (a WebSub subscription request) under the same guard and limits as a
    /// fetch; returns the status and the start of the answer's body (for the error message).
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<(u16, String), FetchError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.post(
            url,
            "application/x-www-form-urlencoded",
            &[],
            body.into_bytes(),
        )
        .await
    }

    /// POSTs `body` (a webhook delivery) with extra headers, under the same guard and limits as
    /// a fetch; returns the status and the start of the answer's body.
    pub async fn post(
        &self,
        url: &str,
        content_type: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<(u16, String), FetchError> {
        let parsed = self.checked_url(url)?;
        let mut request = self
            .client
            .post(parsed)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let response = request
            .send()
            .await
            .map_err(|error| self.classify(url, error))?;
        let status = response.status().as_u16();
        let mut answer = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(Ok(chunk)) = stream.next().await {
            answer.extend_from_slice(&chunk);
            if answer.len() > 1024 {
                break;
            }
        }
        answer.truncate(1024);
        Ok((status, String::from_utf8_lossy(&answer).trim().to_string()))
    }

    /// Parses `url` and refuses what is never fetched: other schemes, and (unless allowed)
    /// literal internal addresses. Names are checked when resolved.
    fn checked_url(&self, url: &str) -> Result<url::Url, FetchError> {
        let parsed = url::Url::parse(url).map_err(|error| FetchError::BadUrl {
            url: redact_url(url),
            reason: error.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(FetchError::BadUrl {
                url: redact_url(url),
                reason: format!("scheme {:?} is not fetched", parsed.scheme()),
            });
        }
        if !self.config.allow_private_networks
            && let Some(address) = guard::literal_address(&parsed)
            && !is_public_address(address)
        {
            return Err(FetchError::Refused {
                url: redact_url(url),
                address: address.to_string(),
            });
        }
        Ok(parsed)
    }

    fn classify(&self, url: &str, error: reqwest::Error) -> FetchError {
        if error.is_timeout() {
            return FetchError::Timeout {
                url: redact_url(url),
            };
        }
        // reqwest names the URL in its messages; ours names the redacted one instead.
        let error = error.without_url();
        let mut reason = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(inner) = source {
            reason.push_str(": ");
            reason.push_str(&inner.to_string());
            source = inner.source();
        }
        if let Some(address) = reason.split(guard::REFUSED_MARKER).nth(1) {
            return FetchError::Refused {
                url: redact_url(url),
                address: address
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            };
        }
        FetchError::Network {
            url: redact_url(url),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_parse_and_never_print_their_secret() {
        let basic = Credentials::parse("basic:agency:s3cr:et");
        assert_eq!(
            basic,
            Ok(Credentials::Basic {
                user: "agency".into(),
                password: "s3cr:et".into()
            })
        );
        assert!(!format!("{basic:?}").contains("s3cr"));
        assert!(matches!(
            Credentials::parse("header:X-Api-Key:abc"),
            Ok(Credentials::Header { .. })
        ));
        assert!(Credentials::parse("bearer:").is_err());
        assert!(Credentials::parse("header:bad name:v").is_err());
        assert!(Credentials::parse("digest:a:b").is_err());
        let query = Credentials::parse("query:api_key:k3y");
        assert!(matches!(query, Ok(Credentials::Query { .. })));
        assert!(!format!("{query:?}").contains("k3y"));
    }

    #[test]
    fn credentials_never_reach_a_shown_url() {
        assert_eq!(
            redact_url("https://user:pw@wire.test/feed.xml?apikey=abc123&lang=en&Token=t"),
            "https://wire.test/feed.xml?apikey=REDACTED&lang=en&Token=REDACTED"
        );
        assert_eq!(
            redact_url("https://wire.test/feed.xml"),
            "https://wire.test/feed.xml"
        );
        assert_eq!(redact_url("push:wire"), "push:wire");
        assert_eq!(redact_url("/srv/inbox/wire/a.xml"), "/srv/inbox/wire/a.xml");
    }

    #[test]
    fn link_headers_name_hub_and_self() {
        let value = r#"<https://hub.test/>; rel="hub", <https://wire.test/feed?a=1,2>; rel="self""#;
        assert_eq!(
            link_with_rel(value, "hub").as_deref(),
            Some("https://hub.test/")
        );
        assert_eq!(
            link_with_rel(value, "self").as_deref(),
            Some("https://wire.test/feed?a=1,2")
        );
        assert_eq!(
            link_with_rel("<https://h.test/>; rel=\"alternate hub\"", "hub").as_deref(),
            Some("https://h.test/")
        );
        assert_eq!(link_with_rel("<https://h.test/>; rel=next", "hub"), None);
        assert_eq!(link_with_rel("garbage <unclosed", "hub"), None);
    }

    #[test]
    fn cache_control_max_age_is_read() {
        let headers = |value: &str| {
            let mut map = reqwest::header::HeaderMap::new();
            if let Ok(value) = reqwest::header::HeaderValue::from_str(value) {
                map.insert(reqwest::header::CACHE_CONTROL, value);
            }
            map
        };
        assert_eq!(
            cache_max_age(&headers("public, max-age=600")),
            Some(Duration::from_secs(600))
        );
        assert_eq!(cache_max_age(&headers("no-cache, max-age=600")), None);
        assert_eq!(cache_max_age(&headers("max-age=soon")), None);
        assert_eq!(cache_max_age(&headers("")), None);
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_a_date() {
        assert_eq!(retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3600));
        assert!(retry_after(&later).is_some_and(|wait| wait > Duration::from_secs(3500)));
        assert_eq!(retry_after("soon"), None);
    }
}
