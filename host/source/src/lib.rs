//! Where charts and Wasm modules come from.

mod cache;
mod chart;
mod digest;
mod error;
mod repo;
pub mod semver;
mod transport;

pub use cache::{ArtifactKind, Cache, CacheError};
pub use chart::{
    ChartError, ChartMetadata, package as package_chart, package_simple as package_simple_chart,
    read_metadata as read_chart_metadata,
};
pub use digest::{Digest, ParseDigestError};
pub use error::{Error, IndexError, Result};
pub use repo::{ChartVersion, FetchedChart, HelmRepository, IndexFile};
pub use transport::{Credentials, HttpError};
