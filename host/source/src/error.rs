//! The error of every fetch, resolve and push in this crate. Each variant is named after the
//! operation that failed and names the repository or registry reference, chart and version
//! involved, so a message reaching the user says exactly what was being fetched from where.

use crate::cache::CacheError;
use crate::chart::ChartError;
use crate::digest::{Digest, ParseDigestError};
use crate::semver;
use crate::transport::{HttpError, TlsError};

/// A source operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A version range is not valid Helm semver syntax.
    #[error("invalid version range {range:?} for chart {chart:?}")]
    ParseRange {
        /// The chart being resolved.
        chart: String,
        /// The range as given.
        range: String,
        /// What is wrong with it.
        #[source]
        source: semver::Error,
    },
    /// The repository's `index.yaml` could not be downloaded.
    #[error("fetching Helm repository index {url} failed")]
    FetchIndex {
        /// The index URL.
        url: String,
        /// The HTTP failure.
        #[source]
        source: HttpError,
    },
    /// The repository's `index.yaml` is not a valid index.
    #[error("Helm repository index {url} is invalid")]
    ParseIndex {
        /// The index URL.
        url: String,
        /// What is wrong with it.
        #[source]
        source: IndexError,
    },
    /// The repository has no chart of that name.
    #[error("chart {chart:?} not found in {repository}{}", list("charts", .available))]
    ChartNotFound {
        /// Repository URL or OCI reference.
        repository: String,
        /// The chart asked for.
        chart: String,
        /// Charts the repository does have (possibly truncated).
        available: Vec<String>,
    },
    /// No version of the chart satisfies the range.
    #[error("chart {chart:?} version {range:?} not found in {repository}{}", list("available", .available))]
    VersionNotFound {
        /// Repository URL or OCI reference.
        repository: String,
        /// The chart asked for.
        chart: String,
        /// The range asked for (empty = latest stable).
        range: String,
        /// Versions that exist, highest first.
        available: Vec<String>,
    },
    /// The index entry has no `urls`.
    #[error("chart {chart:?} version {version:?} in {repository} has no download URL")]
    FindChartUrl {
        /// Repository URL.
        repository: String,
        /// Chart name.
        chart: String,
        /// Chart version.
        version: String,
    },
    /// Downloading a chart archive failed.
    #[error("downloading chart {chart:?} version {version:?} from {url} failed")]
    DownloadChart {
        /// Chart name.
        chart: String,
        /// Chart version.
        version: String,
        /// The archive URL.
        url: String,
        /// The HTTP failure.
        #[source]
        source: HttpError,
    },
    /// Downloading a URL failed.
    #[error("downloading {url} failed")]
    Download {
        /// The URL.
        url: String,
        /// The HTTP failure.
        #[source]
        source: HttpError,
    },
    /// Downloaded (or cached) bytes do not hash to the digest they were published with.
    #[error("digest mismatch for {what} from {location}: expected {expected}, got {actual}")]
    VerifyDigest {
        /// What was checked (`chart "redis" version "1.0.0"`, `manifest`, `blob`…).
        what: String,
        /// Where the bytes came from.
        location: String,
        /// The published digest.
        expected: Digest,
        /// The digest of the bytes received.
        actual: Digest,
    },
    /// A published digest is malformed.
    #[error("invalid digest for {what} in {location}")]
    ParseDigest {
        /// What the digest is for.
        what: String,
        /// Where it was found.
        location: String,
        /// The parse failure.
        #[source]
        source: ParseDigestError,
    },
    /// A chart archive is not readable.
    #[error("chart archive {location} is invalid")]
    ReadChart {
        /// Where the archive came from.
        location: String,
        /// What is wrong with it.
        #[source]
        source: ChartError,
    },
    /// A file could not be read.
    #[error("reading {path} failed")]
    ReadFile {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An `oci://` reference is malformed.
    #[error("invalid OCI reference {reference:?}: {reason}")]
    ParseReference {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Listing a registry repository's tags failed.
    #[error("listing tags of {repository} failed")]
    ListTags {
        /// `oci://host/repo`.
        repository: String,
        /// The HTTP failure.
        #[source]
        source: HttpError,
    },
    /// Fetching a manifest failed.
    #[error("fetching manifest {reference} failed")]
    FetchManifest {
        /// `oci://host/repo:tag` or `@digest`.
        reference: String,
        /// The HTTP failure.
        #[source]
        source: HttpError,
    },
    /// A manifest is not an OCI image manifest.
    #[error("manifest {reference} is not a valid OCI image manifest")]
    ParseManifest {
        /// The manifest reference.
        reference: String,
        /// The decoding failure.
        #[source]
        source: serde_json::Error,
    },
    /// The manifest has no layer of an accepted media type.
    #[error("manifest {reference} has no {wanted} layer (found: {found})")]
    FindLayer {
        /// The manifest reference.
        reference: String,
        /// What was looked for (`Helm chart`, `Wasm module`).
        wanted: &'static str,
        /// The layer media types present.
        found: String,
    },
    /// Fetching a blob failed.
    #[error("fetching blob {digest} from {repository} failed")]
    FetchBlob {
        /// `oci://host/repo`.
        repository: String,
        /// The blob.
        digest: Digest,
        /// The HTTP failure.
        #[source]
        source: HttpError,
    },
    /// Uploading a blob failed.
    #[error("uploading blob {digest} to {repository} failed")]
    PushBlob {
        /// `oci://host/repo`.
        repository: String,
        /// The blob.
        digest: Digest,
        /// The HTTP failure.
        #[source]
        source: HttpError,
    },
    /// Uploading a manifest failed.
    #[error("pushing manifest {reference} failed")]
    PushManifest {
        /// `oci://host/repo:tag`.
        reference: String,
        /// The HTTP failure.
        #[source]
        source: HttpError,
    },
    /// Getting a bearer token from the registry's auth realm failed.
    #[error("getting a registry token from {realm} for {scope:?} failed")]
    Authenticate {
        /// The token endpoint.
        realm: String,
        /// The scope asked for.
        scope: String,
        /// The HTTP failure.
        #[source]
        source: HttpError,
    },
    /// TLS settings could not be applied.
    #[error("configuring TLS for {target} failed")]
    ConfigureTls {
        /// Repository URL or registry.
        target: String,
        /// What is wrong.
        #[source]
        source: TlsError,
    },
    /// Reading or writing the cache failed.
    #[error("using the artifact cache failed")]
    UseCache(#[from] CacheError),
}

/// Why an `index.yaml` is invalid.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// Not YAML.
    #[error("parsing YAML failed")]
    ParseYaml(#[source] capstan_yaml::Error),
    /// YAML, but not shaped like an index.
    #[error("{0}")]
    Shape(&'static str),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `"; available: a, b, c"` with at most 15 items, or `"; no <label>"` hints.
fn list(label: &str, items: &[String]) -> String {
    const SHOWN: usize = 15;
    if items.is_empty() {
        return match label {
            "available" => "; no versions available".to_owned(),
            _ => format!("; it has no {label}"),
        };
    }
    let mut text = format!(
        "; {label}: {}",
        items
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    if items.len() > SHOWN {
        text.push_str(&format!(", … ({} more)", items.len() - SHOWN));
    }
    text
}
