//! Two builds of the first-party guests, compared call by call (issue #12).
//!
//! This VM's speed drifts from minute to minute by more than most guest changes are worth, so
//! criterion's before/after runs cannot show a few per cent. Here both builds of each plugin are
//! loaded into one process and called in pairs, A B then B A, on the same objects (10,000 and
//! 1,000 of them, as the chain benchmarks use); what is printed is each build's median call
//! time and the median of the per-pair ratios B/A.
//!
//! ```text
//! CAPSTAN_GUESTS_A=dir CAPSTAN_GUESTS_B=dir cargo bench -p capstan-tests --bench guest_ab
//! ```
//!
//! Each directory holds `set-labels.wasm`, `inject-sidecar.wasm` and `image-rewrite.wasm` (copies
//! of `target/guests/wasm32-wasip2/release/capstan_plugin_*.wasm` from two builds). A directory
//! left unset is this workspace's own build, so with neither set the harness compares the
//! build with itself: the ratios it prints then are its noise floor. `CAPSTAN_AB_PAIRS` sets
//! the number of pairs (30).

use std::path::PathBuf;
use std::time::Instant;

use capstan_sdk::Context;
use capstan_tests::{filler_2kb, guest, mk_large_release, mk_workloads, plugin_configs, runtime};
use capstan_wasm::{Limits, WasmPlugin};
use serde_json::Value;

fn build(var: &str, name: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(dir) => PathBuf::from(dir).join(format!("{name}.wasm")),
        None => guest(name),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let pairs: usize = std::env::var("CAPSTAN_AB_PAIRS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(30)
        .max(1);
    let ctx = Context {
        release_name: "bench".into(),
        release_namespace: "apps".into(),
        ..Context::default()
    };
    let streams = [
        ("10,000 objects", mk_large_release()),
        ("1,000 objects", mk_workloads(1000, &filler_2kb())),
    ];
    for (stream, objects) in streams {
        let texts: Vec<String> = objects.iter().map(Value::to_string).collect();
        for (name, config) in plugin_configs() {
            if name == "policy-patch" {
                continue; // not in the chain the throughput targets are about
            }
            let config = config.to_string();
            let load = |var: &str| -> WasmPlugin {
                runtime()
                    .load_file(name, &build(var, name), Limits::default())
                    .unwrap_or_else(|e| panic!("loading {name} ({var}): {e:#}"))
            };
            let (a, b) = (load("CAPSTAN_GUESTS_A"), load("CAPSTAN_GUESTS_B"));
            let call = |p: &WasmPlugin| {
                let started = Instant::now();
                let out = p.transform_text(&ctx, &config, &texts).expect("runs");
                (started.elapsed().as_secs_f64() * 1e3, out.objects)
            };
            // The two builds must do the same thing, or the comparison means nothing.
            assert_eq!(
                call(&a).1,
                call(&b).1,
                "{name}: the two builds' outputs differ"
            );
            let (mut ta, mut tb, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            for pair in 0..pairs {
                let (x, y) = if pair % 2 == 0 {
                    let x = call(&a).0;
                    (x, call(&b).0)
                } else {
                    let y = call(&b).0;
                    (call(&a).0, y)
                };
                ta.push(x);
                tb.push(y);
                ratios.push(y / x);
            }
            println!(
                "{stream:15} {name:15} A {:7.2} ms   B {:7.2} ms   B/A {:.3}",
                median(ta),
                median(tb),
                median(ratios)
            );
        }
    }
}
