//! Prometheus metrics in the text exposition format, kept in atomics: reconciles by result and
//! their total duration. Served on `--metrics-addr` at `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The controller's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    reconcile_ok: AtomicU64,
    reconcile_error: AtomicU64,
    reconcile_micros: AtomicU64,
}

impl Metrics {
    /// Counts one reconcile.
    pub fn record(&self, ok: bool, took: Duration) {
        if ok {
            self.reconcile_ok.fetch_add(1, Ordering::Relaxed);
        } else {
            self.reconcile_error.fetch_add(1, Ordering::Relaxed);
        }
        self.reconcile_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let ok = self.reconcile_ok.load(Ordering::Relaxed);
        let err = self.reconcile_error.load(Ordering::Relaxed);
        let micros = self.reconcile_micros.load(Ordering::Relaxed);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP capstan_reconcile_total HelmRelease reconciliations by result."
        );
        let _ = writeln!(s, "# TYPE capstan_reconcile_total counter");
        let _ = writeln!(s, "capstan_reconcile_total{{result=\"success\"}} {ok}");
        let _ = writeln!(s, "capstan_reconcile_total{{result=\"error\"}} {err}");
        let _ = writeln!(
            s,
            "# HELP capstan_reconcile_duration_seconds Time spent reconciling."
        );
        let _ = writeln!(s, "# TYPE capstan_reconcile_duration_seconds summary");
        let _ = writeln!(
            s,
            "capstan_reconcile_duration_seconds_sum {}",
            micros as f64 / 1e6
        );
        let _ = writeln!(s, "capstan_reconcile_duration_seconds_count {}", ok + err);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_in_the_exposition_format() {
        let m = Metrics::default();
        m.record(true, Duration::from_millis(500));
        m.record(false, Duration::from_millis(250));
        let text = m.render();
        assert!(
            text.contains("capstan_reconcile_total{result=\"success\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("capstan_reconcile_total{result=\"error\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("capstan_reconcile_duration_seconds_sum 0.75\n"),
            "{text}"
        );
        assert!(
            text.contains("capstan_reconcile_duration_seconds_count 2\n"),
            "{text}"
        );
    }
}
