//! Where charts and Wasm modules come from.

mod cache;
mod chart;
mod digest;
mod download;
mod error;
mod oci;
mod repo;
pub mod semver;
#[cfg(feature = "testing")]
pub mod testing;
mod transport;

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
pub use transport::{Credentials, HttpError};
