//! A loaded Helm chart and its loader: directories (honouring `.helmignore`) and `.tgz`
//! archives, sorted into `Chart.yaml`, values, schema, templates, plain files and subcharts the
//! way Helm's `loader.LoadFiles` does.

mod ignore;
mod metadata;

use std::io::Read;
use std::path::{Path, PathBuf};

pub use metadata::{Dependency, Maintainer, Metadata};

pub(crate) use ignore::go_match;

use crate::yaml;

/// A file of a chart: its slash-separated path relative to the chart root and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartFile {
    /// Path relative to the chart root, e.g. `templates/deployment.yaml`.
    pub name: String,
    /// Contents.
    pub data: Vec<u8>,
}

/// A chart with its subcharts, as Helm holds it in memory.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// `Chart.yaml`.
    pub metadata: Metadata,
    /// Parsed `values.yaml` (numbers are float64, as in Helm).
    pub values: serde_json::Map<String, serde_json::Value>,
    /// `values.schema.json`, if present.
    pub schema: Option<Vec<u8>>,
    /// Files under `templates/`.
    pub templates: Vec<ChartFile>,
    /// Every other file (what `.Files` sees), `crds/` included.
    pub files: Vec<ChartFile>,
    /// Subcharts from `charts/`, sorted by name.
    pub dependencies: Vec<Chart>,
    /// The chart's own name when it was copied under an alias. Helm's alias copy keeps its
    /// subcharts' parent pointer on the original, so their template paths use this name.
    pub(crate) unaliased_name: Option<String>,
}

