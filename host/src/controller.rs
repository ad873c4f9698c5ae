//! `capstan controller`: the reconciler, with flags named as Flux's controllers name them. The
//! kubeconfig comes from the environment (`KUBECONFIG`, `~/.kube/config`) or the in-cluster
//! service account; everything else is `capstan-controller`.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context as _;

/// `capstan controller` flags.
#[derive(Debug, clap::Args)]
pub struct ControllerArgs {
    /// How many HelmReleases are reconciled at once.
    #[arg(long, default_value_t = 4)]
    pub concurrent: u16,
    /// Serve Prometheus metrics on this address (`/metrics`).
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub metrics_addr: String,
    /// Serve `/healthz` and `/readyz` on this address.
    #[arg(long, default_value = "0.0.0.0:9440")]
    pub health_addr: String,
    /// Also reconcile Flux's `helm.toolkit.fluxcd.io/v2` HelmReleases (in place of Flux's
    /// helm-controller); needs Flux's CRDs.
    #[arg(long)]
    pub flux_helmreleases: bool,
    /// Only reconcile HelmReleases matching this label selector (to shard across instances).
    #[arg(long)]
    pub watch_label_selector: Option<String>,
    /// Refuse references to sources, values and plugins in other namespaces.
    #[arg(long)]
    pub no_cross_namespace_refs: bool,
    /// Service account every release without `serviceAccountName` impersonates.
    #[arg(long)]
    pub default_service_account: Option<String>,
    /// How soon a release waiting for its `dependsOn` is looked at again (Go duration).
    #[arg(long, default_value = "30s")]
    pub requeue_dependency: String,
    /// Cache for charts, modules and compiled modules (default `$XDG_CACHE_HOME/capstan`).
    #[arg(long)]
    pub cache_dir: Option<String>,
    /// Hosts that charts and modules may be fetched from: `host`, `host:port` or `*.domain`,
    /// comma-separated or repeated. Every request and redirect is checked; unset allows any.
    #[arg(long, value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Tenants (HelmRelease namespaces; `*` for all) whose post-renderers may add
    /// cluster-scoped objects; none by default (the output guard refuses them).
    #[arg(long, value_delimiter = ',', value_name = "NAMESPACES")]
    pub allow_cluster_scoped_namespaces: Vec<String>,
    /// Hold the chart's own cluster-scoped objects (ClusterRoles, CRDs, webhooks…) to the same
    /// list: releases of other tenants may not install any, whoever rendered them (by default
    /// only what post-renderers add is held to it; the chart is left to the release's RBAC).
    #[arg(long)]
    pub guard_chart_objects: bool,
    /// Ceiling on every plugin's memory limit (a Kubernetes quantity such as `256Mi`).
    #[arg(long)]
    pub max_plugin_memory: Option<String>,
    /// Ceiling on every plugin's timeout (a Go duration such as `10s`).
    #[arg(long)]
    pub max_plugin_timeout: Option<String>,
    /// Ceiling on every plugin's output size (a quantity such as `64Mi`).
    #[arg(long)]
    pub max_plugin_output: Option<String>,
    /// Reconcile only while holding a Lease, so several replicas can run (one leads).
    #[arg(long)]
    pub enable_leader_election: bool,
    /// Namespace of the leader election Lease (default: `$POD_NAMESPACE`, else `capstan-system`).
    #[arg(long)]
    pub leader_election_namespace: Option<String>,
    /// Name of the leader election Lease; replicas that share it never reconcile at once
    /// (give each shard its own).
    #[arg(long, default_value = "capstan-controller-leader-election")]
    pub leader_election_id: String,
    /// How long a Lease stays valid without renewal.
    #[arg(long, default_value = "35s")]
    pub leader_election_lease_duration: String,
    /// How long the leader retries renewing before it stops.
    #[arg(long, default_value = "30s")]
    pub leader_election_renew_deadline: String,
    /// How often replicas try to acquire or renew the Lease.
    #[arg(long, default_value = "5s")]
    pub leader_election_retry_period: String,
    /// Log level filter (`info`, `debug`, `capstan_controller=debug`, …).
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// Render charts with Helm 4 (4.1.4, as Flux's helm-controller does) or Helm 3 (3.17.3)
    /// rules.
    #[arg(long, value_name = "3|4", default_value = "4", value_parser = crate::cli::parse_helm_version)]
    pub helm_version: capstan_engine::HelmVersion,
}

