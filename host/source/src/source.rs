//! One entry point for "a chart from a repository URL", whatever the URL's scheme, so the CLI and
//! the reconciler map `chart.spec.repository` (or a Flux `HelmRepository`'s `url`) to bytes in
//! one call.

use std::path::{Path, PathBuf};

use crate::cache::{ArtifactKind, Cache};
use crate::chart;
use crate::digest::Digest;
use crate::download::fetch_url;
use crate::error::{Error, Result};
use crate::oci::{OciClient, OciReference};
use crate::repo::{FetchedChart, HelmRepository, IndexFile};
use crate::transport::{Credentials, TlsOptions};

/// How to reach a chart source.
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// Cache charts by digest here.
    pub cache: Option<Cache>,
    /// Basic-auth credentials (also used to obtain registry bearer tokens).
    pub credentials: Option<Credentials>,
    /// Send credentials to archive URLs on other hosts (Flux `passCredentials`).
    pub pass_credentials: bool,
    /// TLS settings (custom CA, client certificate) for `https://` and OCI sources.
    pub tls: Option<TlsOptions>,
    /// OCI over plain HTTP (`Some(true)`, Flux `insecure`) or HTTPS (`Some(false)`); by default
    /// plain HTTP for loopback registries only.
    pub plain_http: Option<bool>,
}

/// Fetch `chart` at `range` (Helm semver; empty or `*` = latest stable) from `repository`:
///
/// - `http://…` / `https://…`: a Helm repository with an `index.yaml`;
/// - `oci://host/path`: a registry; the chart is the repository `path/<chart>`;
/// - `file://…` or a path to a directory holding an `index.yaml`: a Helm repository on disk
///   (relative archive URLs are files under it; the index's digests are checked);
/// - `file://…` or a path to a `.tgz`: a packaged chart on disk (`chart` and `range` are then
///   checked against its `Chart.yaml`; an empty `chart` accepts any name).
///
/// Unpacked chart directories are not handled here: load them with the Helm renderer directly.
pub fn fetch_chart(
    repository: &str,
    chart: &str,
    range: &str,
    options: &FetchOptions,
) -> Result<FetchedChart> {
    let cache = options.cache.as_ref();
    if repository.starts_with("oci://") {
        let mut client = OciClient::new();
        if let Some(credentials) = &options.credentials {
            client = client.with_credentials(credentials.clone());
        }
        if let Some(tls) = &options.tls {
            client = client.with_tls(tls)?;
        }
        if let Some(plain) = options.plain_http {
            client = client.plain_http(plain);
        }
        let base = OciReference::parse(repository)?;
        let reference = if chart.is_empty() {
            base
        } else {
            base.join(chart)
        };
        return client.pull_chart(&reference, range, cache);
    }
    if repository.starts_with("http://") || repository.starts_with("https://") {
        let mut repo =
            HelmRepository::new(repository).pass_credentials_to_all_hosts(options.pass_credentials);
        if let Some(credentials) = &options.credentials {
            repo = repo.with_credentials(credentials.clone());
        }
        if let Some(tls) = &options.tls {
            repo = repo.with_tls(tls)?;
        }
        return repo.fetch_chart(chart, range, cache);
    }
    let path = Path::new(repository.strip_prefix("file://").unwrap_or(repository));
    if path.join("index.yaml").is_file() {
        return local_repository(path, chart, range, cache);
    }
    local_archive(path, chart, range, cache)
}

/// A Helm repository laid out on disk: resolve in its `index.yaml`, read the archive it names,
/// check the published digest.
fn local_repository(
    dir: &Path,
    chart: &str,
    range: &str,
    cache: Option<&Cache>,
) -> Result<FetchedChart> {
    let location = format!("file://{}", dir.display());
    let index_path = dir.join("index.yaml");
    let text = std::fs::read_to_string(&index_path).map_err(|source| Error::ReadFile {
        path: index_path.display().to_string(),
        source,
    })?;
    let index = IndexFile::parse(&text).map_err(|source| Error::ParseIndex {
        url: index_path.display().to_string(),
        source,
    })?;
    let entry = index.lookup(&location, chart, range)?;
    let url = entry.urls.first().ok_or_else(|| Error::FindChartUrl {
        repository: location.clone(),
        chart: entry.name.clone(),
        version: entry.version.clone(),
    })?;
    let expected = match entry.digest.as_deref().filter(|d| !d.is_empty()) {
        None => None,
        Some(text) => Some(Digest::parse(text).map_err(|source| Error::ParseDigest {
            what: format!("chart {:?} version {:?}", entry.name, entry.version),
            location: index_path.display().to_string(),
            source,
        })?),
    };
    let what = format!("chart {:?} version {:?}", entry.name, entry.version);
    if url.contains("://") && !url.starts_with("file://") {
        let fetched = fetch_url(url, expected.as_ref(), ArtifactKind::Chart, cache, None)?;
        return Ok(FetchedChart {
            name: entry.name.clone(),
            version: entry.version.clone(),
            digest: fetched.digest,
            bytes: fetched.bytes,
            location: fetched.url,
            cached: fetched.cached,
        });
    }
    let archive = match url.strip_prefix("file://") {
        Some(absolute) => PathBuf::from(absolute),
        None => dir.join(url),
    };
    let bytes = std::fs::read(&archive).map_err(|source| Error::ReadFile {
        path: archive.display().to_string(),
        source,
    })?;
    let digest = Digest::of(&bytes);
    if let Some(expected) = expected
        && expected != digest
    {
        return Err(Error::VerifyDigest {
            what,
            location: archive.display().to_string(),
            expected,
            actual: digest,
        });
    }
    if let Some(cache) = cache {
        cache.put_verified(ArtifactKind::Chart, &digest, &bytes)?;
    }
    Ok(FetchedChart {
        name: entry.name.clone(),
        version: entry.version.clone(),
        digest,
        bytes,
        location: archive.display().to_string(),
        cached: false,
    })
}

