//! The on-disk cache of precompiled components.
//!
//! Compiling a transform with Cranelift takes far longer than running it, so compiled artifacts are
//! kept on disk, keyed by the module's sha256 and the engine's compatibility hash (wasmtime version
//! and compiler settings). Loading an artifact means mapping machine code into the process, so a
//! file is deserialized only if Capstan wrote it: every artifact carries an HMAC-SHA256 under a
//! 256-bit key that Capstan creates in the cache directory (mode 0600, directory 0700). A file
//! planted or altered by anyone without that key is ignored and recompiled.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::{Error, Result};

const MAGIC: &[u8; 16] = b"capstan-cwasm-1\n";
const TAG_LEN: usize = 32;

pub(crate) struct DiskCache {
    dir: PathBuf,
    key: [u8; 32],
    compat: String,
}

impl DiskCache {
    pub(crate) fn open(dir: &Path, engine: &Engine) -> Result<Self> {
        let err = |detail: String| Error::Cache {
            path: dir.to_owned(),
            detail,
        };
        fs::create_dir_all(dir).map_err(|e| err(format!("cannot create: {e}")))?;
        restrict(dir, 0o700).map_err(|e| err(format!("cannot restrict permissions: {e}")))?;
        let key = load_or_create_key(&dir.join("key"))
            .map_err(|e| err(format!("cannot set up the cache key: {e}")))?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(DiskCache {
            dir: dir.to_owned(),
            key,
            compat: format!("{:016x}", hasher.finish()),
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, digest: &[u8; 32]) -> PathBuf {
        self.dir
            .join(format!("{}-{}.cwasm", hex::encode(digest), self.compat))
    }

    fn tag(&self, digest: &[u8; 32], artifact: &[u8]) -> [u8; TAG_LEN] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(digest);
        mac.update(self.compat.as_bytes());
        mac.update(artifact);
        mac.finalize().into_bytes().into()
    }

    /// Writes an artifact atomically (temp file + rename).
    pub(crate) fn store(&self, digest: &[u8; 32], artifact: &[u8]) -> Result<()> {
        let path = self.path(digest);
        let tmp = temp_path(&path);
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(MAGIC)?;
            f.write_all(&self.tag(digest, artifact))?;
            f.write_all(artifact)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::Cache {
                path: path.clone(),
                detail: format!("cannot write: {e}"),
            }
        })
    }

    /// Loads an artifact if present and authentic; anything else is a miss.
    pub(crate) fn load(&self, engine: &Engine, digest: &[u8; 32]) -> Option<Component> {
        let bytes = fs::read(self.path(digest)).ok()?;
        let rest = bytes.strip_prefix(MAGIC.as_slice())?;
        if rest.len() < TAG_LEN {
            return None;
        }
        let (tag, artifact) = rest.split_at(TAG_LEN);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).ok()?;
        mac.update(digest);
        mac.update(self.compat.as_bytes());
        mac.update(artifact);
        mac.verify_slice(tag).ok()?;
        deserialize(engine, artifact)
    }
}

/// A temporary file name next to `path`, unique to this process and call: threads of one
/// process compiling the same module at once must not rename each other's file away.
fn temp_path(path: &Path) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    path.with_extension(format!("tmp{}-{n}", std::process::id()))
}

#[expect(
    unsafe_code,
    reason = "wasmtime's deserialize maps precompiled machine code; see SAFETY below"
)]
fn deserialize(engine: &Engine, artifact: &[u8]) -> Option<Component> {
    // SAFETY: `Component::deserialize` requires bytes produced by `Engine::precompile_component`
    // of a compatible engine and not modified since. `artifact` carries a valid HMAC-SHA256 under
    // the cache's secret key (readable only by this user, created by Capstan), over the module
    // digest, the engine compatibility hash and the artifact itself: only `DiskCache::store`, fed by
    // `precompile_component` on an engine with the same compatibility hash, produces such tags.
    // wasmtime additionally checks the artifact header against this engine's settings.
    unsafe { Component::deserialize(engine, artifact).ok() }
}

fn load_or_create_key(path: &Path) -> std::io::Result<[u8; 32]> {
    if let Some(key) = fs::read(path)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
    {
        check_private(path)?;
        return Ok(key);
    }
    let mut key = [0u8; 32];
    fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    let tmp = temp_path(path);
    {
        let mut f = fs::File::create(&tmp)?;
        restrict(&tmp, 0o600)?;
        f.write_all(&key)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    // Another process may have won the race: use whatever key is now on disk.
    let bytes = fs::read(path)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "cache key has the wrong length",
        )
    })
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn check_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = fs::metadata(path)?;
    // A key others can read or write cannot vouch for anything.
    let uid = fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(meta.uid());
    if meta.permissions().mode() & 0o077 != 0 || meta.uid() != uid {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "cache key is accessible to other users or owned by someone else",
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> std::io::Result<()> {
    Ok(())
}
