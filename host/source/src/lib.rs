//! Where charts and Wasm modules come from: HTTP Helm repositories, OCI registries and local
//! archives, resolved with Helm's own semver rules, verified by sha256 and cached by digest.
//!
//! ```text
//!  chart.spec.repository / HelmRepository.url          WasmPlugin.spec.{oci.ref | url + sha256}
//!        │                                                        │
//!        ▼                                                        ▼
//!  fetch_chart ──http(s)──► HelmRepository ─ index.yaml ─┐   OciClient::pull_module[_verified]
//!        │                   (semver::select: Helm's     │   fetch_url
//!        ├──oci://────────► OciClient::pull_chart        │        │
//!        │                   (tags, `_`→`+`, manifest)   │        │
//!        └──file://───────► local .tgz                   │        │
//!                                 │                      │        │
//!                                 ▼                      ▼        ▼
//!                      sha256 verified against index / manifest / pinned digest
//!                                 │
//!                                 ▼
//!                 Cache: charts/sha256/<hex>.tgz, modules/sha256/<hex>.wasm
//!                                 │
//!                                 ▼
//!                 FetchedChart / FetchedModule / FetchedBlob (bytes + digest + where from)
//! ```
//!
//! ```no_run
//! use capstan_source::{Cache, Digest, FetchOptions, OciClient, OciReference, fetch_chart};
//!
//! # fn main() -> Result<(), capstan_source::Error> {
//! let options = FetchOptions {
//!     cache: Cache::default_root().map(Cache::new),
//!     ..FetchOptions::default()
//! };
//! // `chart.spec.repository` + `chart.spec.chart` + `chart.spec.version`:
//! let chart = fetch_chart("https://charts.example.com", "redis", "16.x.x", &options)?;
//! println!("{}@{} {}", chart.name, chart.version, chart.digest);
//!
//! // A WasmPlugin pinned by sha256: no network once cached.
//! let reference = OciReference::parse("oci://ghcr.io/acme/plugins/set-labels:v1")?;
//! let sha256 = Digest::parse("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
//!     .expect("valid digest");
//! let module = OciClient::new().pull_module_verified(&reference, &sha256, options.cache.as_ref())?;
//! # let _ = module;
//! # Ok(())
//! # }
//! ```
//!
//! Everything is blocking (`ureq`); call it from `spawn_blocking` in async code. Plain HTTP is
//! always available; enable the `https` feature for TLS. The `testing` feature adds loopback
//! test servers ([`testing::HelmRepoServer`], [`testing::Registry`], [`testing::TokenGateway`]).

mod allow;
mod cache;
mod chart;
mod digest;
mod download;
mod error;
mod oci;
mod repo;
pub use capstan_semver as semver;
mod source;
#[cfg(feature = "testing")]
pub mod testing;
mod transport;

pub use allow::{AllowedHosts, ParseAllowedHostError, allowed_hosts, restrict_hosts};
pub use cache::{ArtifactKind, Cache, CacheError};
pub use chart::{
    ChartError, ChartMetadata, package as package_chart, package_simple as package_simple_chart,
    read_metadata as read_chart_metadata,
};
pub use digest::{Digest, ParseDigestError};
pub use download::{FetchedBlob, fetch_url};
pub use error::{Error, IndexError, Result};
pub use oci::{
    DOCKER_MANIFEST_MEDIA_TYPE, Descriptor, FetchedModule, HELM_CHART_LAYER_MEDIA_TYPE,
    HELM_CONFIG_MEDIA_TYPE, HELM_LEGACY_CHART_LAYER_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, Manifest,
    OciClient, OciReference, Pushed, WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE,
    WASM_LAYER_MEDIA_TYPES,
};
pub use repo::{ChartVersion, FetchedChart, HelmRepository, IndexFile};
pub use source::{FetchOptions, fetch_chart};
pub use transport::{Credentials, HttpError, TlsError, TlsOptions};
