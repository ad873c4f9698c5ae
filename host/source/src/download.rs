//! Plain URLs pinned by a sha256, such as a WasmPlugin's `url` + `sha256`: looked up in the
//! cache first (so a pinned module needs no network at all once cached), otherwise downloaded,
//! verified and cached.

use crate::cache::{ArtifactKind, Cache};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::transport::{Credentials, Http};

/// Bytes fetched from a URL (or the cache), digest verified.
#[derive(Debug, Clone)]
pub struct FetchedBlob {
    /// sha256 of [`FetchedBlob::bytes`].
    pub digest: Digest,
    /// The content.
    pub bytes: Vec<u8>,
    /// The URL.
    pub url: String,
    /// Whether the bytes came from the cache.
    pub cached: bool,
}

/// Fetch `url`, requiring its content to hash to `expected` when given. With an `expected`
/// digest that is in `cache`, nothing is downloaded. Downloads are stored in `cache`.
pub fn fetch_url(
    url: &str,
    expected: Option<&Digest>,
    kind: ArtifactKind,
    cache: Option<&Cache>,
    credentials: Option<&Credentials>,
) -> Result<FetchedBlob> {
    if let (Some(cache), Some(expected)) = (cache, expected)
        && let Some(bytes) = cache.get(kind, expected)?
    {
        return Ok(FetchedBlob {
            digest: expected.clone(),
            bytes,
            url: url.to_owned(),
            cached: true,
        });
    }
    let auth = credentials.map(Credentials::basic_header);
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    let bytes = Http::new()
        .get(url, &headers)
        .and_then(|r| r.success())
        .map_err(|source| Error::Download {
            url: url.to_owned(),
            source,
        })?
        .body;
    let digest = Digest::of(&bytes);
    if let Some(expected) = expected
        && *expected != digest
    {
        return Err(Error::VerifyDigest {
            what: "download".to_owned(),
            location: url.to_owned(),
            expected: expected.clone(),
            actual: digest,
        });
    }
    if let Some(cache) = cache {
        cache.put_verified(kind, &digest, &bytes)?;
    }
    Ok(FetchedBlob {
        digest,
        bytes,
        url: url.to_owned(),
        cached: false,
    })
}
