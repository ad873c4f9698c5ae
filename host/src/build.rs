//! `capstan build`'s front door to the engine: the `-f` files become the engine's object lookup,
//! local chart paths and `--plugin-dir` are added to the network fetcher, and the result is
//! reported (objects on stdout, a summary on stderr). The pipeline itself is
//! [`capstan_engine::Engine::build`], the same one the controller runs.
//!
//! ```text
//!  -f files ─► documents ─► prepare(): exactly one HelmRelease + plugins, sources,
//!                            ConfigMaps/Secrets (InputsLookup); every ignored field a warning
//!  --plugin-dir, paths ─► FileFetcher (wraps SourceFetcher)
//!     ▼
//!  Engine::build ─► Build ─► render_output() (stdout) + summary() (stderr)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use capstan_api::{Inputs, ParsedRelease};
use capstan_engine::{
    Build, ChartContent, ChartLocation, ChartRequest, FetchError, FetchedChart, FetchedModule,
    Fetcher, ModuleRequest, SourceFetcher,
};
use serde_json::Value;

/// Why `capstan build` could not start a build (the build's own errors are
/// [`capstan_engine::Error`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input file could not be read.
    #[error("cannot read {path}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An input file is not YAML.
    #[error("{path} is not a YAML stream")]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: capstan_yaml::Error,
    },
    /// An input document is a malformed HelmRelease, plugin or source.
    #[error("reading the inputs")]
    ClassifyInputs(#[source] capstan_api::Error),
    /// No HelmRelease among the inputs.
    #[error("no HelmRelease in the input files; found {found}")]
    FindRelease {
        /// What was found instead (`ConfigMap apps/x, …` or `no documents`).
        found: String,
    },
    /// More than one HelmRelease among the inputs.
    #[error("expected exactly one HelmRelease, found {}: {}", names.len(), names.join(", "))]
    SeveralReleases {
        /// `namespace/name` of each.
        names: Vec<String>,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Reads every document of every file, in order; the index of the file of each document.
pub fn read_files(files: &[PathBuf]) -> Result<Vec<(usize, Value)>> {
    let mut docs = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
            path: path.clone(),
            source,
        })?;
        let parsed = capstan_yaml::parse_stream(&text).map_err(|source| Error::ParseFile {
            path: path.clone(),
            source,
        })?;
        docs.extend(parsed.into_iter().map(|d| (i, d)));
    }
    Ok(docs)
}

/// The inputs of one build: exactly one HelmRelease and what it may refer to.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The HelmRelease, converted to `capstan.dev/v1alpha1`.
    pub release: ParsedRelease,
    /// Plugins, sources, ConfigMaps and Secrets from the same files.
    pub inputs: Inputs,
    /// Every field or document that is ignored, for the user (`path: message`).
    pub warnings: Vec<String>,
}

