//! Golden tests for transforms: every `tests/golden/<case>/` runs its plugin chain over
//! `input.yaml`, both natively and as Wasm through the host, and must produce `expected.yaml`
//! (or fail with an error containing `expected-error.txt`). `BLESS=1` rewrites `expected.yaml`.

use std::path::Path;

use anyhow::{Context as _, bail};
use capstan::postrender::{Pipeline, PostRenderer};
use capstan_sdk::Context;
use capstan_tests::{check_golden, load, native, root};
use capstan_wasm::Limits;
use serde_json::Value;

fn mk_ctx() -> Context {
    Context {
        release_name: "demo".into(),
        release_namespace: "apps".into(),
        chart_name: "demo".into(),
        chart_version: "1.0.0".into(),
        plugin_name: String::new(),
    }
}

/// `(plugin name, config)` pairs from a case's `config.yaml`.
fn chain(case: &Path) -> anyhow::Result<Vec<(String, Value)>> {
    let text = std::fs::read_to_string(case.join("config.yaml")).context("config.yaml")?;
    let config = capstan_yaml::parse_one(&text)?;
    let Some(plugins) = config["plugins"].as_array() else {
        bail!("config.yaml needs a `plugins` list")
    };
    plugins
        .iter()
        .map(|p| {
            let name = p["name"]
                .as_str()
                .context("plugin entry needs a name")?
                .to_owned();
            Ok((name, p.get("config").cloned().unwrap_or(Value::Null)))
        })
        .collect()
}

fn run_case(case: &Path) -> anyhow::Result<()> {
    let input = std::fs::read_to_string(case.join("input.yaml")).context("input.yaml")?;
    let steps = chain(case)?;
    let wasm = Pipeline::new(
        steps
            .iter()
            .map(|(name, cfg)| PostRenderer::wasm(load(name, Limits::default()), cfg.clone()))
            .collect(),
    );
    let native_steps: Option<Vec<_>> = steps
        .iter()
        .map(|(name, cfg)| Some(PostRenderer::native(name, native(name)?, cfg.clone())))
        .collect();
    let native = Pipeline::new(native_steps.context("unknown plugin in chain")?);
    let expected_error = std::fs::read_to_string(case.join("expected-error.txt")).ok();
    for (label, pipeline) in [("wasm", &wasm), ("native", &native)] {
        let result = pipeline
            .validate()
            .and_then(|_| pipeline.run_stream(&mk_ctx(), &input));
        match (&expected_error, result) {
            (Some(want), Err(err)) => {
                let got = format!("{:#}", anyhow::Error::from(err));
                let want = want.trim();
                if !got.contains(want) {
                    bail!("{label}: error {got:?} does not contain {want:?}");
                }
            }
            (Some(want), Ok(_)) => bail!(
                "{label}: expected an error containing {:?}, got output",
                want.trim()
            ),
            (None, Err(err)) => bail!("{label}: {:#}", anyhow::Error::from(err)),
            (None, Ok((text, _))) => {
                check_golden(&case.join("expected.yaml"), &text)
                    .with_context(|| label.to_owned())?;
            }
        }
    }
    Ok(())
}

#[test]
fn golden_cases() {
    let dir = root().join("tests/golden");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/golden exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("input.yaml").is_file())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no golden cases found");
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(e) = run_case(case) {
            failures.push(format!(
                "{}: {e:#}",
                case.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ));
        }
    }
    println!("{} golden cases, {} failed", cases.len(), failures.len());
    assert!(
        failures.is_empty(),
        "golden failures:\n{}",
        failures.join("\n\n")
    );
}