fn addr(flag: &str, text: &str) -> anyhow::Result<Option<SocketAddr>> {
    if text.is_empty() || text == "0" {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .with_context(|| format!("--{flag} {text:?} is not an address such as 0.0.0.0:8080"))
}

/// The operator's caps on plugin limits, from the `--max-plugin-*` flags.
fn ceilings(args: &ControllerArgs) -> anyhow::Result<capstan_engine::Ceilings> {
    let quantity = |flag: &str, v: &Option<String>| {
        v.as_deref()
            .map(|t| {
                capstan_api::parse_quantity(t)
                    .with_context(|| format!("--{flag} {t:?} (accepted: a quantity such as 256Mi)"))
            })
            .transpose()
    };
    Ok(capstan_engine::Ceilings {
        memory_bytes: quantity("max-plugin-memory", &args.max_plugin_memory)?,
        max_output_bytes: quantity("max-plugin-output", &args.max_plugin_output)?,
        timeout: args
            .max_plugin_timeout
            .as_deref()
            .map(|t| {
                capstan_api::parse_duration(t).with_context(|| {
                    format!("--max-plugin-timeout {t:?} (accepted: a duration such as 10s)")
                })
            })
            .transpose()?,
    })
}

/// The Lease settings of `--enable-leader-election`.
fn leader_election(
    args: &ControllerArgs,
) -> anyhow::Result<Option<capstan_controller::leader::ElectionConfig>> {
    if !args.enable_leader_election {
        return Ok(None);
    }
    let duration = |flag: &str, text: &str| {
        capstan_api::parse_duration(text)
            .with_context(|| format!("--{flag} {text:?} (accepted: a duration such as 30s)"))
    };
    let identity = std::env::var("POD_NAME").unwrap_or_else(|_| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "capstan".to_owned());
        format!("{host}-{}", std::process::id())
    });
    let config = capstan_controller::leader::ElectionConfig {
        namespace: args
            .leader_election_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| "capstan-system".to_owned()),
        name: args.leader_election_id.clone(),
        identity,
        lease_duration: duration(
            "leader-election-lease-duration",
            &args.leader_election_lease_duration,
        )?,
        renew_deadline: duration(
            "leader-election-renew-deadline",
            &args.leader_election_renew_deadline,
        )?,
        retry_period: duration(
            "leader-election-retry-period",
            &args.leader_election_retry_period,
        )?,
    };
    anyhow::ensure!(
        config.retry_period < config.renew_deadline
            && config.renew_deadline < config.lease_duration,
        "leader election needs --leader-election-retry-period < --leader-election-renew-deadline < \
         --leader-election-lease-duration, got {:?}, {:?}, {:?}",
        config.retry_period,
        config.renew_deadline,
        config.lease_duration
    );
    Ok(Some(config))
}

/// Runs the controller until interrupted.
pub fn run(args: &ControllerArgs) -> anyhow::Result<ExitCode> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .with_context(|| format!("--log-level {:?}", args.log_level))?;
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    let options = capstan_controller::ControllerOptions {
        concurrent: args.concurrent.max(1),
        metrics_addr: addr("metrics-addr", &args.metrics_addr)?,
        health_addr: addr("health-addr", &args.health_addr)?,
        flux_helmreleases: args.flux_helmreleases,
        watch_label_selector: args.watch_label_selector.clone(),
        leader_election: leader_election(args)?,
        reconcile: capstan_controller::Options {
            no_cross_namespace_refs: args.no_cross_namespace_refs,
            default_service_account: args.default_service_account.clone(),
            requeue_dependency: capstan_api::parse_duration(&args.requeue_dependency)
                .with_context(|| {
                    format!(
                        "--requeue-dependency {:?} is not a duration such as 30s",
                        args.requeue_dependency
                    )
                })?,
        },
    };
    let cache = match args.cache_dir.as_deref() {
        Some("none") => None,
        Some(dir) => Some(capstan_source::Cache::new(dir)),
        None => capstan_source::Cache::default_root().map(capstan_source::Cache::new),
    };
    let compiled = args.cache_dir.as_deref().filter(|d| *d != "none").map(|d| {
        std::path::Path::new(d)
            .join("compiled")
            .display()
            .to_string()
    });
    let runtime = crate::cli::runtime(compiled.as_deref())?;
    let engine = capstan_engine::Engine::new(runtime)
        .with_ceilings(ceilings(args)?)
        .with_helm_version(args.helm_version)
        .with_guard(
            capstan_engine::GuardPolicy::allowing_cluster_scoped(
                args.allow_cluster_scoped_namespaces.iter().cloned(),
            )
            .with_chart_objects(args.guard_chart_objects),
        );
    if !args.allowed_hosts.is_empty() {
        let hosts =
            capstan_source::AllowedHosts::parse(&args.allowed_hosts).context("--allowed-hosts")?;
        eprintln!("capstan controller: fetches restricted to the allowed hosts {hosts}");
        capstan_source::restrict_hosts(hosts);
    }
    let fetcher = capstan_engine::SourceFetcher::new(cache);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let config = kube::Config::infer()
            .await
            .context("no Kubernetes API: set KUBECONFIG or run in a cluster")?;
        capstan_controller::run(config, engine, fetcher, options)
            .await
            .context("the controller stopped")
    })?;
    Ok(ExitCode::SUCCESS)
}