fn local_archive(
    path: &Path,
    chart: &str,
    range: &str,
    cache: Option<&Cache>,
) -> Result<FetchedChart> {
    let location = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| Error::ReadFile {
        path: location.clone(),
        source,
    })?;
    let meta = chart::read_metadata(&bytes).map_err(|source| Error::ReadChart {
        location: location.clone(),
        source,
    })?;
    if !chart.is_empty() && meta.name != chart {
        return Err(Error::ChartNotFound {
            repository: location,
            chart: chart.to_owned(),
            available: vec![meta.name],
        });
    }
    let matches = crate::semver::select(range, [meta.version.as_str()]).map_err(|source| {
        Error::ParseRange {
            chart: meta.name.clone(),
            range: range.to_owned(),
            source,
        }
    })?;
    if matches.is_none() {
        return Err(Error::VersionNotFound {
            repository: location,
            chart: meta.name,
            range: range.to_owned(),
            available: vec![meta.version],
        });
    }
    let digest = Digest::of(&bytes);
    if let Some(cache) = cache {
        cache.put_verified(ArtifactKind::Chart, &digest, &bytes)?;
    }
    Ok(FetchedChart {
        name: meta.name,
        version: meta.version,
        digest,
        bytes,
        location,
        cached: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_repositories_resolve_and_verify() {
        let dir = tempfile::tempdir().expect("tempdir");
        for version in ["1.0.0", "1.1.0", "2.0.0"] {
            let bytes = chart::package_simple("demo", version, "", &[]).expect("package");
            std::fs::write(dir.path().join(format!("demo-{version}.tgz")), bytes).expect("write");
        }
        let index = IndexFile::from_directory(dir.path(), None).expect("index");
        std::fs::write(dir.path().join("index.yaml"), index.to_yaml()).expect("write index");
        let options = FetchOptions::default();
        let location = format!("file://{}", dir.path().display());
        let fetched = fetch_chart(&location, "demo", "^1", &options).expect("fetch");
        assert_eq!(fetched.version, "1.1.0");
        assert!(fetched.location.ends_with("demo-1.1.0.tgz"));
        let err = fetch_chart(&location, "demo", "3.x", &options).expect_err("no 3.x");
        assert_eq!(
            err.to_string(),
            format!(
                "chart \"demo\" version \"3.x\" not found in {location}; available: 2.0.0, 1.1.0, 1.0.0"
            )
        );
        let tampered = chart::package_simple("demo", "2.0.0", "x: 1\n", &[]).expect("package");
        std::fs::write(dir.path().join("demo-2.0.0.tgz"), tampered).expect("tamper");
        let err = fetch_chart(&location, "demo", "", &options).expect_err("digest mismatch");
        assert!(matches!(err, Error::VerifyDigest { .. }), "{err:?}");
    }

    #[test]
    fn local_archives_are_checked_against_chart_and_range() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("demo-1.2.3.tgz");
        let bytes = chart::package_simple("demo", "1.2.3", "", &[]).expect("package");
        std::fs::write(&path, &bytes).expect("write");
        let location = format!("file://{}", path.display());
        let options = FetchOptions::default();
        let fetched = fetch_chart(&location, "demo", "^1", &options).expect("fetch");
        assert_eq!(
            (fetched.name.as_str(), fetched.version.as_str()),
            ("demo", "1.2.3")
        );
        assert_eq!(fetched.digest, Digest::of(&bytes));
        assert!(fetch_chart(&location, "", "", &options).is_ok());
        let err = fetch_chart(&location, "demo", "2.x", &options).expect_err("range");
        assert!(
            err.to_string().contains("version \"2.x\" not found"),
            "{err}"
        );
        let err = fetch_chart(&location, "other", "", &options).expect_err("name");
        assert!(matches!(err, Error::ChartNotFound { .. }));
        let err = fetch_chart("/nonexistent/x.tgz", "", "", &options).expect_err("missing");
        assert!(matches!(err, Error::ReadFile { .. }));
    }
}
