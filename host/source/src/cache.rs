//! A content-addressed cache of charts and Wasm modules, so a release rebuilt offline uses the
//! exact bytes it used before and nothing is downloaded twice.
//!
//! Layout under the root (`$XDG_CACHE_HOME/capstan`, `~/.cache/capstan`, or `--cache-dir`):
//!
//! ```text
//! charts/sha256/<hex>.tgz
//! modules/sha256/<hex>.wasm
//! ```
//!
//! Writes go to a temporary file in the same directory and are renamed into place, so a reader
//! never sees a partial entry. Reads hash the file again: an entry whose bytes no longer match
//! its name is deleted and reported as a miss, so the caller fetches it afresh.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::digest::Digest;

/// A cache operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Reading an entry failed (other than it being absent).
    #[error("reading cache entry {path} failed")]
    ReadEntry {
        /// The entry's path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing an entry failed.
    #[error("writing cache entry {path} failed")]
    WriteEntry {
        /// The entry's path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes to store do not hash to the digest they were announced with.
    #[error("refusing to cache {path}: content digest is {actual}")]
    VerifyEntry {
        /// The entry's path.
        path: PathBuf,
        /// The digest of the bytes offered.
        actual: Digest,
    },
}

/// What a cache entry holds; decides its directory and file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    /// A chart archive (`charts/sha256/<hex>.tgz`).
    Chart,
    /// A Wasm module or component (`modules/sha256/<hex>.wasm`).
    Module,
}

impl ArtifactKind {
    fn dir(self) -> &'static str {
        match self {
            ArtifactKind::Chart => "charts",
            ArtifactKind::Module => "modules",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            ArtifactKind::Chart => "tgz",
            ArtifactKind::Module => "wasm",
        }
    }
}

/// A cache rooted at a directory (created on first write).
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// A cache rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Cache { root: root.into() }
    }

    /// The default root: `$XDG_CACHE_HOME/capstan`, else `$HOME/.cache/capstan`; `None` when
    /// neither variable is set (to an absolute path).
    pub fn default_root() -> Option<PathBuf> {
        let absolute = |name: &str| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        absolute("XDG_CACHE_HOME")
            .map(|p| p.join("capstan"))
            .or_else(|| absolute("HOME").map(|p| p.join(".cache").join("capstan")))
    }

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the entry for `digest` lives (whether or not it exists).
    pub fn path(&self, kind: ArtifactKind, digest: &Digest) -> PathBuf {
        self.root.join(kind.dir()).join("sha256").join(format!(
            "{}.{}",
            digest.hex(),
            kind.extension()
        ))
    }

    /// The cached bytes for `digest`, verified; `Ok(None)` when absent or when the entry was
    /// corrupt (it is then removed).
    pub fn get(&self, kind: ArtifactKind, digest: &Digest) -> Result<Option<Vec<u8>>, CacheError> {
        let path = self.path(kind, digest);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CacheError::ReadEntry { path, source }),
        };
        if digest.matches(&bytes) {
            return Ok(Some(bytes));
        }
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CacheError::WriteEntry { path, source }),
        }
    }

    /// Store `bytes`, returning their digest and path.
    pub fn put(&self, kind: ArtifactKind, bytes: &[u8]) -> Result<(Digest, PathBuf), CacheError> {
        let digest = Digest::of(bytes);
        let path = self.write(kind, &digest, bytes)?;
        Ok((digest, path))
    }

    /// Store `bytes` under `digest`, refusing bytes that do not hash to it.
    pub fn put_verified(
        &self,
        kind: ArtifactKind,
        digest: &Digest,
        bytes: &[u8],
    ) -> Result<PathBuf, CacheError> {
        let actual = Digest::of(bytes);
        if actual != *digest {
            return Err(CacheError::VerifyEntry {
                path: self.path(kind, digest),
                actual,
            });
        }
        self.write(kind, digest, bytes)
    }

    fn write(
        &self,
        kind: ArtifactKind,
        digest: &Digest,
        bytes: &[u8],
    ) -> Result<PathBuf, CacheError> {
        let path = self.path(kind, digest);
        let fail = |source| CacheError::WriteEntry {
            path: path.clone(),
            source,
        };
        let dir = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(fail)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(dir)
            .map_err(fail)?;
        tmp.write_all(bytes).map_err(fail)?;
        tmp.as_file().sync_all().map_err(fail)?;
        tmp.persist(&path).map_err(|e| fail(e.error))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_and_verifies_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::new(dir.path());
        let (digest, path) = cache.put(ArtifactKind::Chart, b"chart bytes").expect("put");
        assert_eq!(
            path,
            dir.path()
                .join(format!("charts/sha256/{}.tgz", digest.hex()))
        );
        assert_eq!(
            cache.get(ArtifactKind::Chart, &digest).expect("get"),
            Some(b"chart bytes".to_vec())
        );
        assert_eq!(
            cache
                .get(ArtifactKind::Module, &digest)
                .expect("other kind"),
            None
        );
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "no temp files left behind");
    }

    #[test]
    fn corrupt_entries_are_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::new(dir.path());
        let (digest, path) = cache.put(ArtifactKind::Module, b"\0asm").expect("put");
        assert!(path.ends_with(format!("modules/sha256/{}.wasm", digest.hex())));
        std::fs::write(&path, b"tampered").expect("tamper");
        assert_eq!(cache.get(ArtifactKind::Module, &digest).expect("get"), None);
        assert!(!path.exists(), "corrupt entry removed");
    }

    #[test]
    fn put_verified_refuses_wrong_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::new(dir.path());
        let digest = Digest::of(b"expected");
        let err = cache
            .put_verified(ArtifactKind::Chart, &digest, b"other")
            .expect_err("mismatch");
        assert!(matches!(err, CacheError::VerifyEntry { .. }));
        assert!(!cache.path(ArtifactKind::Chart, &digest).exists());
        cache
            .put_verified(ArtifactKind::Chart, &digest, b"expected")
            .expect("matching bytes");
        assert!(cache.path(ArtifactKind::Chart, &digest).exists());
    }
}
