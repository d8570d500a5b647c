//! The site's signing keys in `DATA/keys/`: `site-KEYID.key` (the 32-byte Ed25519 seed in hex,
//! mode 0600), `site-KEYID.pub` (the public key in hex, with its creation time) and `current`
//! (the id of the key that signs). Rotation adds a key and moves `current`; old public keys stay,
//! so records they signed still verify.

use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a key file ({reason})")]
    Corrupt { path: PathBuf, reason: String },
}

/// A public key with the id records use to name it.
#[derive(Debug, Clone, Serialize)]
pub struct PublicKey {
    /// The first 16 hex digits of the SHA-256 of the public key bytes.
    pub key_id: String,
    #[serde(serialize_with = "hex_key")]
    pub key: VerifyingKey,
    /// When the key was made (RFC 3339).
    pub created: String,
}

fn hex_key<S: serde::Serializer>(key: &VerifyingKey, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex::encode(key.as_bytes()))
}

impl PublicKey {
    pub fn of(signing: &SigningKey, created: &str) -> PublicKey {
        let key = signing.verifying_key();
        PublicKey {
            key_id: key_id(&key),
            key,
            created: created.to_string(),
        }
    }
}

fn key_id(key: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))[..16].to_string()
}

/// The signing key and every public key the site has had.
pub struct KeyRing {
    signing: SigningKey,
    current: String,
    public: Vec<PublicKey>,
}

impl KeyRing {
    /// Loads `dir`, creating the folder and a first key when there is none.
    pub fn open(dir: &Path, now: &str) -> Result<KeyRing, KeyError> {
        std::fs::create_dir_all(dir).map_err(|source| KeyError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let current_path = dir.join("current");
        if !current_path.exists() {
            Self::create_key(dir, now)?;
        }
        Self::load(dir)
    }

    /// Makes a new key the signing key; the old ones stay for verifying.
    pub fn rotate(dir: &Path, now: &str) -> Result<KeyRing, KeyError> {
        Self::open(dir, now)?;
        Self::create_key(dir, now)?;
        Self::load(dir)
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    pub fn current_id(&self) -> &str {
        &self.current
    }

    /// Every public key, the current one first.
    pub fn public_keys(&self) -> &[PublicKey] {
        &self.public
    }

    fn create_key(dir: &Path, now: &str) -> Result<(), KeyError> {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        let signing = SigningKey::from_bytes(&seed);
        let public = PublicKey::of(&signing, now);
        let secret_path = dir.join(format!("site-{}.key", public.key_id));
        write_private(&secret_path, &hex::encode(seed))?;
        // Each file appears whole (written aside, then renamed), `current` last: a crash at any
        // point leaves the previous key in charge and no half-written file that `load` reads.
        write_atomically(
            &dir.join(format!("site-{}.pub", public.key_id)),
            &format!("{} {}\n", hex::encode(public.key.as_bytes()), now),
        )?;
        write_atomically(&dir.join("current"), &public.key_id)
    }

    fn load(dir: &Path) -> Result<KeyRing, KeyError> {
        let current_path = dir.join("current");
        let current = read(&current_path)?.trim().to_string();
        let secret_path = dir.join(format!("site-{current}.key"));
        let seed: [u8; 32] = hex::decode(read(&secret_path)?.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| KeyError::Corrupt {
                path: secret_path.clone(),
                reason: "expected 64 hex digits".into(),
            })?;
        let signing = SigningKey::from_bytes(&seed);
        let mut public = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|source| KeyError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|extension| extension != "pub") {
                continue;
            }
            let text = read(&path)?;
            let mut parts = text.split_whitespace();
            let corrupt = |reason: &str| KeyError::Corrupt {
                path: path.clone(),
                reason: reason.into(),
            };
            let bytes: [u8; 32] = parts
                .next()
                .and_then(|hex_key| hex::decode(hex_key).ok())
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or_else(|| corrupt("expected 64 hex digits"))?;
            let key =
                VerifyingKey::from_bytes(&bytes).map_err(|_| corrupt("not an Ed25519 key"))?;
            public.push(PublicKey {
                key_id: key_id(&key),
                key,
                created: parts.next().unwrap_or_default().to_string(),
            });
        }
        if key_id(&signing.verifying_key()) != current {
            return Err(KeyError::Corrupt {
                path: secret_path,
                reason: "the key does not match its name".into(),
            });
        }
        public.sort_by(|a, b| {
            (b.key_id == current)
                .cmp(&(a.key_id == current))
                .then(b.created.cmp(&a.created))
        });
        Ok(KeyRing {
            signing,
            current,
            public,
        })
    }
}

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `contents` beside `path` and renames it into place.
fn write_atomically(path: &Path, contents: &str) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    std::fs::write(&temporary, contents).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)
}

