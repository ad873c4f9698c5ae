//! HTTP Helm repositories: an `index.yaml` listing every chart version and where its archive
//! is, as served by `helm repo index` output on any web server, ChartMuseum, GitHub Pages…
//!
//! [`HelmRepository::fetch_chart`] is the whole flow Helm and Flux's source-controller follow:
//! download the index, pick the version for the range ([`crate::semver::select`]), resolve the
//! entry's first URL against the repository URL, download, and check the sha256 the index
//! publishes. [`IndexFile::from_directory`] writes an index the way `helm repo index` does.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cache::{ArtifactKind, Cache};
use crate::chart;
use crate::digest::Digest;
use crate::error::{Error, IndexError, Result};
use crate::semver;
use crate::transport::{self, Credentials, Http, TlsOptions};

/// One chart version in an index: `Chart.yaml`'s fields plus where to download it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartVersion {
    /// Chart name.
    pub name: String,
    /// Chart version (semver).
    pub version: String,
    /// Archive URLs, absolute or relative to the repository URL; Helm uses the first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// sha256 of the archive, 64 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// When the entry was added (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Every other field (`apiVersion`, `appVersion`, `description`, `dependencies`…).
    #[serde(flatten)]
    pub metadata: serde_json::Map<String, Value>,
}

/// A repository index (`index.yaml`), entries sorted highest version first like Helm's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IndexFile {
    /// `apiVersion` (always `v1` in practice).
    pub api_version: String,
    /// Chart name → versions, highest first.
    pub entries: BTreeMap<String, Vec<ChartVersion>>,
    /// `generated` timestamp, when present.
    pub generated: Option<String>,
}

impl IndexFile {
    /// Parse an `index.yaml`. Entries Helm would drop (no name, or a version that is not
    /// semver) are dropped.
    pub fn parse(yaml: &str) -> Result<Self, IndexError> {
        let value = capstan_yaml::parse_one(yaml).map_err(IndexError::ParseYaml)?;
        let Value::Object(mut top) = value else {
            return Err(IndexError::Shape("the index is not a mapping"));
        };
        let api_version = match top.remove("apiVersion") {
            Some(Value::String(s)) if !s.is_empty() => s,
            _ => return Err(IndexError::Shape("no apiVersion specified")),
        };
        let generated = match top.remove("generated") {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let mut entries = BTreeMap::new();
        match top.remove("entries") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (name, versions) in map {
                    let Value::Array(versions) = versions else {
                        return Err(IndexError::Shape("an entry is not a list of versions"));
                    };
                    let mut kept: Vec<ChartVersion> = versions
                        .into_iter()
                        .filter_map(|v| serde_json::from_value::<ChartVersion>(v).ok())
                        .filter(|v| {
                            !v.name.is_empty() && semver::Version::parse(&v.version).is_ok()
                        })
                        .collect();
                    sort_versions(&mut kept);
                    entries.insert(name, kept);
                }
            }
            Some(_) => return Err(IndexError::Shape("entries is not a mapping")),
        }
        Ok(IndexFile {
            api_version,
            entries,
            generated,
        })
    }

    /// Versions of `chart`, highest first (empty when the chart is unknown).
    pub fn versions(&self, chart: &str) -> Vec<&str> {
        self.entries
            .get(chart)
            .map(|vs| vs.iter().map(|v| v.version.as_str()).collect())
            .unwrap_or_default()
    }

    /// The entry Helm would pick for `chart` and `range` (empty range = latest stable).
    /// `repository` only labels the errors.
    pub fn lookup(&self, repository: &str, chart: &str, range: &str) -> Result<&ChartVersion> {
        let Some(versions) = self.entries.get(chart).filter(|v| !v.is_empty()) else {
            return Err(Error::ChartNotFound {
                repository: repository.to_owned(),
                chart: chart.to_owned(),
                available: self
                    .entries
                    .iter()
                    .filter(|(_, versions)| !versions.is_empty())
                    .map(|(name, _)| name.clone())
                    .collect(),
            });
        };
        let picked = semver::select(range, versions.iter().map(|v| v.version.as_str())).map_err(
            |source| Error::ParseRange {
                chart: chart.to_owned(),
                range: range.to_owned(),
                source,
            },
        )?;
        picked
            .and_then(|p| versions.iter().find(|v| v.version == p))
            .ok_or_else(|| Error::VersionNotFound {
                repository: repository.to_owned(),
                chart: chart.to_owned(),
                range: range.to_owned(),
                available: versions.iter().map(|v| v.version.clone()).collect(),
            })
    }

    /// Index the chart archives in `dir` (`*.tgz` and `*/*.tgz`) like `helm repo index DIR
    /// [--url BASE]`: URLs are paths relative to `dir`, prefixed with `base_url` when given.
    pub fn from_directory(dir: &Path, base_url: Option<&str>) -> Result<Self> {
        let mut archives = Vec::new();
        collect_archives(dir, dir, 0, &mut archives)?;
        archives.sort();
        let now = rfc3339_now();
        let mut index = IndexFile {
            api_version: "v1".to_owned(),
            entries: BTreeMap::new(),
            generated: Some(now.clone()),
        };
        for relative in archives {
            let path = dir.join(&relative);
            let bytes = std::fs::read(&path).map_err(|source| Error::ReadFile {
                path: path.display().to_string(),
                source,
            })?;
            let meta = chart::read_metadata(&bytes).map_err(|source| Error::ReadChart {
                location: path.display().to_string(),
                source,
            })?;
            let url = match base_url {
                Some(base) => format!("{}/{relative}", base.trim_end_matches('/')),
                None => relative.clone(),
            };
            let mut metadata = meta.fields;
            for key in ["name", "version", "urls", "digest", "created"] {
                metadata.remove(key);
            }
            metadata
                .entry("apiVersion")
                .or_insert_with(|| Value::String("v1".to_owned()));
            let versions = index.entries.entry(meta.name.clone()).or_default();
            // `helm repo index` keeps the first archive of a given name and version.
            if versions.iter().any(|v| v.version == meta.version) {
                continue;
            }
            versions.push(ChartVersion {
                name: meta.name,
                version: meta.version,
                urls: vec![url],
                digest: Some(Digest::of(&bytes).hex().to_owned()),
                created: Some(now.clone()),
                metadata,
            });
        }
        for versions in index.entries.values_mut() {
            sort_versions(versions);
        }
        Ok(index)
    }

    /// The index as JSON data (the shape of `index.yaml`).
    pub fn to_value(&self) -> Value {
        let mut top = serde_json::Map::new();
        top.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        let entries = self
            .entries
            .iter()
            .map(|(name, versions)| {
                let list = versions
                    .iter()
                    .map(|v| serde_json::to_value(v).unwrap_or(Value::Null))
                    .collect();
                (name.clone(), Value::Array(list))
            })
            .collect();
        top.insert("entries".into(), Value::Object(entries));
        if let Some(generated) = &self.generated {
            top.insert("generated".into(), Value::String(generated.clone()));
        }
        Value::Object(top)
    }

    /// The index as `index.yaml` text.
    pub fn to_yaml(&self) -> String {
        capstan_yaml::to_string(&self.to_value())
    }
}

