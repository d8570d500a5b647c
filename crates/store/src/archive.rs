//! The raw archive: every payload received, stored under the SHA-256 of its bytes in
//! `DATA/raw/ab/abcdef…` before anything parses it. Written to a temporary file and renamed into
//! place, so a crash never leaves a half-written payload under a valid name.

use std::io::Write;
use std::path::PathBuf;
use verbatim_item::sha256_hex;

#[derive(Debug, Clone)]
pub struct RawArchive {
    root: PathBuf,
}

impl RawArchive {
    pub fn new(root: impl Into<PathBuf>) -> RawArchive {
        RawArchive { root: root.into() }
    }

    pub fn path_of(&self, sha256: &str) -> PathBuf {
        let prefix = sha256.get(..2).unwrap_or("xx");
        self.root.join(prefix).join(sha256)
    }

    /// Stores `bytes`, returning their SHA-256. Storing the same bytes twice is a no-op.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let sha256 = sha256_hex(bytes);
        let path = self.path_of(&sha256);
        if path.exists() {
            return Ok(sha256);
        }
        let dir = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir)?;
        let mut temporary = tempfile::NamedTempFile::new_in(dir)?;
        temporary.write_all(bytes)?;
        temporary.as_file().sync_all()?;
        temporary.persist(&path).map_err(|error| error.error)?;
        Ok(sha256)
    }

    pub fn get(&self, sha256: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.path_of(sha256))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_by_content_hash() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let archive = RawArchive::new(dir.path());
        let hash = archive.put(b"payload")?;
        assert_eq!(hash, sha256_hex(b"payload"));
        assert_eq!(archive.put(b"payload")?, hash);
        assert_eq!(archive.get(&hash)?, b"payload");
        Ok(())
    }
}
