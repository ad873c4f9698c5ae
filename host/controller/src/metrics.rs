//! Prometheus metrics in the text exposition format, served on `--metrics-addr` at `/metrics`:
//! reconciles per release by result and their duration, render duration per release, every
//! plugin call's duration, plugin errors and limit hits per plugin (`name@sha256:…`), and where
//! the Wasm runtime found its compiled modules. Kept under one mutex: a reconcile records a
//! handful of values, far below anything a lock could slow down.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use capstan_engine::Build;
use capstan_wasm::CacheStats;

/// Upper bounds (seconds) of every histogram's buckets.
const BUCKETS: [f64; 13] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, took: Duration) {
        let secs = took.as_secs_f64();
        for (bound, n) in BUCKETS.iter().zip(&mut self.buckets) {
            if secs <= *bound {
                *n += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }
}

/// `namespace`, `name` of a HelmRelease.
type Release = (String, String);

#[derive(Debug, Default)]
struct Inner {
    reconciles: BTreeMap<(Release, &'static str), u64>,
    reconcile_seconds: BTreeMap<Release, Histogram>,
    render_seconds: BTreeMap<Release, Histogram>,
    plugin_seconds: BTreeMap<String, Histogram>,
    plugin_errors: BTreeMap<(String, &'static str), u64>,
    limit_hits: BTreeMap<(String, &'static str), u64>,
}

/// The controller's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn release(namespace: &str, name: &str) -> Release {
    (namespace.to_owned(), name.to_owned())
}

/// Escapes a label value (`\`, `"` and newlines), as the exposition format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts one reconcile of `namespace/name`.
    pub fn record_reconcile(&self, namespace: &str, name: &str, ok: bool, took: Duration) {
        let key = release(namespace, name);
        let mut m = self.lock();
        let result = if ok { "success" } else { "error" };
        *m.reconciles.entry((key.clone(), result)).or_default() += 1;
        m.reconcile_seconds.entry(key).or_default().observe(took);
    }

    /// Records a successful build: its render time and every plugin call's time.
    pub fn record_build(&self, namespace: &str, name: &str, build: &Build) {
        let mut m = self.lock();
        m.render_seconds
            .entry(release(namespace, name))
            .or_default()
            .observe(build.timings.render);
        for (step, digest) in build.steps.iter().zip(&build.digests.post_renderers) {
            if let Some(module) = &digest.module {
                m.plugin_seconds
                    .entry(format!("{}@{module}", digest.name))
                    .or_default()
                    .observe(step.duration);
            }
        }
    }

    /// Records a failed build: the plugin that failed, why, and the limit it hit.
    pub fn record_build_error(&self, error: &capstan_engine::Error) {
        let Some(wasm) = error.plugin_failure() else {
            return;
        };
        let Some(plugin) = wasm.plugin() else {
            return;
        };
        let id = format!("{}@{}", plugin.name(), plugin.sha256());
        let mut m = self.lock();
        *m.plugin_errors
            .entry((id.clone(), error.reason()))
            .or_default() += 1;
        if let Some(limit) = wasm.limit() {
            *m.limit_hits.entry((id, limit)).or_default() += 1;
        }
    }

    /// The exposition text; `cache` is the Wasm runtime's module cache counters.
    pub fn render(&self, cache: CacheStats) -> String {
        let m = self.lock();
        let mut s = String::new();
        let header = |s: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(s, "# HELP {name} {help}");
            let _ = writeln!(s, "# TYPE {name} {kind}");
        };
        let histogram = |s: &mut String, name: &str, labels: &str, h: &Histogram| {
            for (bound, n) in BUCKETS.iter().zip(&h.buckets) {
                let _ = writeln!(s, "{name}_bucket{{{labels},le=\"{bound}\"}} {n}");
            }
            let _ = writeln!(s, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(s, "{name}_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(s, "{name}_count{{{labels}}} {}", h.count);
        };
        let release_labels =
            |(ns, name): &Release| format!("namespace=\"{}\",name=\"{}\"", label(ns), label(name));

        header(
            &mut s,
            "capstan_reconcile_total",
            "counter",
            "HelmRelease reconciliations by release and result.",
        );
        for ((r, result), n) in &m.reconciles {
            let _ = writeln!(
                s,
                "capstan_reconcile_total{{{},result=\"{result}\"}} {n}",
                release_labels(r)
            );
        }
        header(
            &mut s,
            "capstan_reconcile_duration_seconds",
            "histogram",
            "Time spent reconciling a HelmRelease.",
        );
        for (r, h) in &m.reconcile_seconds {
            histogram(
                &mut s,
                "capstan_reconcile_duration_seconds",
                &release_labels(r),
                h,
            );
        }
        header(
            &mut s,
            "capstan_render_duration_seconds",
            "histogram",
            "Time spent rendering a HelmRelease's chart templates.",
        );
        for (r, h) in &m.render_seconds {
            histogram(
                &mut s,
                "capstan_render_duration_seconds",
                &release_labels(r),
                h,
            );
        }
        header(
            &mut s,
            "capstan_plugin_call_duration_seconds",
            "histogram",
            "Time spent in one Wasm post-renderer during a build (all passes).",
        );
        for (plugin, h) in &m.plugin_seconds {
            histogram(
                &mut s,
                "capstan_plugin_call_duration_seconds",
                &format!("plugin=\"{}\"", label(plugin)),
                h,
            );
        }
        header(
            &mut s,
            "capstan_plugin_errors_total",
            "counter",
            "Failed plugin loads, config checks and calls, by plugin and reason.",
        );
        for ((plugin, reason), n) in &m.plugin_errors {
            let _ = writeln!(
                s,
                "capstan_plugin_errors_total{{plugin=\"{}\",reason=\"{reason}\"}} {n}",
                label(plugin)
            );
        }
        header(
            &mut s,
            "capstan_plugin_limit_hits_total",
            "counter",
            "Plugin calls stopped by a resource limit, by plugin and limit.",
        );
        for ((plugin, limit), n) in &m.limit_hits {
            let _ = writeln!(
                s,
                "capstan_plugin_limit_hits_total{{plugin=\"{}\",limit=\"{limit}\"}} {n}",
                label(plugin)
            );
        }
        header(
            &mut s,
            "capstan_module_cache_total",
            "counter",
            "Where plugin modules were found: compiled in memory, on the disk cache, or compiled.",
        );
        for (result, n) in [
            ("memory", cache.memory_hits),
            ("disk", cache.disk_hits),
            ("compiled", cache.compiled),
        ] {
            let _ = writeln!(s, "capstan_module_cache_total{{result=\"{result}\"}} {n}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_render_per_release_with_cumulative_buckets() {
        let m = Metrics::default();
        m.record_reconcile("team-a", "web", true, Duration::from_millis(500));
        m.record_reconcile("team-a", "web", false, Duration::from_millis(20));
        m.record_reconcile("team-b", "db", true, Duration::from_secs(60));
        let text = m.render(CacheStats {
            memory_hits: 3,
            disk_hits: 1,
            compiled: 2,
        });
        for line in [
            "capstan_reconcile_total{namespace=\"team-a\",name=\"web\",result=\"success\"} 1\n",
            "capstan_reconcile_total{namespace=\"team-a\",name=\"web\",result=\"error\"} 1\n",
            "capstan_reconcile_duration_seconds_bucket{namespace=\"team-a\",name=\"web\",le=\"0.025\"} 1\n",
            "capstan_reconcile_duration_seconds_bucket{namespace=\"team-a\",name=\"web\",le=\"0.5\"} 2\n",
            "capstan_reconcile_duration_seconds_bucket{namespace=\"team-a\",name=\"web\",le=\"+Inf\"} 2\n",
            "capstan_reconcile_duration_seconds_sum{namespace=\"team-a\",name=\"web\"} 0.52\n",
            "capstan_reconcile_duration_seconds_bucket{namespace=\"team-b\",name=\"db\",le=\"30\"} 0\n",
            "capstan_reconcile_duration_seconds_count{namespace=\"team-b\",name=\"db\"} 1\n",
            "capstan_module_cache_total{result=\"memory\"} 3\n",
            "capstan_module_cache_total{result=\"compiled\"} 2\n",
            "# TYPE capstan_plugin_call_duration_seconds histogram\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn plugin_failures_count_by_plugin_reason_and_limit() {
        let m = Metrics::default();
        let plugin = capstan_wasm::PluginId::new("sidecar", [0xab; 32]);
        let timed_out = capstan_engine::Error::LoadPlugin {
            release: "team-a/web".into(),
            index: 0,
            plugin: "WasmPlugin team-a/sidecar".into(),
            source: Box::new(capstan_wasm::Error::PluginTimedOut {
                plugin,
                limit: Duration::from_secs(1),
            }),
        };
        m.record_build_error(&timed_out);
        m.record_build_error(&timed_out);
        let text = m.render(CacheStats::default());
        let id = format!("sidecar@sha256:{}", "ab".repeat(32));
        for line in [
            format!(
                "capstan_plugin_errors_total{{plugin=\"{id}\",reason=\"PluginLoadFailed\"}} 2\n"
            ),
            format!("capstan_plugin_limit_hits_total{{plugin=\"{id}\",limit=\"timeout\"}} 2\n"),
        ] {
            assert!(text.contains(&line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
