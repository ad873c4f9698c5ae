//! The engine's second seam: where chart and module bytes come from.
//!
//! The engine decides *what* to fetch (repository, chart, version range, module reference,
//! expected digest, credentials from the referenced Secrets); a [`Fetcher`] decides *how*.
//! [`SourceFetcher`] fetches over the network with `capstan-source` (HTTP(S) Helm repositories,
//! OCI registries, module URLs) and is what the controller uses; `capstan build` wraps it to add
//! local chart paths and `--plugin-dir`. Tests use in-memory fakes.

use capstan_helm::ChartFile;
use capstan_source::{ArtifactKind, Cache, Credentials, Digest, FetchOptions, TlsOptions};

/// How to authenticate to a chart repository, registry or module server.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    /// Basic-auth credentials (also used to obtain registry bearer tokens), from `secretRef`.
    pub credentials: Option<Credentials>,
    /// TLS settings, from `certSecretRef` (or a `secretRef` holding `ca.crt`/`tls.crt`/`tls.key`).
    pub tls: Option<TlsOptions>,
    /// Send credentials to archive URLs on other hosts (Flux `passCredentials`).
    pub pass_credentials: bool,
    /// OCI over plain HTTP (`Some(true)`, Flux `insecure`); default: plain HTTP on loopback only.
    pub plain_http: Option<bool>,
}

/// Where a chart is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartLocation {
    /// `http(s)://` Helm repository, `oci://` registry, or an `oci://…:tag`/`@sha256:` reference
    /// (then `chart` and `version` are empty).
    Repository(String),
    /// A path on the machine running the build (`spec.chart.spec.chart` as a local path, or a
    /// `file://` repository). Only `capstan build` serves these; the controller refuses them.
    Local(String),
}

impl std::fmt::Display for ChartLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChartLocation::Repository(url) | ChartLocation::Local(url) => f.write_str(url),
        }
    }
}

/// A chart to fetch.
#[derive(Debug, Clone)]
pub struct ChartRequest {
    /// Where.
    pub location: ChartLocation,
    /// Chart name (empty for a reference that names the artifact itself).
    pub chart: String,
    /// Helm semver range (empty or `*`: latest stable).
    pub version: String,
    /// Credentials and TLS.
    pub auth: Auth,
}

/// A chart's content: a packaged archive, or the files of an unpacked directory (relative
/// paths, `/`-separated; `.helmignore` not yet applied).
#[derive(Debug, Clone)]
pub enum ChartContent {
    /// A `.tgz`.
    Archive(Vec<u8>),
    /// A directory's files.
    Files(Vec<ChartFile>),
}

/// A fetched chart.
#[derive(Debug, Clone)]
pub struct FetchedChart {
    /// Chart name (from the index, the OCI reference or `Chart.yaml`).
    pub name: String,
    /// Version picked.
    pub version: String,
    /// `sha256:…` of the archive (or of the directory's files, see [`files_digest`]).
    pub digest: String,
    /// Where it came from, for messages.
    pub location: String,
    /// The content.
    pub content: ChartContent,
}

/// Where a module comes from (ConfigMap modules are read through the lookup, not fetched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleLocation {
    /// An OCI artifact reference.
    Oci(String),
    /// An `https://` (or loopback `http://`) URL.
    Url(String),
}

impl std::fmt::Display for ModuleLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModuleLocation::Oci(r) | ModuleLocation::Url(r) => f.write_str(r),
        }
    }
}

/// A module to fetch.
#[derive(Debug, Clone)]
pub struct ModuleRequest {
    /// Where.
    pub location: ModuleLocation,
    /// The sha256 it must have, when declared. A fetcher must verify it and report a mismatch
    /// as [`capstan_source::Error::VerifyDigest`].
    pub expected: Option<Digest>,
    /// Credentials and TLS.
    pub auth: Auth,
}

