//! The `helm template` entry point: options as the CLI takes them, value assembly from files and
//! `--set` flags, and the final manifest stream.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::chart::{Chart, ChartFile};
use crate::error::{Error, Result};
use crate::objects::{Capabilities, KubeVersion};
use crate::output::{Hook, Manifest, show_only};
use crate::render::{Release, render_templates};
use crate::values::{Values, coalesce_values, merge_maps, process_dependencies};
use crate::version::HelmVersion;
use crate::{schema, strvals, yaml};

/// Everything `helm template` accepts that affects its output.
#[derive(Debug, Clone, Default)]
pub struct TemplateOptions {
    /// Release name (`release-name` when empty).
    pub release_name: String,
    /// Namespace (`default` when empty).
    pub namespace: String,
    /// Chart directory or `.tgz`.
    pub chart: PathBuf,
    /// `-f/--values` files, in order.
    pub value_files: Vec<PathBuf>,
    /// `--set` arguments, in order.
    pub set: Vec<String>,
    /// `--set-string` arguments, in order.
    pub set_string: Vec<String>,
    /// `--set-file` arguments, in order.
    pub set_file: Vec<String>,
    /// `--set-json` arguments, in order.
    pub set_json: Vec<String>,
    /// `--set-literal` arguments, in order.
    pub set_literal: Vec<String>,
    /// `--kube-version` (e.g. `1.30.0` or `v1.30`).
    pub kube_version: Option<String>,
    /// `--api-versions`, added to the defaults.
    pub api_versions: Vec<String>,
    /// `--include-crds`.
    pub include_crds: bool,
    /// `--skip-tests`.
    pub skip_tests: bool,
    /// `--no-hooks`.
    pub no_hooks: bool,
    /// `--show-only` patterns.
    pub show_only: Vec<String>,
    /// `--is-upgrade`: render as an upgrade (`.Release.IsUpgrade`, not `IsInstall`).
    pub is_upgrade: bool,
    /// `--skip-schema-validation`: ignore `values.schema.json`.
    pub skip_schema_validation: bool,
    /// `--repo`: the chart repository `chart` is a chart name in (a remote chart).
    pub repo: Option<String>,
    /// `--version`: the version constraint for a remote chart (latest when absent).
    pub version: Option<String>,
    /// `--helm-version 3|4` (Capstan's flag): render exactly as helm 3.17.3 or helm 4.1.4
    /// `template` does, error messages included.
    pub helm_version: HelmVersion,
}

/// A rendered release: what `helm install --dry-run` would hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// CRD files of the chart tree (`crds/`), in Helm's order.
    pub crds: Vec<ChartFile>,
    /// Plain manifests, sorted in install order.
    pub manifests: Vec<Manifest>,
    /// Hooks (including tests), sorted by kind.
    pub hooks: Vec<Hook>,
    /// Rendered `NOTES.txt` of the top chart (empty when there is none).
    pub notes: String,
}

impl Rendered {
    /// The release manifest as Helm stores it: CRDs (when asked) then manifests.
    pub fn manifest(&self, include_crds: bool) -> String {
        let mut b = String::new();
        self.write_manifest(include_crds, &mut b);
        b
    }

    /// [`Rendered::manifest`], appended to `b` (sized once: CRDs can be megabytes).
    fn write_manifest(&self, include_crds: bool, b: &mut String) {
        const SOURCE: &str = "---\n# Source: ";
        let crds = if include_crds { &self.crds[..] } else { &[] };
        let size: usize = crds
            .iter()
            .map(|c| c.name.len() + c.data.len())
            .chain(
                self.manifests
                    .iter()
                    .map(|m| m.name.len() + m.content.len()),
            )
            .map(|n| n + SOURCE.len() + 2)
            .sum();
        b.reserve(size);
        for crd in crds {
            b.push_str(SOURCE);
            b.push_str(&crd.name);
            b.push('\n');
            b.push_str(&crate::chart::file_text(&crd.data));
            b.push('\n');
        }
        for m in &self.manifests {
            b.push_str(SOURCE);
            b.push_str(&m.name);
            b.push('\n');
            b.push_str(&m.content);
            b.push('\n');
        }
    }
}

