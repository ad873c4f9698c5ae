//! The `capstan` command line. Thin: parses arguments, calls the library, prints results, and maps
//! failures to exit codes (1 error, 2 usage, 3 denied by a post-renderer).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use capstan_sdk::Context;
use capstan_wasm::{Limits, Runtime};
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde_json::Value;

use crate::postrender::{Pipeline, PostRenderer, StepDiagnostic};

mod template;

/// Exit code for a release denied by a post-renderer.
pub const EXIT_DENIED: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "capstan",
    version,
    about = "HelmRelease reconciler with sandboxed WebAssembly post-renderers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a manifest stream through Wasm transforms and print the result.
    Transform(TransformArgs),
    /// Build and scaffold transform plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Build a HelmRelease offline: fetch, render, post-render, print the objects it would apply.
    Build(BuildArgs),
    /// Reconcile HelmReleases on a Kubernetes API (kubeconfig from the environment or the
    /// in-cluster service account).
    Controller(crate::controller::ControllerArgs),
    /// Print the CustomResourceDefinitions of Capstan's kinds (what `deploy/crds/` holds).
    Crds,
    /// Render a chart exactly as `helm template` does (same flags, same bytes).
    #[command(disable_help_flag = true)]
    Template {
        /// `[NAME] CHART [flags]`, as for `helm template`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Debug, clap::Args)]
struct TransformArgs {
    /// Manifest stream to read (`-` for stdin).
    #[arg(short = 'f', long = "filename", default_value = "-")]
    file: PathBuf,
    /// A transform (`.wasm` component); repeat for a chain, applied in order.
    #[arg(long = "plugin", value_name = "PATH.wasm")]
    plugins: Vec<PathBuf>,
    /// Config (YAML or JSON) for the preceding `--plugin`.
    #[arg(long = "config", value_name = "FILE")]
    configs: Vec<PathBuf>,
    /// Release name passed to transforms.
    #[arg(long, default_value = "release")]
    release_name: String,
    /// Release namespace passed to transforms; the output guard keeps objects in it (and takes
    /// it as the tenant).
    #[arg(
        short = 'n',
        long,
        visible_alias = "release-namespace",
        default_value = "default"
    )]
    namespace: String,
    /// Chart name passed to transforms.
    #[arg(long, default_value = "")]
    chart_name: String,
    /// Chart version passed to transforms.
    #[arg(long, default_value = "")]
    chart_version: String,
    /// Per-call timeout for every plugin, e.g. `500ms`, `2s`.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    timeout: std::time::Duration,
    /// Memory limit for every plugin, in MiB.
    #[arg(long, default_value_t = Limits::DEFAULT_MEMORY >> 20)]
    memory_mib: u64,
    /// Keep compiled modules here (default: `$XDG_CACHE_HOME/capstan/modules`; `none` to disable).
    #[arg(long)]
    cache_dir: Option<String>,
    #[command(flatten)]
    guard: GuardArgs,
}

/// The output guard's policy, as the controller takes it.
#[derive(Debug, clap::Args)]
struct GuardArgs {
    /// Tenants (HelmRelease namespaces; `*` for all) whose post-renderers may add cluster-scoped
    /// objects; none by default.
    #[arg(long, value_delimiter = ',', value_name = "NAMESPACES")]
    allow_cluster_scoped_namespaces: Vec<String>,
    /// Hold the chart's own cluster-scoped objects (ClusterRoles, CRDs, webhooks…) to the same
    /// list: releases of other tenants may not install any (by default only what
    /// post-renderers add is held to it, as Helm and Flux leave charts to RBAC).
    #[arg(long)]
    guard_chart_objects: bool,
}

impl GuardArgs {
    fn policy(&self) -> capstan_engine::GuardPolicy {
        capstan_engine::GuardPolicy::allowing_cluster_scoped(
            self.allow_cluster_scoped_namespaces.iter().cloned(),
        )
        .with_chart_objects(self.guard_chart_objects)
    }
}