/// Writes a secret readable by its owner only (0600 from the start, never wider).
fn write_private(path: &Path, contents: &str) -> Result<(), KeyError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = options.open(path).map_err(io)?;
    file.write_all(contents.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FORMAT, ProvenanceRecord};

    #[test]
    fn a_crash_while_making_a_key_does_not_stop_the_next_start() -> Result<(), KeyError> {
        let dir = tempfile::tempdir().map_err(|source| KeyError::Io {
            path: PathBuf::new(),
            source,
        })?;
        let keys = dir.path().join("keys");
        std::fs::create_dir_all(&keys).map_err(|source| KeyError::Io {
            path: keys.clone(),
            source,
        })?;
        // What a kill leaves mid-way: a secret, a half-written public key aside, no `current`.
        for (name, contents) in [
            ("site-0000000000000000.key", "00"),
            ("site-0000000000000000.pub.tmp", ""),
        ] {
            std::fs::write(keys.join(name), contents).map_err(|source| KeyError::Io {
                path: keys.join(name),
                source,
            })?;
        }
        let ring = KeyRing::open(&keys, "2026-01-01T00:00:00Z")?;
        assert_eq!(ring.public_keys().len(), 1);
        Ok(())
    }

    #[test]
    fn a_key_is_made_once_kept_private_and_rotation_keeps_old_keys() -> Result<(), KeyError> {
        let dir = tempfile::tempdir().map_err(|source| KeyError::Io {
            path: PathBuf::new(),
            source,
        })?;
        let keys = dir.path().join("keys");
        let first = KeyRing::open(&keys, "2026-01-01T00:00:00Z")?;
        let again = KeyRing::open(&keys, "2026-02-01T00:00:00Z")?;
        assert_eq!(first.current_id(), again.current_id(), "made once");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let secret = keys.join(format!("site-{}.key", first.current_id()));
            let mode = std::fs::metadata(&secret)
                .map(|meta| meta.permissions().mode() & 0o777)
                .unwrap_or_default();
            assert_eq!(mode, 0o600);
        }
        let record = ProvenanceRecord {
            format: FORMAT.into(),
            story_id: "s".into(),
            source: "wire".into(),
            guid: "g".into(),
            agency_version: None,
            origin: "inbox/a.xml".into(),
            received_at: "2026-01-01T00:00:00Z".into(),
            http_status: None,
            etag: None,
            last_modified: None,
            raw_sha256: "r".into(),
            headline_sha256: "h".into(),
            body_text_sha256: "b".into(),
            text_hash: "t".into(),
            parser: "p".into(),
            normalizer: "n".into(),
            headline_override: None,
            key_id: first.current_id().into(),
        };
        let signed_before = record.sign(first.signing_key());

        let rotated = KeyRing::rotate(&keys, "2026-03-01T00:00:00Z")?;
        assert_ne!(rotated.current_id(), first.current_id());
        assert_eq!(rotated.public_keys().len(), 2);
        assert_eq!(rotated.public_keys()[0].key_id, rotated.current_id());
        assert_eq!(
            signed_before.verify(rotated.public_keys()),
            Ok(()),
            "old records still verify"
        );
        Ok(())
    }
}