/// Merges values the way Helm's `values.Options.MergeValues` does: files in order, then
/// `--set-json`, `--set`, `--set-string`, `--set-file`, `--set-literal`.
pub fn merge_user_values(opts: &TemplateOptions) -> Result<Values> {
    let mut base = Values::new();
    for f in &opts.value_files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| Error::ReadValues(format!("open {}: {}", f.display(), io_reason(&e))))?;
        let parsed = yaml::parse_json_like(&text).map_err(|e| {
            Error::ReadValues(format!(
                "failed to parse {}: error converting YAML to JSON: {e}",
                f.display()
            ))
        })?;
        let map = match parsed {
            serde_json::Value::Object(m) => m,
            serde_json::Value::Null => Values::new(),
            _ => {
                return Err(Error::ReadValues(format!(
                    "failed to parse {}: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {{}}",
                    f.display()
                )));
            }
        };
        base = merge_maps(&base, &map);
    }
    for s in &opts.set_json {
        strvals::parse_set_json(s, &mut base)
            .map_err(|e| Error::ParseSet(format!("failed parsing --set-json data {s}: {e}")))?;
    }
    for s in &opts.set {
        strvals::parse_set(s, &mut base)
            .map_err(|e| Error::ParseSet(format!("failed parsing --set data: {e}")))?;
    }
    for s in &opts.set_string {
        strvals::parse_set_string(s, &mut base)
            .map_err(|e| Error::ParseSet(format!("failed parsing --set-string data: {e}")))?;
    }
    for s in &opts.set_file {
        let read = |p: &str| {
            std::fs::read_to_string(p).map_err(|e| format!("open {p}: {}", io_reason(&e)))
        };
        strvals::parse_set_file(s, &mut base, &read)
            .map_err(|e| Error::ParseSet(format!("failed parsing --set-file data: {e}")))?;
    }
    for s in &opts.set_literal {
        strvals::parse_set_literal(s, &mut base)
            .map_err(|e| Error::ParseSet(format!("failed parsing --set-literal data: {e}")))?;
    }
    Ok(base)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