/// Why a chart could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The path does not exist or cannot be read.
    #[error("path {path:?} not found")]
    ReadPath {
        /// The path.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The archive is not a gzipped tar (`path` prefixes the message when set).
    #[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
    ReadArchive {
        /// The archive.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// `Chart.yaml` is missing.
    #[error("Chart.yaml file is missing")]
    MissingChartYaml,
    /// `Chart.yaml` is not valid.
    #[error("cannot load Chart.yaml: {0}")]
    ParseChartYaml(String),
    /// `values.yaml` is not valid.
    #[error("cannot load values.yaml: {0}")]
    ParseValues(String),
    /// `requirements.yaml` is not valid.
    #[error("cannot load requirements.yaml: {0}")]
    ParseRequirements(String),
    /// `Chart.yaml` fails Helm's validation.
    #[error("validation: {0}")]
    ValidateChart(String),
    /// A subchart could not be loaded.
    #[error("error unpacking subchart {name} in {parent}: {source}")]
    LoadSubchart {
        /// Subchart directory or archive name.
        name: String,
        /// Parent chart name.
        parent: String,
        /// Why.
        #[source]
        source: Box<LoadError>,
    },
}

impl LoadError {
    /// The same error worded as that Helm version words it (Helm 4 adds `cannot unmarshal yaml
    /// document: ` to values file errors).
    pub fn for_helm(self, helm: crate::HelmVersion) -> LoadError {
        match (self, helm) {
            (LoadError::ParseValues(m), crate::HelmVersion::V4) => {
                LoadError::ParseValues(format!("cannot unmarshal yaml document: {m}"))
            }
            (other, _) => other,
        }
    }
}

impl Chart {
    /// Loads a chart from a directory or a `.tgz` archive.
    pub fn load(path: impl AsRef<Path>) -> Result<Chart, LoadError> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|source| LoadError::ReadPath {
            path: path.to_owned(),
            source,
        })?;
        if meta.is_dir() {
            Chart::from_files(load_dir_files(path)?)
        } else {
            let data = std::fs::read(path).map_err(|source| LoadError::ReadPath {
                path: path.to_owned(),
                source,
            })?;
            ensure_archive(path, &data)?;
            Chart::from_archive(&data, &path.display().to_string())
        }
    }

    /// Loads a chart from the bytes of a `.tgz` archive.
    pub fn from_archive(data: &[u8], label: &str) -> Result<Chart, LoadError> {
        Chart::from_files(archive_files(data, label)?)
    }

    /// Builds a chart from its files (paths relative to the chart root), as Helm's
    /// `loader.LoadFiles` does.
    pub fn from_files(files: Vec<ChartFile>) -> Result<Chart, LoadError> {
        let mut c = Chart::default();
        let mut have_chart_yaml = false;
        let mut requirements: Option<Vec<Dependency>> = None;
        let mut subcharts: std::collections::BTreeMap<String, Vec<ChartFile>> =
            std::collections::BTreeMap::new();
        for f in files {
            let name = f.name.as_str();
            if name == "Chart.yaml" {
                let text = file_text(&f.data);
                let json = yaml::parse_node(&text)
                    .and_then(|n| yaml::node_to_json(&metadata::stringify_fields(&n)))
                    .map_err(|e| {
                        LoadError::ParseChartYaml(format!("error converting YAML to JSON: {e}"))
                    })?;
                let mut json = if json.is_null() {
                    serde_json::json!({})
                } else {
                    json
                };
                metadata::drop_null_fields(&mut json);
                c.metadata = serde_json::from_value(json)
                    .map_err(|e| LoadError::ParseChartYaml(e.to_string()))?;
                have_chart_yaml = true;
            } else if name == "values.yaml" {
                let text = file_text(&f.data);
                let json = yaml::parse_json_like(&text).map_err(|e| {
                    LoadError::ParseValues(format!("error converting YAML to JSON: {e}"))
                })?;
                c.values = match json {
                    serde_json::Value::Object(m) => m,
                    serde_json::Value::Null => serde_json::Map::new(),
                    other => {
                        return Err(LoadError::ParseValues(format!(
                            "error unmarshaling JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                            json_kind(&other)
                        )));
                    }
                };
            } else if name == "values.schema.json" {
                c.schema = Some(f.data);
            } else if name == "requirements.yaml" {
                let text = file_text(&f.data);
                let json = yaml::parse_json_like(&text)
                    .map_err(|e| LoadError::ParseRequirements(e.to_string()))?;
                let deps = json
                    .get("dependencies")
                    .cloned()
                    .map(serde_json::from_value::<Vec<Dependency>>)
                    .transpose()
                    .map_err(|e| LoadError::ParseRequirements(e.to_string()))?;
                requirements = Some(deps.unwrap_or_default());
                c.files.push(f);
            } else if name == "Chart.lock" || name == "requirements.lock" {
                c.files.push(f);
            } else if name.starts_with("templates/") {
                c.templates.push(f);
            } else if let Some(rest) = name.strip_prefix("charts/") {
                if name.ends_with(".prov") {
                    c.files.push(f);
                    continue;
                }
                let cname = rest.split('/').next().unwrap_or(rest).to_owned();
                subcharts.entry(cname).or_default().push(ChartFile {
                    name: rest.to_owned(),
                    data: f.data,
                });
            } else {
                c.files.push(f);
            }
        }
        if !have_chart_yaml {
            return Err(LoadError::MissingChartYaml);
        }
        if c.metadata.api_version.is_empty() {
            c.metadata.api_version = "v1".to_owned();
        }
        if c.metadata.api_version == "v1"
            && let Some(deps) = requirements
        {
            c.metadata.dependencies = deps;
        }
        c.metadata.validate().map_err(LoadError::ValidateChart)?;
        for (n, files) in subcharts {
            if n.starts_with(['_', '.']) {
                continue;
            }
            let parent = c.metadata.name.clone();
            let wrap = |source: LoadError| LoadError::LoadSubchart {
                name: n.clone(),
                parent: parent.clone(),
                source: Box::new(source),
            };
            let sc = if n.ends_with(".tgz") {
                let Some(file) = files.into_iter().next() else {
                    continue;
                };
                Chart::from_archive(&file.data, &n).map_err(wrap)?
            } else {
                let inner: Vec<ChartFile> = files
                    .into_iter()
                    .filter_map(|f| {
                        let (_, rest) = f.name.split_once('/')?;
                        Some(ChartFile {
                            name: rest.to_owned(),
                            data: f.data,
                        })
                    })
                    .collect();
                Chart::from_files(inner).map_err(wrap)?
            };
            c.dependencies.push(sc);
        }
        c.dependencies
            .sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(c)
    }

    /// The chart's name (its alias once dependencies are processed).
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// Manifests under `crds/` (`.yaml`, `.yml`, `.json`), installed before everything else
    /// and printed by `helm template --include-crds`.
    pub fn crd_files(&self) -> impl Iterator<Item = &ChartFile> {
        self.files.iter().filter(|f| is_crd_file(&f.name))
    }

    /// [`Chart::crd_files`], mutable.
    pub(crate) fn crd_files_mut(&mut self) -> impl Iterator<Item = &mut ChartFile> {
        self.files.iter_mut().filter(|f| is_crd_file(&f.name))
    }
}

/// A file under `crds/` with a YAML or JSON extension.
fn is_crd_file(name: &str) -> bool {
    let ext = name
        .rsplit('/')
        .next()
        .and_then(|b| b.rsplit_once('.'))
        .map(|(_, e)| e);
    name.starts_with("crds/") && matches!(ext, Some("yaml" | "yml" | "json"))
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Array(_) => "array",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::Bool(_) => "bool",
        _ => "object",
    }
}

