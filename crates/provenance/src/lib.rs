//! Provenance: the signed record of where a published version's text came from. A record names
//! the source, the payload (its SHA-256 in the raw archive), how it arrived and the hashes of the
//! headline and visible text; the site's Ed25519 key signs its canonical bytes, so anyone holding
//! the public key can check a page against it. Records and signatures are pure; `keys` is the
//! edge that keeps the key pair on disk.

pub mod keys;

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use keys::{KeyError, KeyRing, PublicKey};

/// The record format; bumped if the fields or their canonical form ever change.
pub const FORMAT: &str = "verbatim-provenance/1";

/// Where one stored version's text came from. Field order is the canonical order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenanceRecord {
    pub format: String,
    /// Verbatim's id for the story.
    pub story_id: String,
    pub source: String,
    /// The agency's id for the story.
    pub guid: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub agency_version: Option<u64>,
    /// How the payload arrived: the fetched URL, the inbox file, or `push:SOURCE`.
    pub origin: String,
    /// RFC 3339.
    pub received_at: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub http_status: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_modified: Option<String>,
    /// SHA-256 of the raw payload as received (its name in the archive).
    pub raw_sha256: String,
    /// SHA-256 of the agency's headline as published.
    pub headline_sha256: String,
    /// SHA-256 of `body_text`, the text a reader sees.
    pub body_text_sha256: String,
    /// The item's `text_hash` (headline, NUL, body text).
    pub text_hash: String,
    /// The code that read the payload, e.g. `verbatim-parse 0.1.0`.
    pub parser: String,
    pub normalizer: String,
    /// An operator's headline shown instead of the agency's, disclosed on the page.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub headline_override: Option<HeadlineOverride>,
    /// Which site key signed it.
    pub key_id: String,
}

/// An operator's change of the headline: who, when, and what is shown instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadlineOverride {
    pub headline: String,
    pub by: String,
    /// RFC 3339.
    pub at: String,
}

/// A record with its signature (base64 of the 64-byte Ed25519 signature).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    pub record: ProvenanceRecord,
    pub signature: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the record was signed by key {0}, which this site does not have")]
    UnknownKey(String),
    #[error("the signature is not valid base64 Ed25519")]
    Malformed,
    #[error("the signature does not match the record: the record or the signature was altered")]
    Mismatch,
}

/// SHA-256 (hex) of a text's UTF-8 bytes.
pub fn sha256_text(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl ProvenanceRecord {
    /// The bytes that are signed: the record as compact JSON, fields in declaration order.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn sign(self, key: &SigningKey) -> Signed {
        let signature = key.sign(&self.canonical_bytes());
        Signed {
            signature: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
            record: self,
        }
    }
}

impl Signed {
    /// Checks the signature with the key the record names, among `keys`.
    pub fn verify(&self, keys: &[PublicKey]) -> Result<(), VerifyError> {
        let key = keys
            .iter()
            .find(|key| key.key_id == self.record.key_id)
            .ok_or_else(|| VerifyError::UnknownKey(self.record.key_id.clone()))?;
        let bytes: [u8; 64] = base64::engine::general_purpose::STANDARD
            .decode(self.signature.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(VerifyError::Malformed)?;
        let verifying: &VerifyingKey = &key.key;
        verifying
            .verify(
                &self.record.canonical_bytes(),
                &Signature::from_bytes(&bytes),
            )
            .map_err(|_| VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key_id: &str) -> ProvenanceRecord {
        ProvenanceRecord {
            format: FORMAT.into(),
            story_id: "0123456789abcdef".into(),
            source: "wire".into(),
            guid: "urn:wire:1".into(),
            agency_version: Some(2),
            origin: "https://wire.test/feed.xml".into(),
            received_at: "2026-11-24T10:00:00.000000Z".into(),
            http_status: Some(200),
            etag: Some("\"v1\"".into()),
            last_modified: None,
            raw_sha256: "ab".repeat(32),
            headline_sha256: sha256_text("Headline"),
            body_text_sha256: sha256_text("Body"),
            text_hash: "cd".repeat(32),
            parser: "verbatim-parse 0.1.0".into(),
            normalizer: "verbatim-normalize 0.1.0".into(),
            headline_override: None,
            key_id: key_id.into(),
        }
    }

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let public = PublicKey::of(&key, "2026-11-24T00:00:00Z");
        let signed = record(&public.key_id).sign(&key);
        assert_eq!(signed.verify(std::slice::from_ref(&public)), Ok(()));

        let mut altered = signed.clone();
        altered.record.body_text_sha256 = sha256_text("Body!");
        assert_eq!(
            altered.verify(std::slice::from_ref(&public)),
            Err(VerifyError::Mismatch)
        );

        let mut forged = signed.clone();
        forged.signature = "not base64".into();
        assert_eq!(
            forged.verify(std::slice::from_ref(&public)),
            Err(VerifyError::Malformed)
        );

        let other = PublicKey::of(&SigningKey::from_bytes(&[8u8; 32]), "2026-11-24T00:00:00Z");
        assert!(matches!(
            signed.verify(&[other]),
            Err(VerifyError::UnknownKey(_))
        ));
    }

    #[test]
    fn the_canonical_form_is_stable_compact_json() {
        let bytes = record("k").canonical_bytes();
        let text = String::from_utf8(bytes).unwrap_or_default();
        assert!(
            text.starts_with(r#"{"format":"verbatim-provenance/1","story_id":"0123456789abcdef""#)
        );
        assert!(
            !text.contains("\": ") && !text.contains(", \""),
            "compact: {text}"
        );
        assert!(
            !text.contains("headline_override"),
            "absent options are left out"
        );
    }
}
