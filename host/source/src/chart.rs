//! Chart archives as bytes: reading `Chart.yaml` out of a `.tgz` (to index a directory and to
//! describe a chart pushed to a registry) and packaging files into a `.tgz` the way
//! `helm package` lays them out (`<name>/Chart.yaml`, `<name>/templates/…`).
//!
//! Packaging is deterministic — fixed mtimes, modes and owner, files in the given order — so
//! the same chart always has the same digest.

use std::io::Read;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

/// A chart archive could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The archive is not a readable gzip'd tar.
    #[error("reading the chart archive failed")]
    ReadArchive(#[source] std::io::Error),
    /// No `<dir>/Chart.yaml` at the top of the archive.
    #[error("the chart archive has no <name>/Chart.yaml")]
    MissingChartYaml,
    /// `Chart.yaml` decompresses to more than Helm's per-file limit.
    #[error(
        "decompressed chart file {path:?} is larger than the maximum file size {MAX_CHART_YAML_SIZE}"
    )]
    ChartYamlTooLarge {
        /// The file's path in the archive.
        path: String,
    },
    /// `Chart.yaml` is not valid YAML.
    #[error("parsing Chart.yaml failed")]
    ParseChartYaml(#[source] capstan_yaml::Error),
    /// `Chart.yaml` lacks `name` or `version`, or they are not strings.
    #[error("Chart.yaml has no {field} string")]
    ChartYamlField {
        /// The missing field.
        field: &'static str,
    },
    /// Writing the archive failed.
    #[error("writing the chart archive failed")]
    WriteArchive(#[source] std::io::Error),
}

/// Helm's `MaxDecompressedFileSize` (5 MiB): the most a `Chart.yaml` may decompress to.
pub(crate) const MAX_CHART_YAML_SIZE: u64 = 5 * 1024 * 1024;

/// The metadata of a chart (`Chart.yaml`), as read from its archive.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartMetadata {
    /// `name`.
    pub name: String,
    /// `version`.
    pub version: String,
    /// Every field of `Chart.yaml`, as JSON.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// Read `Chart.yaml` from a chart archive (`.tgz`).
pub fn read_metadata(archive: &[u8]) -> Result<ChartMetadata, ChartError> {
    let mut tar = tar::Archive::new(GzDecoder::new(archive));
    let entries = tar.entries().map_err(ChartError::ReadArchive)?;
    for entry in entries {
        let mut entry = entry.map_err(ChartError::ReadArchive)?;
        let text = entry
            .path()
            .map_err(ChartError::ReadArchive)?
            .to_string_lossy()
            .into_owned();
        let mut parts = text.trim_start_matches("./").split('/');
        let is_chart_yaml = matches!(
            (parts.next(), parts.next(), parts.next()),
            (Some(dir), Some("Chart.yaml"), None) if !dir.is_empty()
        );
        if !is_chart_yaml {
            continue;
        }
        if entry.size() > MAX_CHART_YAML_SIZE {
            return Err(ChartError::ChartYamlTooLarge { path: text });
        }
        let mut yaml = String::new();
        entry
            .by_ref()
            .take(MAX_CHART_YAML_SIZE)
            .read_to_string(&mut yaml)
            .map_err(ChartError::ReadArchive)?;
        let value = capstan_yaml::parse_one(&yaml).map_err(ChartError::ParseChartYaml)?;
        let fields = match value {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        let field = |name: &'static str| {
            fields
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or(ChartError::ChartYamlField { field: name })
        };
        return Ok(ChartMetadata {
            name: field("name")?,
            version: field("version")?,
            fields,
        });
    }
    Err(ChartError::MissingChartYaml)
}

/// Package files into a chart archive. Paths are relative to the archive root and should
/// start with the chart directory (`mychart/Chart.yaml`).
pub fn package<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<Vec<u8>, ChartError> {
    let gz = GzEncoder::new(Vec::new(), Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, bytes)
            .map_err(ChartError::WriteArchive)?;
    }
    let gz = tar.into_inner().map_err(ChartError::WriteArchive)?;
    gz.finish().map_err(ChartError::WriteArchive)
}

/// Package a minimal valid chart: `Chart.yaml` (apiVersion v2), `values.yaml` and the given
/// templates (`(file name under templates/, content)`).
pub fn package_simple(
    name: &str,
    version: &str,
    values: &str,
    templates: &[(&str, &str)],
) -> Result<Vec<u8>, ChartError> {
    let chart_yaml = format!(
        "apiVersion: v2\nname: {name}\nversion: {version}\ndescription: Test chart {name}\ntype: application\nappVersion: \"1.0\"\n"
    );
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (format!("{name}/Chart.yaml"), chart_yaml.into_bytes()),
        (format!("{name}/values.yaml"), values.as_bytes().to_vec()),
    ];
    for (file, content) in templates {
        files.push((
            format!("{name}/templates/{file}"),
            content.as_bytes().to_vec(),
        ));
    }
    package(files.iter().map(|(p, b)| (p.as_str(), b.as_slice())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_and_reads_back() {
        let tgz = package_simple(
            "redis",
            "16.0.1",
            "replicas: 1\n",
            &[("cm.yaml", "kind: ConfigMap\n")],
        )
        .expect("package");
        let meta = read_metadata(&tgz).expect("read metadata");
        assert_eq!(meta.name, "redis");
        assert_eq!(meta.version, "16.0.1");
        assert_eq!(meta.fields["apiVersion"], "v2");
        assert_eq!(meta.fields["appVersion"], "1.0");
        let again = package_simple(
            "redis",
            "16.0.1",
            "replicas: 1\n",
            &[("cm.yaml", "kind: ConfigMap\n")],
        )
        .expect("package again");
        assert_eq!(tgz, again, "packaging is deterministic");
    }

    #[test]
    fn an_oversized_chart_yaml_is_refused_with_helms_message() {
        let mut big = b"name: x\nversion: 1.0.0\n".to_vec();
        big.resize(
            usize::try_from(MAX_CHART_YAML_SIZE).expect("fits") + 1,
            b'#',
        );
        let tgz = package([("x/Chart.yaml", big.as_slice())]).expect("package");
        let e = read_metadata(&tgz).expect_err("over Helm's per-file limit");
        assert!(matches!(e, ChartError::ChartYamlTooLarge { .. }));
        assert_eq!(
            e.to_string(),
            "decompressed chart file \"x/Chart.yaml\" is larger than the maximum file size 5242880"
        );
        big.truncate(usize::try_from(MAX_CHART_YAML_SIZE).expect("fits"));
        let tgz = package([("x/Chart.yaml", big.as_slice())]).expect("package");
        assert_eq!(read_metadata(&tgz).expect("at the limit").name, "x");
    }

    #[test]
    fn rejects_archives_without_chart_yaml() {
        let tgz = package([("redis/values.yaml", &b"a: 1\n"[..])]).expect("package");
        assert!(matches!(
            read_metadata(&tgz),
            Err(ChartError::MissingChartYaml)
        ));
        let nested =
            package([("a/b/Chart.yaml", &b"name: x\nversion: 1.0.0\n"[..])]).expect("package");
        assert!(matches!(
            read_metadata(&nested),
            Err(ChartError::MissingChartYaml)
        ));
        assert!(matches!(
            read_metadata(b"not gzip"),
            Err(ChartError::ReadArchive(_))
        ));
        let no_version = package([("x/Chart.yaml", &b"name: x\n"[..])]).expect("package");
        assert!(matches!(
            read_metadata(&no_version),
            Err(ChartError::ChartYamlField { field: "version" })
        ));
    }
}