/// The files of a chart directory (paths relative to it, `/`-separated), as
/// [`Chart::load`] reads them; [`Chart::from_files`] builds the chart.
pub fn read_chart_dir(path: &Path) -> Result<Vec<ChartFile>, LoadError> {
    load_dir_files(path)
}

/// Reads every file of a chart directory, skipping `.helmignore`d paths.
fn load_dir_files(root: &Path) -> Result<Vec<ChartFile>, LoadError> {
    let rules = match std::fs::read_to_string(root.join(".helmignore")) {
        Ok(text) => ignore::Rules::parse(&text),
        Err(_) => ignore::Rules::parse(""),
    };
    let mut out = Vec::new();
    walk(root, "", &rules, &mut out)?;
    Ok(out)
}

fn walk(
    dir: &Path,
    rel: &str,
    rules: &ignore::Rules,
    out: &mut Vec<ChartFile>,
) -> Result<(), LoadError> {
    let read_err = |source| LoadError::ReadPath {
        path: dir.to_owned(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    for name in entries {
        let path = dir.join(&name);
        let rel_path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let meta = std::fs::metadata(&path).map_err(|source| LoadError::ReadPath {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            if rules.ignored(&rel_path, true) {
                continue;
            }
            walk(&path, &rel_path, rules, out)?;
        } else {
            if rules.ignored(&rel_path, false) {
                continue;
            }
            let data = std::fs::read(&path).map_err(|source| LoadError::ReadPath {
                path: path.clone(),
                source,
            })?;
            out.push(ChartFile {
                name: rel_path,
                data,
            });
        }
    }
    Ok(())
}

/// Helm's `ensureArchive`: a chart file must be gzip data, with Helm's hints otherwise.
fn ensure_archive(path: &Path, data: &[u8]) -> Result<(), LoadError> {
    if data.starts_with(&[0x1f, 0x8b, 0x08]) {
        return Ok(());
    }
    let name = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let message = if ext == "yml" || ext == "yaml" {
        format!("file '{name}' seems to be a YAML file, but expected a gzipped archive")
    } else {
        // Go sniffs a zero-padded 512-byte buffer: short files look binary.
        let head = &data[..data.len().min(512)];
        let text = data.len() >= 512
            && std::str::from_utf8(head).is_ok()
            && !head
                .iter()
                .any(|b| *b < 0x20 && !b"\t\n\x0c\r\x1b".contains(b));
        let kind = if text {
            "text/plain; charset=utf-8"
        } else {
            "application/octet-stream"
        };
        format!("file '{name}' does not appear to be a gzipped archive; got '{kind}'")
    };
    Err(LoadError::ReadArchive {
        path: String::new(),
        message,
    })
}

/// Go's `path.Clean` for relative slash paths.
fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// Helm's `MaxDecompressedChartSize`: the most bytes all files of one chart archive may
/// decompress to (100 MiB).
pub const MAX_DECOMPRESSED_CHART_SIZE: u64 = 100 * 1024 * 1024;

/// Helm's `MaxDecompressedFileSize`: the most bytes one file of a chart archive may decompress
/// to (5 MiB).
pub const MAX_DECOMPRESSED_FILE_SIZE: u64 = 5 * 1024 * 1024;

/// The most files one chart archive may hold (Capstan's own cap: Helm has none, and a stream of
/// empty files costs memory while staying under the byte limits).
pub const MAX_CHART_FILES: usize = 20_000;

/// Unpacks a chart archive, dropping the top-level directory as Helm does (and refusing paths
/// that escape it, with Helm's messages). Sizes are checked against Helm's decompressed-size
/// limits, with Helm's messages, from the tar headers before anything is read; the file count
/// against [`MAX_CHART_FILES`].
fn archive_files(data: &[u8], label: &str) -> Result<Vec<ChartFile>, LoadError> {
    let err = |message: String| LoadError::ReadArchive {
        path: label.to_owned(),
        message,
    };
    let gz = flate2::read::GzDecoder::new(data);
    let mut archive = tar::Archive::new(gz);
    let mut out = Vec::new();
    let mut remaining = MAX_DECOMPRESSED_CHART_SIZE;
    let entries = archive.entries().map_err(|e| err(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| err(e.to_string()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| err(e.to_string()))?
            .to_string_lossy()
            .replace('\\', "/");
        let Some((_, rest)) = path.split_once('/') else {
            continue;
        };
        if rest.is_empty() {
            continue;
        }
        if rest.starts_with('/') {
            return Err(err("chart illegally contains absolute paths".to_owned()));
        }
        let rest = clean_path(rest);
        if rest == "." {
            return Err(err(format!(
                "chart illegally contains content outside the base directory: {path:?}"
            )));
        }
        if rest.starts_with("..") {
            return Err(err("chart illegally references parent directory".to_owned()));
        }
        let size = entry.size();
        if size > remaining {
            // Helm's wording, "file size" included.
            return Err(err(format!(
                "decompressed chart is larger than the maximum file size {MAX_DECOMPRESSED_CHART_SIZE}"
            )));
        }
        if size > MAX_DECOMPRESSED_FILE_SIZE {
            return Err(err(format!(
                "decompressed chart file {path:?} is larger than the maximum file size {MAX_DECOMPRESSED_FILE_SIZE}"
            )));
        }
        remaining -= size;
        if out.len() >= MAX_CHART_FILES {
            return Err(err(format!(
                "chart archive holds more than {MAX_CHART_FILES} files"
            )));
        }
        let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        entry
            .by_ref()
            .take(size)
            .read_to_end(&mut buf)
            .map_err(|e| err(e.to_string()))?;
        out.push(ChartFile {
            name: rest,
            data: buf,
        });
    }
    if out.is_empty() {
        return Err(err("no files in chart archive".to_owned()));
    }
    Ok(out)
}

/// A chart file's bytes as text, invalid UTF-8 replaced. Checks with `str::from_utf8` first
/// (word-at-a-time on ASCII) and borrows; only text that is not UTF-8 pays for the lossy
/// conversion. Charts are almost always UTF-8, and CRD-heavy charts pass hundreds of KB through
/// here on every render.
pub(crate) fn file_text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(data) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_like_go() {
        assert_eq!(clean_path("templates/./a.yaml"), "templates/a.yaml");
        assert_eq!(clean_path("a/../../etc/passwd"), "../etc/passwd");
        assert_eq!(clean_path("a/.."), ".");
        assert_eq!(clean_path("a//b/"), "a/b");
    }

    /// A chart archive of `files` all-zero files of `size` bytes (compresses about 1000:1).
    fn zero_bomb(files: usize, size: u64) -> Vec<u8> {
        let mut tgz = Vec::new();
        let gz = flate2::write::GzEncoder::new(&mut tgz, flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        let chart = b"apiVersion: v2\nname: bomb\nversion: 0.1.0\n";
        let mut add = |name: &str, data: &mut dyn Read, len: u64| {
            let mut h = tar::Header::new_gnu();
            h.set_size(len);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, data).expect("append");
        };
        add("bomb/Chart.yaml", &mut &chart[..], chart.len() as u64);
        for i in 0..files {
            add(
                &format!("bomb/files/f{i}"),
                &mut std::io::repeat(0).take(size),
                size,
            );
        }
        b.into_inner().expect("tar").finish().expect("gzip");
        tgz
    }

    #[test]
    fn decompression_bombs_are_refused_with_helms_messages() {
        let err = |tgz: Vec<u8>| {
            Chart::from_archive(&tgz, "")
                .expect_err("refused")
                .to_string()
        };
        assert_eq!(
            err(zero_bomb(1, 6 << 20)),
            "decompressed chart file \"bomb/files/f0\" is larger than the maximum file size 5242880"
        );
        assert_eq!(
            err(zero_bomb(26, 4 << 20)),
            "decompressed chart is larger than the maximum file size 104857600"
        );
        assert_eq!(
            err(zero_bomb(MAX_CHART_FILES + 1, 0)),
            "chart archive holds more than 20000 files"
        );
    }

    #[test]
    fn archive_round_trip() -> Result<(), Box<dyn std::error::Error>> {
        let mut tgz = Vec::new();
        {
            let gz = flate2::write::GzEncoder::new(&mut tgz, flate2::Compression::fast());
            let mut b = tar::Builder::new(gz);
            for (name, data) in [
                (
                    "demo/Chart.yaml",
                    "apiVersion: v2\nname: demo\nversion: 1.0.0\n",
                ),
                ("demo/values.yaml", "a: 1\n"),
                ("demo/templates/cm.yaml", "kind: ConfigMap\n"),
                ("demo/files/x.txt", "x"),
            ] {
                let mut h = tar::Header::new_gnu();
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                b.append_data(&mut h, name, data.as_bytes())?;
            }
            b.into_inner()?.finish()?;
        }
        let c = Chart::from_archive(&tgz, "demo.tgz")?;
        assert_eq!(c.name(), "demo");
        assert_eq!(c.values.get("a"), Some(&serde_json::json!(1.0)));
        assert_eq!(c.templates.len(), 1);
        assert_eq!(
            c.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["files/x.txt"]
        );
        Ok(())
    }
}