/// A fetched module.
#[derive(Debug, Clone)]
pub struct FetchedModule {
    /// The component's bytes.
    pub bytes: Vec<u8>,
    /// Where they came from (with the resolved digest for OCI), for messages.
    pub location: String,
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The source layer failed (network, HTTP status, registry, digest, archive).
    #[error(transparent)]
    Source(#[from] capstan_source::Error),
    /// A local file or directory could not be read.
    #[error("cannot read {path}")]
    ReadLocal {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A local chart directory could not be read.
    #[error("cannot read the chart directory {path}")]
    ReadLocalChart {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        source: capstan_helm::LoadError,
    },
    /// This fetcher does not serve this kind of location (a local path in the controller, a
    /// host outside the operator's allow-list).
    #[error("{reason}")]
    Refused {
        /// Why, naming the location.
        reason: String,
    },
}

impl FetchError {
    /// Whether trying again later can succeed: network and server failures can, a digest
    /// mismatch, a malformed archive or a refused location cannot.
    pub fn is_transient(&self) -> bool {
        use capstan_source::Error as S;
        match self {
            FetchError::Source(e) if refused_by_policy(e) => false,
            FetchError::Source(e) => !matches!(
                e,
                S::VerifyDigest { .. }
                    | S::ParseDigest { .. }
                    | S::ParseRange { .. }
                    | S::ParseReference { .. }
                    | S::ReadChart { .. }
                    | S::ConfigureTls { .. }
            ),
            FetchError::ReadLocal { .. } | FetchError::ReadLocalChart { .. } => true,
            FetchError::Refused { .. } => false,
        }
    }
}

/// Whether the operator's host allow-list (or a redirect loop) stopped the fetch: trying again
/// cannot help until the spec or the policy changes.
fn refused_by_policy(error: &capstan_source::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(
            capstan_source::HttpError::Refused { .. }
            | capstan_source::HttpError::TooManyRedirects { .. },
        ) = e.downcast_ref::<capstan_source::HttpError>()
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Fetches charts and modules.
pub trait Fetcher {
    /// Fetches a chart.
    fn fetch_chart(&self, request: &ChartRequest) -> Result<FetchedChart, FetchError>;
    /// Fetches a module, verifying `request.expected`.
    fn fetch_module(&self, request: &ModuleRequest) -> Result<FetchedModule, FetchError>;
    /// A module that stands in for plugin `name` whatever its object says (`capstan build
    /// --plugin-dir`). `None`: no override (the default, and always in the controller).
    fn local_module(&self, name: &str) -> Option<Result<FetchedModule, FetchError>> {
        let _ = name;
        None
    }
}

/// Fetches over the network with `capstan-source`; charts and modules cached by digest.
/// Local locations are refused.
#[derive(Debug, Clone, Default)]
pub struct SourceFetcher {
    cache: Option<Cache>,
}

impl SourceFetcher {
    /// A fetcher caching in `cache` (none: always fetch).
    pub fn new(cache: Option<Cache>) -> Self {
        SourceFetcher { cache }
    }

    /// The cache, if any.
    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }

    /// Fetches a packaged chart from a repository URL, registry or `file://` archive/index.
    pub fn fetch_repository_chart(
        &self,
        repository: &str,
        request: &ChartRequest,
    ) -> Result<FetchedChart, FetchError> {
        let options = FetchOptions {
            cache: self.cache.clone(),
            credentials: request.auth.credentials.clone(),
            pass_credentials: request.auth.pass_credentials,
            tls: request.auth.tls.clone(),
            plain_http: request.auth.plain_http,
        };
        let fetched =
            capstan_source::fetch_chart(repository, &request.chart, &request.version, &options)?;
        Ok(FetchedChart {
            name: fetched.name,
            version: fetched.version,
            digest: fetched.digest.to_string(),
            location: fetched.location,
            content: ChartContent::Archive(fetched.bytes),
        })
    }
}

impl Fetcher for SourceFetcher {
    fn fetch_chart(&self, request: &ChartRequest) -> Result<FetchedChart, FetchError> {
        match &request.location {
            ChartLocation::Repository(url) if !url.starts_with("file://") => {
                self.fetch_repository_chart(url, request)
            }
            other => Err(FetchError::Refused {
                reason: format!(
                    "{other} is a local path; only http(s):// repositories and oci:// registries can be fetched here"
                ),
            }),
        }
    }

    fn fetch_module(&self, request: &ModuleRequest) -> Result<FetchedModule, FetchError> {
        let cache = self.cache.as_ref();
        match &request.location {
            ModuleLocation::Oci(reference) => {
                let parsed = capstan_source::OciReference::parse(reference)?;
                let mut client = capstan_source::OciClient::new();
                if let Some(c) = &request.auth.credentials {
                    client = client.with_credentials(c.clone());
                }
                if let Some(tls) = &request.auth.tls {
                    client = client.with_tls(tls)?;
                }
                if let Some(plain) = request.auth.plain_http {
                    client = client.plain_http(plain);
                }
                let fetched = match &request.expected {
                    Some(d) => client.pull_module_verified(&parsed, d, cache)?,
                    None => client.pull_module(&parsed, cache)?,
                };
                Ok(FetchedModule {
                    bytes: fetched.bytes,
                    location: fetched.reference.to_string(),
                })
            }
            ModuleLocation::Url(url) => {
                let fetched = capstan_source::fetch_url(
                    url,
                    request.expected.as_ref(),
                    ArtifactKind::Module,
                    cache,
                    request.auth.credentials.as_ref(),
                )?;
                Ok(FetchedModule {
                    bytes: fetched.bytes,
                    location: url.clone(),
                })
            }
        }
    }
}

/// sha256 over a chart directory's files (relative path, NUL, content length, content), sorted
/// by path, so an unpacked chart has a stable identity.
pub fn files_digest(files: &[ChartFile]) -> String {
    use sha2::Digest as _;
    let mut sorted: Vec<&ChartFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hasher = sha2::Sha256::new();
    for f in sorted {
        hasher.update(f.name.as_bytes());
        hasher.update([0]);
        hasher.update((f.data.len() as u64).to_le_bytes());
        hasher.update(&f.data);
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}