fn check_dependencies(chart: &Chart, helm: HelmVersion) -> Result<()> {
    let missing: Vec<&str> = chart
        .metadata
        .dependencies
        .iter()
        .filter(|d| !chart.dependencies.iter().any(|c| c.name() == d.name))
        .map(|d| d.name.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let an = match helm {
        HelmVersion::V3 => "An",
        HelmVersion::V4 => "an",
    };
    Err(Error::CheckDependencies(format!(
        "{an} error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: {}",
        missing.join(", ")
    )))
}

fn validate_release_name(name: &str, helm: HelmVersion) -> Result<()> {
    const PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
    // PATTERN, checked by hand: dot-separated labels of `[-a-z0-9]`, each starting and ending
    // with `[a-z0-9]` (compiling the regex cost more than a small chart's whole render).
    let label = |l: &str| {
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let b = l.as_bytes();
        b.first().is_some_and(|c| alnum(*c))
            && b.last().is_some_and(|c| alnum(*c))
            && b.iter().all(|c| alnum(*c) || *c == b'-')
    };
    let valid = name.len() <= 53 && name.split('.').all(label);
    if valid {
        return Ok(());
    }
    let prefix = match helm {
        HelmVersion::V3 => "",
        HelmVersion::V4 => "release name check failed: ",
    };
    Err(Error::ValidateReleaseName(format!(
        "{prefix}release name {}: invalid release name, must match regex {PATTERN} and the length must not be longer than 53",
        capstan_gotmpl::go_quote(name)
    )))
}

/// The CRD files of the chart tree, in Helm's order; their bytes are moved out of `chart`
/// (the render's own copy, no longer needed).
fn crds_of(chart: &mut Chart, out: &mut Vec<ChartFile>, prefix: &str) {
    let full = if prefix.is_empty() {
        chart.name().to_owned()
    } else {
        format!("{prefix}/charts/{}", chart.name())
    };
    for f in chart.crd_files_mut() {
        out.push(ChartFile {
            name: format!("{full}/{}", f.name),
            data: std::mem::take(&mut f.data),
        });
    }
    for d in &mut chart.dependencies {
        crds_of(d, out, &full);
    }
}

/// Renders a loaded chart with already-merged user values (files and `--set` applied): processes
/// dependencies, coalesces with chart defaults, validates schemas and renders every template.
pub fn render(
    chart: &Chart,
    user_values: &Values,
    release: &Release,
    caps: &Capabilities,
) -> Result<Rendered> {
    render_inner(chart.clone(), user_values, release, caps, true)
}

/// [`render`] of a chart the render may consume (dependencies are resolved in place).
fn render_inner(
    mut chart: Chart,
    user_values: &Values,
    release: &Release,
    caps: &Capabilities,
    validate_schema: bool,
) -> Result<Rendered> {
    if !chart.metadata.dependencies.is_empty() {
        check_dependencies(&chart, caps.helm)?;
    }
    if chart.metadata.is_library() {
        return Err(Error::CheckInstallable(
            "library charts are not installable".to_owned(),
        ));
    }
    process_dependencies(&mut chart, user_values, caps.helm).map_err(Error::CoalesceValues)?;
    if !chart.metadata.kube_version.is_empty()
        && !capstan_semver::is_compatible_range(
            &chart.metadata.kube_version,
            &caps.kube_version.normalized,
            caps.helm.semver(),
        )
    {
        return Err(Error::CheckKubeVersion(format!(
            "chart requires kubeVersion: {} which is incompatible with Kubernetes {}",
            chart.metadata.kube_version, caps.kube_version.normalized
        )));
    }
    let values = coalesce_values(&chart, user_values).map_err(Error::CoalesceValues)?;
    let schema_errors = if validate_schema {
        schema::validate_chart_tree(&chart, &values, caps.helm)
    } else {
        String::new()
    };
    if !schema_errors.is_empty() {
        return Err(Error::ValidateSchema(schema_errors));
    }
    let files = render_templates(&mut chart, &values, release, caps)?;
    let notes_name = format!("{}/templates/NOTES.txt", chart.name());
    let notes = files.get(&notes_name).cloned().unwrap_or_default();
    let files: BTreeMap<String, String> = files
        .into_iter()
        .filter(|(k, _)| !k.ends_with("NOTES.txt"))
        .collect();
    let (hooks, manifests) = crate::output::sort_manifests_for(&files, caps.helm)?;
    let mut crds = Vec::new();
    crds_of(&mut chart, &mut crds, "");
    Ok(Rendered {
        crds,
        manifests,
        hooks,
        notes,
    })
}

/// Helm's `LocateChart` for local charts: the absolute path, or Helm's error for a name that
/// is neither an existing path nor something a repository could serve.
fn locate_chart(chart: &std::path::Path) -> Result<PathBuf> {
    if chart.exists() {
        return Ok(std::path::absolute(chart).unwrap_or_else(|_| chart.to_owned()));
    }
    let name = chart.to_string_lossy();
    let message = if chart.is_absolute() || name.starts_with('.') {
        format!("path {name:?} not found")
    } else if let Some((repo, _)) = name.split_once('/') {
        format!("repo {repo} not found")
    } else {
        format!("non-absolute URLs should be in form of repo_name/path_to_chart, got: {name}")
    };
    Err(Error::LocateChart(message))
}

/// A chart `helm template` would download: `(repository, chart name, version constraint)` for
/// `--repo URL CHART` and for `oci://…` references (name empty: the reference names the chart).
pub fn remote_chart(opts: &TemplateOptions) -> Option<(String, String, String)> {
    let chart = opts.chart.to_string_lossy().into_owned();
    let version = opts.version.clone().unwrap_or_default();
    match &opts.repo {
        Some(repo) => Some((repo.clone(), chart, version)),
        None if chart.starts_with("oci://") => Some((chart, String::new(), version)),
        None => None,
    }
}

/// `helm template`: the exact bytes it prints on stdout, or the error it prints. Remote charts
/// ([`remote_chart`]) must be fetched by the caller and rendered with [`template_chart`].
pub fn template(opts: &TemplateOptions) -> Result<String> {
    if let Some((repo, chart, _)) = remote_chart(opts) {
        return Err(Error::LocateChart(format!(
            "{repo} {chart}: remote charts are fetched by the caller (capstan template does); \
             render the downloaded archive with template_chart"
        )));
    }
    // Helm's order: --kube-version, locate the chart, values (read again by `template_chart`;
    // a bad values file must win over a bad chart), load, then the checks.
    check_kube_version(opts)?;
    let chart_path = locate_chart(&opts.chart)?;
    merge_user_values(opts)?;
    let chart =
        Chart::load(&chart_path).map_err(|e| Error::LoadChart(e.for_helm(opts.helm_version)))?;
    template_owned(opts, chart)
}

fn check_kube_version(opts: &TemplateOptions) -> Result<Option<KubeVersion>> {
    let Some(kv) = &opts.kube_version else {
        return Ok(None);
    };
    KubeVersion::parse(kv, opts.helm_version)
        .map(Some)
        .map_err(|e| Error::ParseKubeVersion(format!("invalid kube version '{kv}': {e}")))
}

/// `helm template` of an already loaded chart (a local one, or a downloaded archive): the
/// bytes it prints, or its error.
pub fn template_chart(opts: &TemplateOptions, chart: &Chart) -> Result<String> {
    template_owned(opts, chart.clone())
}

/// [`template_chart`] of a chart it may consume.
fn template_owned(opts: &TemplateOptions, chart: Chart) -> Result<String> {
    let name = if opts.release_name.is_empty() {
        "release-name"
    } else {
        opts.release_name.as_str()
    };
    // After loading, Helm checks: installable, dependencies, then the release name.
    let helm = opts.helm_version;
    let mut caps = Capabilities::for_helm(helm);
    if let Some(kv) = check_kube_version(opts)? {
        caps.kube_version = kv;
    }
    let user = merge_user_values(opts)?;
    if chart.metadata.is_library() {
        return Err(Error::CheckInstallable(
            "library charts are not installable".to_owned(),
        ));
    }
    if !chart.metadata.dependencies.is_empty() {
        check_dependencies(&chart, helm)?;
    }
    validate_release_name(name, helm)?;
    for api in &opts.api_versions {
        caps.api_versions.push(api.clone());
    }
    let release = Release {
        name: name.to_owned(),
        namespace: if opts.namespace.is_empty() {
            "default".to_owned()
        } else {
            opts.namespace.clone()
        },
        is_upgrade: opts.is_upgrade,
        is_install: !opts.is_upgrade,
        ..Release::default()
    };
    let rendered = render_inner(chart, &user, &release, &caps, !opts.skip_schema_validation)?;
    let mut out = String::new();
    rendered.write_manifest(opts.include_crds, &mut out);
    trim_in_place(&mut out);
    out.push('\n');
    if !opts.no_hooks {
        for h in &rendered.hooks {
            if opts.skip_tests && h.is_test() {
                continue;
            }
            out.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.manifest));
        }
    }
    if !opts.show_only.is_empty() {
        return show_only(&out, &opts.show_only);
    }
    Ok(out)
}

