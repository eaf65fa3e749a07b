//! The memory backend's signing-key document: kept in memory and, for a persisted store, in
//! one 0600 file under `data_dir` (`signing-keys`: the version as 8 big-endian bytes, then
//! the sealed document), replaced atomically on every write. Not in the journal: it changes
//! on a rotation, not with the traffic, and is read back whole at start.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::store::{StoreError, StoreResult, StoredKeys};

const FILE: &str = "signing-keys";

/// The document and where it is persisted.
#[derive(Debug, Default)]
pub struct KeyFile {
    current: Mutex<Option<StoredKeys>>,
    path: Option<PathBuf>,
}

impl KeyFile {
    /// The document persisted in `dir`, if any.
    pub fn open(dir: &Path) -> Result<KeyFile, String> {
        let path = dir.join(FILE);
        let current = match std::fs::read(&path) {
            Ok(bytes) => {
                let (version, document) = bytes
                    .split_first_chunk::<8>()
                    .ok_or_else(|| format!("{}: truncated", path.display()))?;
                Some(StoredKeys {
                    version: u64::from_be_bytes(*version),
                    document: document.to_vec(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
        };
        Ok(KeyFile {
            current: Mutex::new(current),
            path: Some(path),
        })
    }

    fn lock(&self) -> StoreResult<std::sync::MutexGuard<'_, Option<StoredKeys>>> {
        self.current
            .lock()
            .map_err(|_| StoreError("the signing keys' lock is poisoned".to_owned()))
    }

    pub fn get(&self) -> StoreResult<Option<StoredKeys>> {
        Ok(self.lock()?.clone())
    }

    /// Compare-and-set on the version. The file is written (and synced) under the lock:
    /// rare (first start, a rotation, a retired key dropped) and small.
    pub fn swap(&self, expected: u64, document: Vec<u8>) -> StoreResult<bool> {
        let mut current = self.lock()?;
        let version = current.as_ref().map_or(0, |c| c.version);
        if version != expected {
            return Ok(false);
        }
        let next = StoredKeys {
            version: version + 1,
            document,
        };
        if let Some(path) = &self.path {
            let mut bytes = next.version.to_be_bytes().to_vec();
            bytes.extend_from_slice(&next.document);
            crate::private_file::write_private(path, &bytes).map_err(StoreError)?;
        }
        *current = Some(next);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persisted_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::open(dir.path()).unwrap();
        assert_eq!(file.get().unwrap(), None);
        assert!(file.swap(0, b"sealed".to_vec()).unwrap());
        assert!(file.swap(1, b"sealed again".to_vec()).unwrap());
        let mode = std::fs::metadata(dir.path().join(FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = KeyFile::open(dir.path()).unwrap().get().unwrap().unwrap();
        assert_eq!(
            (again.version, &again.document[..]),
            (2, &b"sealed again"[..])
        );
        std::fs::write(dir.path().join(FILE), b"short").unwrap();
        assert!(KeyFile::open(dir.path()).is_err());
    }
}