#[derive(Debug, clap::Args)]
struct BuildArgs {
    /// Files with the HelmRelease and what it refers to (WasmPlugins, Flux sources, ConfigMaps,
    /// Secrets); repeatable.
    #[arg(short = 'f', long = "filename", required = true)]
    files: Vec<PathBuf>,
    /// Directory of `<plugin name>.wasm` modules (e.g. from `capstan plugin build`).
    #[arg(long)]
    plugin_dir: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "yaml")]
    output: BuildOutput,
    /// Cache for charts, modules and compiled modules (default `$XDG_CACHE_HOME/capstan`;
    /// `none` to disable).
    #[arg(long)]
    cache_dir: Option<String>,
    /// Render charts with Helm 4 (4.1.4, as Flux's helm-controller does) or Helm 3 (3.17.3)
    /// rules.
    #[arg(long, value_name = "3|4", default_value = "4", value_parser = parse_helm_version)]
    helm_version: capstan_engine::HelmVersion,
    #[command(flatten)]
    guard: GuardArgs,
}

/// `--helm-version`: `3` or `4` (a leading `v` is accepted).
pub(crate) fn parse_helm_version(s: &str) -> Result<capstan_engine::HelmVersion, String> {
    capstan_engine::HelmVersion::parse(s)
        .ok_or_else(|| format!("{s:?} is not a Helm major version; use 3 or 4"))
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum BuildOutput {
    Yaml,
    Json,
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Build transform crates to Wasm components: OUTDIR/<name>.wasm.
    Build {
        /// Crate directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where to write the components.
        #[arg(short = 'o', long = "out-dir", default_value = "target/plugins")]
        out_dir: PathBuf,
    },
    /// Scaffold a new transform crate.
    New {
        /// Plugin (crate) name.
        name: String,
        /// Parent directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Path to the capstan-sdk crate (default: the SDK this binary was built from).
        #[arg(long)]
        sdk_path: Option<PathBuf>,
    },
}

/// A Go duration (`500ms`, `2s`, `1m30s`), read by the API's parser; positive and at most the
/// largest plugin timeout.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let max = capstan_api::PluginLimits::MAX_TIMEOUT;
    match capstan_api::parse_duration(s) {
        Ok(d) if d.is_zero() => Err(format!("duration must be positive: {s:?}")),
        Ok(d) if d > max => Err(format!(
            "duration {s:?} is longer than the largest plugin timeout, {}s",
            max.as_secs()
        )),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs the command line; the process exit code.
pub fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Transform(args) => {
            let sub = matches
                .subcommand_matches("transform")
                .cloned()
                .unwrap_or_default();
            transform(&args, &sub)
        }
        Command::Plugin(cmd) => plugin(cmd),
        Command::Build(args) => build(&args),
        Command::Crds => crds(),
        Command::Controller(args) => crate::controller::run(&args),
        Command::Template { args } => return template::template(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("Error: {err:#}");
            let denied = err.chain().any(|e| {
                e.downcast_ref::<crate::postrender::Error>()
                    .is_some_and(|e| e.denial().is_some())
            });
            ExitCode::from(if denied { EXIT_DENIED } else { 1 })
        }
    }
}

/// Pairs each `--config` with the `--plugin` before it, using argument positions.
fn plugin_configs(
    args: &TransformArgs,
    matches: &ArgMatches,
) -> anyhow::Result<Vec<(PathBuf, Option<PathBuf>)>> {
    let plugin_idx: Vec<usize> = matches
        .indices_of("plugins")
        .map(Iterator::collect)
        .unwrap_or_default();
    let config_idx: Vec<usize> = matches
        .indices_of("configs")
        .map(Iterator::collect)
        .unwrap_or_default();
    let mut pairs: Vec<(PathBuf, Option<PathBuf>)> =
        args.plugins.iter().map(|p| (p.clone(), None)).collect();
    for (ci, &pos) in config_idx.iter().enumerate() {
        let owner = plugin_idx.iter().rposition(|&p| p < pos);
        let Some(owner) = owner else {
            bail!(
                "--config {} comes before any --plugin",
                args.configs[ci].display()
            );
        };
        if pairs[owner].1.is_some() {
            bail!(
                "--plugin {} has more than one --config",
                pairs[owner].0.display()
            );
        }
        pairs[owner].1 = Some(args.configs[ci].clone());
    }
    Ok(pairs)
}

