//! The canonical item: the one shape every agency format is turned into, and the
//! plain data passed between the pipeline stages (parse → normalize → gate → commit → publish).
//! Field names follow IPTC ninjs 2.x so the JSON form reads like ninjs.

pub mod ninjs;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The agency's publication status of one version of a story.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Pubstatus {
    /// Publishable.
    #[default]
    Usable,
    /// Must not be shown for now; a later usable version may lift it.
    Withheld,
    /// A kill: must be taken down everywhere.
    Canceled,
    /// A status the standards do not list; never published, held with the reason.
    Unknown(String),
}

impl Pubstatus {
    /// Reads a status word as agencies write it (ninjs words, NewsML-G2 QCodes `stat:usable` or
    /// concept URIs `…/pubstatusg2/usable`, NITF words). Anything else is kept as `Unknown` so it
    /// can be held with the reason.
    pub fn from_agency_word(word: &str) -> Pubstatus {
        let trimmed = word.trim();
        let bare = trimmed.rsplit([':', '/']).next().unwrap_or(trimmed);
        match bare.to_ascii_lowercase().as_str() {
            "usable" => Pubstatus::Usable,
            "withheld" => Pubstatus::Withheld,
            "canceled" | "cancelled" => Pubstatus::Canceled,
            _ => Pubstatus::Unknown(trimmed.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Pubstatus::Usable => "usable",
            Pubstatus::Withheld => "withheld",
            Pubstatus::Canceled => "canceled",
            Pubstatus::Unknown(word) => word,
        }
    }
}

impl fmt::Display for Pubstatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Pubstatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Pubstatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let word = String::deserialize(deserializer)?;
        Ok(Pubstatus::from_agency_word(&word))
    }
}

/// A subject or category the agency attached, with its code where the format carries one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Subject {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub code: Option<String>,
    pub name: String,
}

/// A picture or other media the story refers to. Media are kept by reference, never copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Association {
    pub kind: String,
    pub uri: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mimetype: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub caption: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub credit: Option<String>,
}

/// The canonical item of the SPEC. Produced by `normalize`, stored by `commit`, shown by `publish`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Item {
    /// The configured source's name (not the agency's own feed title).
    pub source: String,
    /// The agency's id for the story.
    pub guid: String,
    /// The agency's version number, where the format carries one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub versioncreated: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub firstcreated: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub received_at: Option<DateTime<Utc>>,
    pub pubstatus: Pubstatus,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub embargoed: Option<DateTime<Utc>>,
    /// Lifecycle signals the agency attached: `update`, `correction`, ...
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub signals: Vec<String>,
    pub headline: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub subheadline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub byline: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub contributors: Vec<String>,
    /// The dateline / place the story was filed from.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub located: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub subjects: Vec<Subject>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub keywords: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub urgency: Option<u8>,
    /// An editorial note from the agency to editors (not for readers).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ednote: Option<String>,
    /// The agency's markup, sanitized: safe to embed in a page.
    pub body_html: String,
    /// The text a reader sees (see the fidelity rule in ARCHITECTURE.md).
    pub body_text: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub copyrightnotice: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub usageterms: Option<String>,
    /// The story's original URL at the agency.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub link: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub associations: Vec<Association>,
    /// SHA-256 (hex) of the archived raw payload this item was read from.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub raw: Option<String>,
    /// SHA-256 (hex) of `headline` + NUL + `body_text`: what "the same text" means.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text_hash: Option<String>,
}

/// How the agency sent the body: as markup or as plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "content", rename_all = "lowercase")]
pub enum SourceBody {
    Html(String),
    Text(String),
}

impl Default for SourceBody {
    fn default() -> Self {
        SourceBody::Text(String::new())
    }
}

/// What a format parser hands to `normalize`: the item's fields as read, with the body still in
/// the agency's own form. `item.body_html` and `item.body_text` are empty until normalized.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Draft {
    pub item: Item,
    pub body: SourceBody,
    /// The headline as the agency sent it, when it is markup (Atom `type="html"`); normalize
    /// reduces it to visible text.
    pub headline_is_html: bool,
    /// Reasons this item must not be published whatever normalize finds (for example bytes that
    /// were not valid in the declared encoding). The gate turns them into a hold.
    pub holds: Vec<String>,
    /// The absolute URL relative links and images in the body resolve against (`xml:base`, else
    /// the feed's own URL); `None` leaves relative references as they are.
    pub base_url: Option<String>,
}

/// SHA-256 of some bytes as lowercase hex: the one content hash used for raw payloads, item ids
/// and text hashes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    digest_hex(&Sha256::digest(bytes).into())
}

/// [`sha256_hex`] of a value's compact JSON (what `serde_json::to_string` writes), hashed as it
/// is written rather than built as a string first.
pub fn sha256_hex_of_json<T: serde::Serialize + ?Sized>(
    value: &T,
) -> Result<String, serde_json::Error> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    serde_json::to_writer(&mut hasher, value)?;
    Ok(digest_hex(&hasher.finalize().into()))
}

/// A SHA-256 digest as lowercase hex. Written into a fixed buffer: `hex::encode` goes through a
/// character iterator, which cost 2 % of parsing and normalizing a feed (two hashes an item).
pub fn digest_hex(digest: &[u8; 32]) -> String {
    let mut out = [0u8; 64];
    match hex::encode_to_slice(digest, &mut out).map(|()| std::str::from_utf8(&out)) {
        Ok(Ok(text)) => text.to_owned(),
        // Cannot happen (the buffer is twice the digest, and hex is ASCII); the slow way is
        // still right.
        _ => hex::encode(digest),
    }
}

/// Query parameters whose values are credentials, by name (case-insensitive substrings).
const SECRET_PARAMETERS: [&str; 7] = ["key", "token", "secret", "auth", "pass", "sig", "session"];

/// A URL as it may be shown anywhere (logs, errors, `source list`, provenance records): without
/// its user name and password, credential-like query values replaced by `REDACTED`. Anything
/// that is not an http(s) URL is returned as it is.
pub fn redact_url(text: &str) -> String {
    let Ok(mut url) = url::Url::parse(text) else {
        return text.to_string();
    };
    if !matches!(url.scheme(), "http" | "https") {
        return text.to_string();
    }
    let _ = url.set_username("");
    let _ = url.set_password(None);
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let lower = name.to_ascii_lowercase();
                let secret = SECRET_PARAMETERS.iter().any(|word| lower.contains(word));
                let value = if secret {
                    "REDACTED".to_string()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_is_the_standard_digest_in_lowercase_hex() {
        // FIPS 180-2's test vector for "abc".
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let digest: [u8; 32] = std::array::from_fn(|index| (index * 37 + 5) as u8);
        assert_eq!(digest_hex(&digest), hex::encode(digest));
    }

    #[test]
    fn the_hash_of_a_value_as_json_is_the_hash_of_its_json_string() -> Result<(), serde_json::Error>
    {
        let value =
            serde_json::json!({"headline": "Río \"quoted\"\u{a0}🇺🇦", "n": [1, 2.5], "none": null});
        assert_eq!(
            sha256_hex_of_json(&value)?,
            sha256_hex(serde_json::to_string(&value)?.as_bytes())
        );
        Ok(())
    }
}
