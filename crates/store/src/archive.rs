//! The raw archive: every payload received, stored under the SHA-256 of its bytes in
//! `DATA/raw/ab/abcdef…` before anything parses it, or in the store's database when several
//! nodes share one store. Files are written to a temporary file and renamed into place, so a
//! crash never leaves a half-written payload under a valid name.

use crate::Store;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use verbatim_item::sha256_hex;

/// Where payload bytes are kept.
#[derive(Clone)]
pub struct RawArchive {
    place: Place,
}

#[derive(Clone)]
enum Place {
    /// `DATA/raw/ab/abcdef…`: the embedded default, one machine.
    Files(PathBuf),
    /// The store's own table: every node of a multi-node deployment reads it.
    Database(Arc<dyn Store>),
}

impl std::fmt::Debug for RawArchive {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.describe())
    }
}

impl RawArchive {
    /// Payloads as files under `root`.
    pub fn new(root: impl Into<PathBuf>) -> RawArchive {
        RawArchive {
            place: Place::Files(root.into()),
        }
    }

    /// Payloads in the store's database.
    pub fn in_database(store: Arc<dyn Store>) -> RawArchive {
        RawArchive {
            place: Place::Database(store),
        }
    }

    /// Where the payloads are, for messages.
    pub fn describe(&self) -> String {
        match &self.place {
            Place::Files(root) => root.display().to_string(),
            Place::Database(_) => "the database".to_string(),
        }
    }

    /// Stores `bytes`, returning their SHA-256 and handing the bytes back. Storing the same
    /// bytes twice is a no-op.
    pub async fn put(&self, bytes: Vec<u8>) -> (std::io::Result<String>, Vec<u8>) {
        match &self.place {
            Place::Files(root) => {
                let root = root.clone();
                match tokio::task::spawn_blocking(move || (put_file(&root, &bytes), bytes)).await {
                    Ok(done) => done,
                    Err(error) => (Err(std::io::Error::other(error)), Vec::new()),
                }
            }
            Place::Database(store) => {
                let sha256 = sha256_hex(&bytes);
                let stored = store
                    .put_raw_bytes(&sha256, &bytes)
                    .await
                    .map(|()| sha256)
                    .map_err(std::io::Error::other);
                (stored, bytes)
            }
        }
    }

    pub async fn get(&self, sha256: &str) -> std::io::Result<Vec<u8>> {
        match &self.place {
            Place::Files(root) => {
                let path = path_of(root, sha256);
                tokio::fs::read(path).await
            }
            Place::Database(store) => store
                .raw_bytes(sha256)
                .await
                .map_err(std::io::Error::other)?
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("no payload {sha256} in the database"),
                    )
                }),
        }
    }
}

/// The file of a payload in a file archive.
pub fn path_of(root: &std::path::Path, sha256: &str) -> PathBuf {
    let prefix = sha256.get(..2).unwrap_or("xx");
    root.join(prefix).join(sha256)
}

/// Writes a payload file: to a temporary file, synced, then renamed into place.
fn put_file(root: &std::path::Path, bytes: &[u8]) -> std::io::Result<String> {
    let sha256 = sha256_hex(bytes);
    let path = path_of(root, &sha256);
    if path.exists() {
        return Ok(sha256);
    }
    let dir = path.parent().unwrap_or(root);
    std::fs::create_dir_all(dir)?;
    let mut temporary = tempfile::NamedTempFile::new_in(dir)?;
    temporary.write_all(bytes)?;
    temporary.as_file().sync_all()?;
    temporary.persist(&path).map_err(|error| error.error)?;
    Ok(sha256)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_by_content_hash() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let archive = RawArchive::new(dir.path());
        let hash = archive.put(b"payload".to_vec()).await.0?;
        assert_eq!(hash, sha256_hex(b"payload"));
        assert_eq!(archive.put(b"payload".to_vec()).await.0?, hash);
        assert_eq!(archive.get(&hash).await?, b"payload");
        Ok(())
    }

    #[tokio::test]
    async fn keeps_payloads_in_the_database() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = crate::SqliteStore::open(&dir.path().join("store.db")).await?;
        let archive = RawArchive::in_database(Arc::new(store));
        let (hash, bytes) = archive.put(b"payload".to_vec()).await;
        assert_eq!(bytes, b"payload");
        let hash = hash?;
        assert_eq!(archive.put(b"payload".to_vec()).await.0?, hash);
        assert_eq!(archive.get(&hash).await?, b"payload");
        assert!(archive.get(&sha256_hex(b"other")).await.is_err());
        Ok(())
    }
}