/// The runtime for CLI use, with the default on-disk cache unless disabled.
/// `CAPSTAN_PERF_MAP=1` writes `/tmp/perf-<pid>.map`, so `perf record` of a `capstan transform`
/// names the plugins' functions (profiling a plugin; `docs/benchmarks.md`).
pub fn runtime(cache_dir: Option<&str>) -> anyhow::Result<Runtime> {
    let dir = match cache_dir {
        Some("none") => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => default_cache_dir(),
    };
    let builder = Runtime::builder().perf_map(std::env::var_os("CAPSTAN_PERF_MAP").is_some());
    let builder = match dir {
        Some(dir) => builder.cache_dir(dir),
        None => builder,
    };
    Ok(builder.build()?)
}

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("capstan").join("modules"))
}

/// The post-render chain of `--plugin P.wasm [--config C.yaml]` pairs, in order, with each
/// config validated by its plugin (diagnostics printed on stderr).
fn load_chain(
    pairs: &[(PathBuf, Option<PathBuf>)],
    limits: Limits,
    cache_dir: Option<&str>,
) -> anyhow::Result<Pipeline> {
    let mut steps = Vec::new();
    if !pairs.is_empty() {
        let rt = runtime(cache_dir)?;
        for (path, config) in pairs {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let plugin = rt.load_file(&name, path, limits)?;
            let config = config
                .as_deref()
                .map(read_config)
                .transpose()?
                .unwrap_or(Value::Null);
            steps.push(PostRenderer::wasm(plugin, config));
        }
    }
    let pipeline = Pipeline::new(steps);
    let mut stderr = std::io::stderr().lock();
    for d in pipeline.validate()? {
        print_diagnostic(&mut stderr, &d);
    }
    Ok(pipeline)
}

/// What a run of the chain gave: denials and diagnostics go to stderr, one per line.
fn run_chain(
    ran: capstan_engine::postrender::Result<(String, capstan_engine::postrender::StreamOutput)>,
) -> anyhow::Result<String> {
    let mut stderr = std::io::stderr().lock();
    let (text, output) = match ran {
        Ok(ok) => ok,
        Err(err) => {
            if let Some(diags) = err.denial() {
                for d in diags {
                    let _ = writeln!(stderr, "{d}");
                }
            }
            return Err(err.into());
        }
    };
    for d in &output.diagnostics {
        print_diagnostic(&mut stderr, d);
    }
    Ok(text)
}

/// Reads a config file (YAML or JSON) into a value.
pub fn read_config(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config {}", path.display()))?;
    capstan_yaml::parse_one(&text)
        .with_context(|| format!("config {} is not valid YAML", path.display()))
}

fn read_input(file: &Path) -> anyhow::Result<String> {
    if file == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read stdin")?;
        Ok(s)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
    }
}

fn transform(args: &TransformArgs, matches: &ArgMatches) -> anyhow::Result<ExitCode> {
    let pairs = plugin_configs(args, matches)?;
    let limits = Limits {
        memory_bytes: args.memory_mib << 20,
        timeout: args.timeout,
        ..Limits::default()
    };
    // Loading the chain (the engine, each module from the disk cache) and reading the input are
    // independent, so they overlap. Errors are reported in the order the work is listed: the
    // input unreadable, then a plugin that cannot load, then input that is not YAML.
    let (loaded, input) = std::thread::scope(|s| {
        let loading = s.spawn(|| load_chain(&pairs, limits, args.cache_dir.as_deref()));
        let input = read_input(&args.file).map(|text| {
            // Read straight into each object's JSON text: the chain's Wasm steps take text, and
            // with no steps the text is written back as YAML (no values built either way).
            let objects = crate::postrender::parse_manifest_texts(&text);
            drop(text);
            objects
        });
        let loaded = loading
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (loaded, input)
    });
    let objects = input?;
    let guard =
        capstan_engine::OutputGuard::new(&args.namespace, &args.namespace, args.guard.policy())
            .owned_by(&args.release_name, &args.release_name);
    let pipeline = loaded?.with_guard(guard);
    let objects = objects?;
    let ctx = Context {
        release_name: args.release_name.clone(),
        release_namespace: args.namespace.clone(),
        chart_name: args.chart_name.clone(),
        chart_version: args.chart_version.clone(),
        plugin_name: String::new(),
    };
    let text = run_chain(pipeline.run_texts_to_stream(&ctx, objects))?;
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("cannot write to stdout")?;
    Ok(ExitCode::SUCCESS)
}

