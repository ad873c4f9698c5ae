//! `capstan template`: `helm template`'s flags, output and errors (3.17.3 or, with
//! `--helm-version 4`, 4.1.4), plus what a Capstan user previews before writing a HelmRelease:
//! remote charts (`--repo URL CHART --version V`, `oci://…`) fetched the way `capstan build`
//! fetches them, and a post-render chain (`--plugin P.wasm [--config C.yaml]`, repeatable)
//! applied to the rendered stream. Never prints partial output.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use capstan_sdk::Context;
use capstan_wasm::Limits;

use super::EXIT_DENIED;

/// `capstan template --help`.
const USAGE: &str = "\
Render chart templates locally and display the output, byte for byte as `helm template` does.

Usage:
  capstan template [NAME] [CHART] [flags]

CHART is a chart directory, a packaged chart (.tgz), a chart name with --repo, or an oci://
reference.

Flags:
  -a, --api-versions strings      Kubernetes api versions used for Capabilities.APIVersions
      --config string             config (YAML or JSON) for the preceding --plugin
  -h, --help                      help for template
      --helm-version string       render as helm 3 (3.17.3) or helm 4 (4.1.4) does (default \"3\")
      --include-crds              include CRDs in the templated output
      --is-upgrade                set .Release.IsUpgrade instead of .Release.IsInstall
      --kube-version string       Kubernetes version used for Capabilities.KubeVersion
  -n, --namespace string          namespace scope for this request
      --no-hooks                  prevent hooks from running during install
      --plugin string             a post-render transform (.wasm component) applied to the output;
                                  repeat for a chain, applied in order
      --repo string               chart repository url where to locate the requested chart
      --set stringArray           set values on the command line (can specify multiple or separate
                                  values with commas: key1=val1,key2=val2)
      --set-file stringArray      set values from respective files specified via the command line
      --set-json stringArray      set JSON values on the command line
      --set-literal stringArray   set a literal STRING value on the command line
      --set-string stringArray    set STRING values on the command line
  -s, --show-only stringArray     only show manifests rendered from the given templates
      --skip-schema-validation    if set, disables JSON schema validation
      --skip-tests                skip tests from templated output
  -f, --values strings            specify values in a YAML file (can specify multiple)
      --version string            specify a version constraint for the chart version to use. If
                                  this is not specified, the latest version is used

Flags helm accepts that do not change the output (--atomic, --wait, --timeout, --dry-run, …)
are accepted and ignored.
";

/// `--plugin` modules in order, each with its `--config`.
type Chain = Vec<(PathBuf, Option<PathBuf>)>;

/// `capstan template ARGS…`.
pub(super) fn template(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let (helm_args, chain) = match split_chain(args) {
        Ok(split) => split,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(1);
        }
    };
    let opts = match capstan_helm::parse_template_args(&helm_args) {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(1);
        }
    };
    let (rendered, chart) = match render(&opts) {
        Ok(ok) => ok,
        Err(Failure::Helm(e)) => {
            eprint!("{}", e.helm_output());
            return ExitCode::from(1);
        }
        Err(Failure::Other(e)) => {
            eprintln!("Error: {e:#}");
            return ExitCode::from(1);
        }
    };
    let out = if chain.is_empty() {
        rendered
    } else {
        match post_render(&opts, chart.as_ref(), &chain, &rendered) {
            Ok(text) => text,
            Err(err) => {
                eprintln!("Error: {err:#}");
                let denied = err.chain().any(|e| {
                    e.downcast_ref::<crate::postrender::Error>()
                        .is_some_and(|e| e.denial().is_some())
                });
                return ExitCode::from(if denied { EXIT_DENIED } else { 1 });
            }
        }
    };
    if std::io::stdout().lock().write_all(out.as_bytes()).is_err() {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

enum Failure {
    /// Printed exactly as helm prints it.
    Helm(capstan_helm::Error),
    /// Fetching or loading a remote chart.
    Other(anyhow::Error),
}

/// Renders a local chart, or fetches a remote one (`--repo`, `oci://`) and renders it. Returns
/// the loaded chart too when it was loaded here (remote charts), for the chain's context.
fn render(
    opts: &capstan_helm::TemplateOptions,
) -> Result<(String, Option<capstan_helm::Chart>), Failure> {
    let Some((repo, name, version)) = capstan_helm::remote_chart(opts) else {
        return capstan_helm::template(opts)
            .map(|s| (s, None))
            .map_err(Failure::Helm);
    };
    let options = capstan_source::FetchOptions {
        cache: capstan_source::Cache::default_root().map(capstan_source::Cache::new),
        ..capstan_source::FetchOptions::default()
    };
    let fetched = capstan_source::fetch_chart(&repo, &name, &version, &options)
        .map_err(|e| Failure::Other(anyhow::Error::new(e)))?;
    let chart = capstan_helm::Chart::from_archive(&fetched.bytes, &fetched.location)
        .map_err(|e| Failure::Helm(capstan_helm::Error::LoadChart(e)))?;
    capstan_helm::template_chart(opts, &chart)
        .map(|s| (s, Some(chart)))
        .map_err(Failure::Helm)
}

/// Separates Capstan's `--plugin`/`--config` flags from helm's, pairing each `--config` with
/// the `--plugin` before it.
fn split_chain(args: &[String]) -> anyhow::Result<(Vec<String>, Chain)> {
    let mut helm = Vec::new();
    let mut chain: Chain = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f == "--plugin" || f == "--config" => (f, Some(v.to_owned())),
            _ => (a.as_str(), None),
        };
        if flag != "--plugin" && flag != "--config" {
            helm.push(a.clone());
            continue;
        }
        let Some(value) = inline.or_else(|| it.next().cloned()) else {
            anyhow::bail!("flag needs an argument: {flag}");
        };
        if flag == "--plugin" {
            chain.push((PathBuf::from(value), None));
            continue;
        }
        match chain.last_mut() {
            None => anyhow::bail!("--config {value} comes before any --plugin"),
            Some((plugin, Some(_))) => {
                anyhow::bail!("--plugin {} has more than one --config", plugin.display())
            }
            Some((_, config)) => *config = Some(PathBuf::from(value)),
        }
    }
    Ok((helm, chain))
}

/// Runs the rendered stream through the chain, with the release and chart as context.
fn post_render(
    opts: &capstan_helm::TemplateOptions,
    chart: Option<&capstan_helm::Chart>,
    chain: &[(PathBuf, Option<PathBuf>)],
    rendered: &str,
) -> anyhow::Result<String> {
    let pipeline = super::load_chain(chain, Limits::default(), None)?;
    let loaded;
    let chart = match chart {
        Some(c) => Some(c),
        None => {
            loaded = capstan_helm::Chart::load(&opts.chart).ok();
            loaded.as_ref()
        }
    };
    let or = |s: &str, default: &str| {
        if s.is_empty() {
            default.to_owned()
        } else {
            s.to_owned()
        }
    };
    let ctx = Context {
        release_name: or(&opts.release_name, "release-name"),
        release_namespace: or(&opts.namespace, "default"),
        chart_name: chart.map(|c| c.name().to_owned()).unwrap_or_default(),
        chart_version: chart
            .map(|c| c.metadata.version.clone())
            .unwrap_or_default(),
        plugin_name: String::new(),
    };
    super::run_chain(pipeline.run_stream(&ctx, rendered))
}