fn describe(doc: &Value) -> String {
    let kind = doc
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("document");
    let meta = |f: &str| {
        doc.pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    match (meta("namespace"), meta("name")) {
        ("", "") => kind.to_owned(),
        ("", name) => format!("{kind} {name}"),
        (ns, name) => format!("{kind} {ns}/{name}"),
    }
}

/// Sorts the documents into a build's inputs; fails unless there is exactly one HelmRelease,
/// naming what was found.
pub fn prepare(docs: &[Value]) -> Result<Prepared> {
    let mut inputs = capstan_api::classify_documents(docs).map_err(Error::ClassifyInputs)?;
    let mut releases = std::mem::take(&mut inputs.releases);
    if releases.len() > 1 {
        return Err(Error::SeveralReleases {
            names: releases.iter().map(|r| r.release.full_name()).collect(),
        });
    }
    let Some(release) = releases.pop() else {
        let found: Vec<String> = docs.iter().filter(|d| !d.is_null()).map(describe).collect();
        return Err(Error::FindRelease {
            found: if found.is_empty() {
                "no documents".to_owned()
            } else {
                found.join(", ")
            },
        });
    };
    let name = release.release.full_name();
    let mut warnings: Vec<String> = release
        .warnings
        .iter()
        .map(|w| format!("HelmRelease {name}: {w}"))
        .collect();
    warnings.extend(inputs.warnings.iter().map(ToString::to_string));
    Ok(Prepared {
        release,
        inputs,
        warnings,
    })
}

/// The network fetcher plus what only a local build has: chart paths relative to the release
/// file, `file://` repositories, and `--plugin-dir` modules standing in for plugin objects.
#[derive(Debug, Clone, Default)]
pub struct FileFetcher {
    /// Charts and modules over the network, cached by digest.
    pub network: SourceFetcher,
    /// `--plugin-dir`: `DIR/<plugin name>.wasm` is used when present (and verified against the
    /// plugin's `sha256` when it declares one); a plugin with no object in the inputs is then
    /// run with default limits.
    pub plugin_dir: Option<PathBuf>,
    /// Relative local chart paths and `file://` repositories resolve against this directory
    /// (the directory of the file holding the HelmRelease).
    pub base_dir: PathBuf,
}

impl Fetcher for FileFetcher {
    fn fetch_chart(&self, request: &ChartRequest) -> Result<FetchedChart, FetchError> {
        let path = match &request.location {
            ChartLocation::Repository(url) => match url.strip_prefix("file://") {
                Some(path) => resolve_relative(&self.base_dir, path),
                None => return self.network.fetch_chart(request),
            },
            ChartLocation::Local(path) => {
                resolve_relative(&self.base_dir, path.strip_prefix("file://").unwrap_or(path))
            }
        };
        if path.is_dir() && !path.join("index.yaml").is_file() {
            let files = capstan_helm::read_chart_dir(&path).map_err(|source| {
                FetchError::ReadLocalChart {
                    path: path.display().to_string(),
                    source,
                }
            })?;
            return Ok(FetchedChart {
                name: request.chart.clone(),
                version: String::new(),
                digest: String::new(),
                location: path.display().to_string(),
                content: ChartContent::Files(files),
            });
        }
        // A packaged chart or a repository laid out on disk (`index.yaml` + archives).
        self.network
            .fetch_repository_chart(&format!("file://{}", path.display()), request)
    }

    fn fetch_module(&self, request: &ModuleRequest) -> Result<FetchedModule, FetchError> {
        self.network.fetch_module(request)
    }

    fn local_module(&self, name: &str) -> Option<Result<FetchedModule, FetchError>> {
        let path = self
            .plugin_dir
            .as_ref()
            .map(|d| d.join(format!("{name}.wasm")))
            .filter(|p| p.is_file())?;
        Some(
            std::fs::read(&path)
                .map(|bytes| FetchedModule {
                    bytes,
                    location: path.display().to_string(),
                })
                .map_err(|source| FetchError::ReadLocal {
                    path: path.display().to_string(),
                    source,
                }),
        )
    }
}

/// Counts objects by kind.
pub fn count_kinds<'a>(objects: impl IntoIterator<Item = &'a Value>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for o in objects {
        let kind = o.get("kind").and_then(Value::as_str).unwrap_or("<no kind>");
        *counts.entry(kind.to_owned()).or_insert(0) += 1;
    }
    counts
}

fn format_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2}s", d.as_secs_f64())
    } else {
        format!("{:.1}ms", d.as_secs_f64() * 1000.0)
    }
}

/// The summary printed on stderr: chart and digest, objects by kind, each post-renderer with
/// its duration, warnings and diagnostics.
pub fn summary(build: &Build) -> String {
    let mut s = String::new();
    let short = build
        .chart
        .digest
        .strip_prefix("sha256:")
        .map_or(build.chart.digest.as_str(), |h| &h[..h.len().min(12)]);
    s.push_str(&format!(
        "HelmRelease {}: release {} in namespace {}\n",
        build.release, build.release_name, build.release_namespace
    ));
    s.push_str(&format!(
        "chart {}@{} sha256:{short} from {}\n",
        build.chart.name, build.chart.version, build.chart.location
    ));
    let join = |counts: BTreeMap<String, usize>| {
        counts
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    s.push_str(&format!(
        "objects: {} ({})\n",
        build.crds.len() + build.objects.len(),
        join(count_kinds(build.crds_and_objects()))
    ));
    if !build.hooks.is_empty() {
        s.push_str(&format!(
            "hooks: {} ({})\n",
            build.hooks.len(),
            join(count_kinds(&build.hooks))
        ));
    }
    if build.steps.is_empty() {
        s.push_str("post-renderers: none\n");
    } else {
        s.push_str("post-renderers:\n");
        for (i, step) in build.steps.iter().enumerate() {
            s.push_str(&format!(
                "  {}. {} {}\n",
                i + 1,
                step.detail,
                format_duration(step.duration)
            ));
        }
    }
    for w in &build.warnings {
        s.push_str(&format!("warning: {w}\n"));
    }
    for d in &build.diagnostics {
        s.push_str(&format!("{} (from {})\n", d.diagnostic, d.step));
    }
    s
}

/// Writes objects as a YAML stream (`yaml`) or a JSON list (`json`).
pub fn render_output(objects: &[Value], json: bool) -> String {
    if json {
        let mut text = serde_json::to_string_pretty(objects).unwrap_or_else(|_| "[]".to_owned());
        text.push('\n');
        text
    } else {
        let mut text = capstan_yaml::to_stream(objects);
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text
    }
}

/// `path` against `base` when relative, with `.` and `..` folded lexically (for messages).
pub fn resolve_relative(base: &Path, path: &str) -> PathBuf {
    use std::path::Component;
    let p = Path::new(path);
    let joined = if p.is_absolute() {
        p.to_owned()
    } else {
        base.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

#[cfg(test)]
mod tests;