/// `capstan build`: warnings first (even when the build then fails), the objects on stdout
/// only when everything succeeded, the summary on stderr.
fn build(args: &BuildArgs) -> anyhow::Result<ExitCode> {
    use crate::build;
    let docs = build::read_files(&args.files)?;
    let values: Vec<Value> = docs.iter().map(|(_, d)| d.clone()).collect();
    let prepared = build::prepare(&values)?;
    let mut stderr = std::io::stderr().lock();
    for w in &prepared.warnings {
        let _ = writeln!(stderr, "warning: {w}");
    }
    let release_file = docs
        .iter()
        .find(|(_, d)| capstan_api::is_helm_release(d))
        .map_or(0, |(i, _)| *i);
    let base_dir = args.files[release_file]
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let (cache, compiled) = match args.cache_dir.as_deref() {
        Some("none") => (None, "none".to_owned()),
        Some(dir) => (
            Some(capstan_source::Cache::new(dir)),
            Path::new(dir).join("compiled").display().to_string(),
        ),
        None => (
            capstan_source::Cache::default_root().map(capstan_source::Cache::new),
            String::new(),
        ),
    };
    let rt = runtime(if compiled.is_empty() {
        None
    } else {
        Some(compiled.as_str())
    })?;
    let fetcher = build::FileFetcher {
        network: capstan_engine::SourceFetcher::new(cache),
        plugin_dir: args.plugin_dir.clone(),
        base_dir,
    };
    let release = &prepared.release.release;
    let lookup =
        capstan_engine::InputsLookup::new(&prepared.inputs, release.namespace_or_default());
    let engine = capstan_engine::Engine::new(rt)
        .with_helm_version(args.helm_version)
        .with_guard(args.guard.policy());
    let built = match engine.build(release, &lookup, &fetcher) {
        Ok(b) => b,
        Err(err) => {
            print_denial(&mut stderr, &err);
            return Err(err.into());
        }
    };
    let json = matches!(args.output, BuildOutput::Json);
    let all: Vec<Value> = built
        .crds_and_objects()
        .chain(&built.hooks)
        .cloned()
        .collect();
    let text = build::render_output(&all, json);
    let _ = write!(stderr, "{}", build::summary(&built));
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("cannot write to stdout")?;
    Ok(ExitCode::SUCCESS)
}

/// `capstan crds`: the CRDs on stdout.
fn crds() -> anyhow::Result<ExitCode> {
    let text = crate::crds::all_crds_yaml().context("cannot generate the CRDs")?;
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("cannot write to stdout")?;
    Ok(ExitCode::SUCCESS)
}

/// Prints a denial's diagnostics one per line, so each finding is readable on its own.
fn print_denial(out: &mut impl Write, err: &(dyn std::error::Error + 'static)) {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(diags) = e
            .downcast_ref::<crate::postrender::Error>()
            .and_then(crate::postrender::Error::denial)
        {
            for d in diags {
                let _ = writeln!(out, "{d}");
            }
            return;
        }
        cur = e.source();
    }
}

fn print_diagnostic(out: &mut impl Write, d: &StepDiagnostic) {
    let _ = writeln!(out, "{} (from {})", d.diagnostic, d.step);
}

fn plugin(cmd: PluginCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCommand::Build { dirs, out_dir } => {
            for built in crate::plugin::build(&dirs, &out_dir)? {
                println!("{}\t{}\t{}", built.name, built.path.display(), built.sha256);
            }
        }
        PluginCommand::New {
            name,
            dir,
            sdk_path,
        } => {
            let sdk = match sdk_path {
                Some(p) => p,
                None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sdk/rust"),
            };
            let sdk = sdk
                .canonicalize()
                .with_context(|| format!("capstan-sdk not found at {}", sdk.display()))?;
            let root = crate::plugin::scaffold(&name, &dir, &sdk)?;
            println!("created {}", root.display());
            println!(
                "next: cd {} && cargo test && capstan plugin build .",
                root.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