fn sort_versions(versions: &mut [ChartVersion]) {
    versions.sort_by(|a, b| {
        match (
            semver::Version::parse(&a.version),
            semver::Version::parse(&b.version),
        ) {
            (Ok(x), Ok(y)) => y.cmp(&x),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            (Err(_), Err(_)) => std::cmp::Ordering::Equal,
        }
    });
}

fn collect_archives(root: &Path, dir: &Path, depth: usize, out: &mut Vec<String>) -> Result<()> {
    let read_err = |source| Error::ReadFile {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(read_err)?;
        if file_type.is_dir() && depth == 0 {
            collect_archives(root, &path, depth + 1, out)?;
        } else if file_type.is_file() && path.extension().is_some_and(|e| e == "tgz") {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// The current UTC time as RFC 3339 with nanoseconds, like Go's `time.Time` in JSON.
fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        now.subsec_nanos()
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A chart archive fetched from a repository or registry, digest verified.
#[derive(Debug, Clone)]
pub struct FetchedChart {
    /// Chart name.
    pub name: String,
    /// The version picked.
    pub version: String,
    /// sha256 of [`FetchedChart::bytes`].
    pub digest: Digest,
    /// The `.tgz` archive.
    pub bytes: Vec<u8>,
    /// Where the archive was downloaded from (archive URL or OCI reference with digest).
    pub location: String,
    /// Whether the bytes came from the cache rather than the network.
    pub cached: bool,
}

/// An HTTP(S) Helm chart repository.
#[derive(Debug, Clone)]
pub struct HelmRepository {
    url: String,
    credentials: Option<Credentials>,
    pass_credentials: bool,
    http: Http,
}

impl HelmRepository {
    /// A repository at `url` (the directory holding `index.yaml`).
    pub fn new(url: impl Into<String>) -> Self {
        let url: String = url.into();
        HelmRepository {
            url: url.trim_end_matches('/').to_owned(),
            credentials: None,
            pass_credentials: false,
            http: Http::new(),
        }
    }

    /// Use basic auth for the index, and for archives on the same host as the repository.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Use these TLS settings (custom CA, client certificate) for `https://` requests.
    pub fn with_tls(mut self, options: &TlsOptions) -> Result<Self> {
        self.http = Http::with_tls(options).map_err(|source| Error::ConfigureTls {
            target: self.url.clone(),
            source,
        })?;
        Ok(self)
    }

    /// Also send the credentials to archive URLs on other hosts (Helm's `--pass-credentials`,
    /// Flux's `passCredentials`).
    pub fn pass_credentials_to_all_hosts(mut self, yes: bool) -> Self {
        self.pass_credentials = yes;
        self
    }

    /// The repository URL, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `<url>/index.yaml`.
    pub fn index_url(&self) -> String {
        match self.url.split_once('?') {
            Some((base, query)) => format!("{base}/index.yaml?{query}"),
            None => format!("{}/index.yaml", self.url),
        }
    }

    fn auth_for(&self, url: &str) -> Option<String> {
        let credentials = self.credentials.as_ref()?;
        let same_host = transport::origin(url) == transport::origin(&self.url);
        (same_host || self.pass_credentials).then(|| credentials.basic_header())
    }

    fn get(&self, url: &str) -> Result<Vec<u8>, transport::HttpError> {
        let auth = self.auth_for(url);
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("Authorization", a)])
            .unwrap_or_default();
        Ok(self.http.get(url, &headers)?.success()?.body)
    }

    /// Download and parse `index.yaml`.
    pub fn fetch_index(&self) -> Result<IndexFile> {
        let url = self.index_url();
        let bytes = self.get(&url).map_err(|source| Error::FetchIndex {
            url: url.clone(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        IndexFile::parse(&text).map_err(|source| Error::ParseIndex { url, source })
    }

    /// The entry Helm would pick for `chart` and `range` (empty = latest stable).
    pub fn resolve(&self, index: &IndexFile, chart: &str, range: &str) -> Result<ChartVersion> {
        index.lookup(&self.url, chart, range).cloned()
    }

    /// The absolute URL of an entry's archive.
    pub fn archive_url(&self, entry: &ChartVersion) -> Result<String> {
        let first = entry.urls.first().ok_or_else(|| Error::FindChartUrl {
            repository: self.url.clone(),
            chart: entry.name.clone(),
            version: entry.version.clone(),
        })?;
        Ok(transport::resolve_reference(&self.url, first))
    }

    /// The sha256 the index publishes for an entry, if any.
    pub fn published_digest(&self, entry: &ChartVersion) -> Result<Option<Digest>> {
        match entry.digest.as_deref().filter(|d| !d.is_empty()) {
            None => Ok(None),
            Some(text) => Digest::parse(text)
                .map(Some)
                .map_err(|source| Error::ParseDigest {
                    what: format!("chart {:?} version {:?}", entry.name, entry.version),
                    location: self.index_url(),
                    source,
                }),
        }
    }

    /// Download an entry's archive and check it against the published digest.
    pub fn download(&self, entry: &ChartVersion) -> Result<FetchedChart> {
        let url = self.archive_url(entry)?;
        let expected = self.published_digest(entry)?;
        let bytes = self.get(&url).map_err(|source| Error::DownloadChart {
            chart: entry.name.clone(),
            version: entry.version.clone(),
            url: url.clone(),
            source,
        })?;
        let actual = Digest::of(&bytes);
        if let Some(expected) = expected
            && expected != actual
        {
            return Err(Error::VerifyDigest {
                what: format!("chart {:?} version {:?}", entry.name, entry.version),
                location: url,
                expected,
                actual,
            });
        }
        Ok(FetchedChart {
            name: entry.name.clone(),
            version: entry.version.clone(),
            digest: actual,
            bytes,
            location: url,
            cached: false,
        })
    }

    /// Resolve `chart` + `range` and fetch the archive, from `cache` when the index publishes a
    /// digest that is cached; downloads are stored in the cache.
    pub fn fetch_chart(
        &self,
        chart: &str,
        range: &str,
        cache: Option<&Cache>,
    ) -> Result<FetchedChart> {
        let index = self.fetch_index()?;
        let entry = self.resolve(&index, chart, range)?;
        if let (Some(cache), Some(digest)) = (cache, self.published_digest(&entry)?)
            && let Some(bytes) = cache.get(ArtifactKind::Chart, &digest)?
        {
            return Ok(FetchedChart {
                name: entry.name.clone(),
                version: entry.version.clone(),
                location: self.archive_url(&entry)?,
                digest,
                bytes,
                cached: true,
            });
        }
        let fetched = self.download(&entry)?;
        if let Some(cache) = cache {
            cache.put_verified(ArtifactKind::Chart, &fetched.digest, &fetched.bytes)?;
        }
        Ok(fetched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"
apiVersion: v1
entries:
  redis:
  - name: redis
    version: 16.0.1
    digest: 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03
    urls: [redis-16.0.1.tgz]
  - name: redis
    version: 16.13.2
    urls: [https://cdn.example.com/redis-16.13.2.tgz]
    appVersion: "6.2"
  - name: redis
    version: 17.0.0-rc.1
    urls: [redis-17.0.0-rc.1.tgz]
  - name: redis
    version: not-semver
    urls: [broken.tgz]
  - name: redis
    version: 15.7.6
    urls: [redis-15.7.6.tgz]
  empty: []
generated: "2024-01-01T00:00:00Z"
"#;

    #[test]
    fn parses_and_sorts_an_index() {
        let index = IndexFile::parse(INDEX).expect("index parses");
        assert_eq!(index.api_version, "v1");
        assert_eq!(
            index.versions("redis"),
            ["17.0.0-rc.1", "16.13.2", "16.0.1", "15.7.6"]
        );
        let entry = &index.entries["redis"][1];
        assert_eq!(entry.metadata["appVersion"], "6.2");
        assert_eq!(index.generated.as_deref(), Some("2024-01-01T00:00:00Z"));
    }

    #[test]
    fn looks_up_like_helm() {
        let index = IndexFile::parse(INDEX).expect("index parses");
        let repo = "http://charts.example.com";
        let pick = |range| {
            index
                .lookup(repo, "redis", range)
                .map(|e| e.version.clone())
        };
        assert_eq!(pick("").expect("latest"), "16.13.2");
        assert_eq!(pick("16.x.x").expect("16.x.x"), "16.13.2");
        assert_eq!(pick("~16.0").expect("~16.0"), "16.0.1");
        assert_eq!(
            pick("17.0.0-rc.1").expect("exact prerelease"),
            "17.0.0-rc.1"
        );
        let err = pick("18.x.x").expect_err("no 18");
        assert_eq!(
            err.to_string(),
            "chart \"redis\" version \"18.x.x\" not found in http://charts.example.com; \
             available: 17.0.0-rc.1, 16.13.2, 16.0.1, 15.7.6"
        );
        let err = index.lookup(repo, "nginx", "").expect_err("no nginx");
        assert_eq!(
            err.to_string(),
            "chart \"nginx\" not found in http://charts.example.com; charts: redis"
        );
        let err = index.lookup(repo, "empty", "").expect_err("no versions");
        assert!(matches!(err, Error::ChartNotFound { .. }));
        assert!(matches!(pick(">>1"), Err(Error::ParseRange { .. })));
    }

    #[test]
    fn rejects_non_indexes() {
        assert!(matches!(
            IndexFile::parse("entries: {}\n"),
            Err(IndexError::Shape(_))
        ));
        assert!(matches!(
            IndexFile::parse("- a\n"),
            Err(IndexError::Shape(_))
        ));
        assert!(matches!(
            IndexFile::parse("apiVersion: v1\nentries: [1]\n"),
            Err(IndexError::Shape(_))
        ));
        assert!(matches!(
            IndexFile::parse("apiVersion: v1\nentries: {a: [\n"),
            Err(IndexError::ParseYaml(_))
        ));
    }

    #[test]
    fn archive_urls_resolve_against_the_repository() {
        let index = IndexFile::parse(INDEX).expect("index parses");
        let repo = HelmRepository::new("http://charts.example.com/stable/");
        assert_eq!(
            repo.index_url(),
            "http://charts.example.com/stable/index.yaml"
        );
        let local = repo.resolve(&index, "redis", "16.0.1").expect("16.0.1");
        assert_eq!(
            repo.archive_url(&local).expect("url"),
            "http://charts.example.com/stable/redis-16.0.1.tgz"
        );
        let remote = repo.resolve(&index, "redis", "16.13.2").expect("16.13.2");
        assert_eq!(
            repo.archive_url(&remote).expect("url"),
            "https://cdn.example.com/redis-16.13.2.tgz"
        );
        assert_eq!(repo.published_digest(&remote).expect("no digest"), None);
        assert!(repo.published_digest(&local).expect("digest").is_some());
    }

    #[test]
    fn credentials_stay_on_the_repository_host() {
        let repo = HelmRepository::new("http://charts.example.com/stable")
            .with_credentials(Credentials::new("u", "p"));
        assert!(
            repo.auth_for("http://charts.example.com/stable/a.tgz")
                .is_some()
        );
        assert!(repo.auth_for("https://cdn.example.com/a.tgz").is_none());
        let repo = repo.pass_credentials_to_all_hosts(true);
        assert!(repo.auth_for("https://cdn.example.com/a.tgz").is_some());
    }

    #[test]
    fn formats_timestamps() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        let now = rfc3339_now();
        assert_eq!(now.len(), "2024-01-01T00:00:00.000000000Z".len(), "{now}");
    }
}