/// `*s = s.trim()` without a copy of the (possibly large) text.
fn trim_in_place(s: &mut String) {
    s.truncate(s.trim_end().len());
    let start = s.len() - s.trim_start().len();
    s.drain(..start);
}

/// Parses `helm template` arguments (`[NAME] CHART` plus the flags [`TemplateOptions`] covers,
/// `--flag value` or `--flag=value`), for CLIs and tests that mirror Helm's command line.
pub fn parse_template_args(args: &[String]) -> std::result::Result<TemplateOptions, String> {
    let mut opts = TemplateOptions::default();
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f.to_owned(), Some(v.to_owned())),
            _ => (a.clone(), None),
        };
        let value = |i: &mut usize| -> std::result::Result<String, String> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            *i += 1;
            args.get(*i)
                .cloned()
                .ok_or_else(|| format!("flag needs an argument: {flag}"))
        };
        match flag.as_str() {
            "-n" | "--namespace" => opts.namespace = value(&mut i)?,
            "-f" | "--values" => {
                for v in value(&mut i)?.split(',') {
                    opts.value_files.push(PathBuf::from(v));
                }
            }
            "--set" => opts.set.push(value(&mut i)?),
            "--set-string" => opts.set_string.push(value(&mut i)?),
            "--set-file" => opts.set_file.push(value(&mut i)?),
            "--set-json" => opts.set_json.push(value(&mut i)?),
            "--set-literal" => opts.set_literal.push(value(&mut i)?),
            "--kube-version" => opts.kube_version = Some(value(&mut i)?),
            "-a" | "--api-versions" => {
                for v in value(&mut i)?.split(',') {
                    opts.api_versions.push(v.to_owned());
                }
            }
            "--include-crds" => opts.include_crds = inline.as_deref() != Some("false"),
            "--skip-tests" => opts.skip_tests = inline.as_deref() != Some("false"),
            "--no-hooks" => opts.no_hooks = inline.as_deref() != Some("false"),
            "--is-upgrade" => opts.is_upgrade = inline.as_deref() != Some("false"),
            "-s" | "--show-only" => {
                for v in value(&mut i)?.split(',') {
                    opts.show_only.push(v.to_owned());
                }
            }
            // Flags that do not change `helm template`'s output.
            "--create-namespace"
            | "--wait"
            | "--wait-for-jobs"
            | "--atomic"
            | "--skip-crds"
            | "--dependency-update"
            | "--disable-openapi-validation"
            | "--replace"
            | "--debug"
            | "--render-subchart-notes"
            | "--enable-dns"
            | "--dry-run"
            | "--release-name" => {}
            "--skip-schema-validation" => {
                opts.skip_schema_validation = inline.as_deref() != Some("false");
            }
            "--repo" => opts.repo = Some(value(&mut i)?),
            "--version" => opts.version = Some(value(&mut i)?),
            "--helm-version" => {
                let v = value(&mut i)?;
                opts.helm_version = HelmVersion::parse(&v).ok_or_else(|| {
                    format!("invalid argument {v:?} for \"--helm-version\" flag: must be 3 or 4")
                })?;
            }
            "--timeout" | "--description" => {
                value(&mut i)?;
            }
            f if f.starts_with('-') => return Err(format!("unknown flag: {f}")),
            _ => positional.push(a.clone()),
        }
        i += 1;
    }
    match positional.as_slice() {
        [chart] => opts.chart = PathBuf::from(chart),
        [name, chart] => {
            opts.release_name = name.clone();
            opts.chart = PathBuf::from(chart);
        }
        _ => {
            return Err(format!(
                "expected [NAME] CHART, got {} arguments",
                positional.len()
            ));
        }
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locate_err(p: &str) -> String {
        locate_chart(std::path::Path::new(p))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn missing_charts_are_reported_like_helm() {
        assert_eq!(locate_err("./nope"), "path \"./nope\" not found");
        assert_eq!(locate_err("/abs/nope"), "path \"/abs/nope\" not found");
        assert_eq!(locate_err("nope/x"), "repo nope not found");
        assert_eq!(
            locate_err("nope"),
            "non-absolute URLs should be in form of repo_name/path_to_chart, got: nope"
        );
    }

    #[test]
    fn release_names_are_checked_like_helms_regex() {
        let re =
            regex::Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
                .expect("pattern compiles");
        for name in [
            "a",
            "rel",
            "my-rel",
            "a.b",
            "a-b.c-d.e",
            "0",
            "1-2",
            "",
            "-a",
            "a-",
            "a..b",
            ".a",
            "a.",
            "A",
            "a_b",
            "a.-b",
            "a b",
            "a\n",
            "ä",
            &"a".repeat(53),
            &"a".repeat(54),
        ] {
            let expected = name.len() <= 53 && re.is_match(name);
            assert_eq!(
                validate_release_name(name, HelmVersion::V3).is_ok(),
                expected,
                "{name:?}"
            );
        }
    }

    #[test]
    fn args_parse_like_helm_flags() -> std::result::Result<(), String> {
        let args: Vec<String> = [
            "rel",
            "chart",
            "-n=ns",
            "--set",
            "a=1",
            "-f",
            "x.yaml,y.yaml",
            "--include-crds",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let o = parse_template_args(&args)?;
        assert_eq!(o.release_name, "rel");
        assert_eq!(o.namespace, "ns");
        assert_eq!(o.set, ["a=1"]);
        assert_eq!(o.value_files.len(), 2);
        assert!(o.include_crds);
        assert!(parse_template_args(&["--bogus".to_owned()]).is_err());
        Ok(())
    }
}
