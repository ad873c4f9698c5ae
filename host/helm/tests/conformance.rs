//! Conformance: every chart under `tests/charts/` (repository root) is rendered by the real
//! `helm template` of both Helm versions (v3.17.3 and v4.1.4, the oracles) and by
//! `capstan_helm::template` with the same arguments and `helm_version` 3 or 4, and the bytes must
//! be identical in both modes. Charts named `error-*` must fail in both, with the same whole
//! `Error: …` message on stderr and nothing on stdout.
//!
//! Per chart: an optional `args` file (one argument per line) and an optional `values/`
//! directory (each file passed as `-f`, in name order). Set `CAPSTAN_CHART=<name>` to run one.

use std::path::{Path, PathBuf};
use std::process::Command;

use similar::TextDiff;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn helm(name: &str) -> Option<PathBuf> {
    let root = repo_root();
    let bin = root.join(".tools/bin").join(name);
    if !bin.exists() {
        let _ = Command::new("bash")
            .arg(root.join(".ci/install-helm"))
            .status();
    }
    bin.exists().then_some(bin)
}

struct Case {
    name: String,
    dir: PathBuf,
    args: Vec<String>,
}

fn cases() -> Vec<Case> {
    let charts = repo_root().join("tests/charts");
    let only = std::env::var("CAPSTAN_CHART").ok();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&charts)
        .expect("tests/charts exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("Chart.yaml").exists() || p.join("chart.tgz").exists())
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        let name = dir
            .file_name()
            .expect("dir name")
            .to_string_lossy()
            .into_owned();
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let chart_arg = if dir.join("chart.tgz").exists() {
            "chart.tgz"
        } else {
            "."
        };
        let mut extra: Vec<String> = std::fs::read_to_string(dir.join("args"))
            .map(|t| {
                t.lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        // A first line that is not a flag is the release name: `helm template NAME CHART …`.
        let mut args = Vec::new();
        if extra.first().is_some_and(|a| !a.starts_with('-')) {
            args.push(extra.remove(0));
        }
        args.push(chart_arg.to_owned());
        args.extend(extra);
        if let Ok(rd) = std::fs::read_dir(dir.join("values")) {
            let mut files: Vec<String> = rd
                .filter_map(Result::ok)
                .map(|e| format!("values/{}", e.file_name().to_string_lossy()))
                .collect();
            files.sort();
            for f in files {
                args.push("-f".to_owned());
                args.push(f);
            }
        }
        out.push(Case { name, dir, args });
    }
    out
}

struct Outcome {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run_helm(bin: &Path, case: &Case) -> Outcome {
    let out = Command::new(bin)
        .arg("template")
        .args(&case.args)
        .current_dir(&case.dir)
        .env(
            "HELM_CACHE_HOME",
            std::env::temp_dir().join("capstan-helm-cache"),
        )
        .env(
            "HELM_CONFIG_HOME",
            std::env::temp_dir().join("capstan-helm-config"),
        )
        .env(
            "HELM_DATA_HOME",
            std::env::temp_dir().join("capstan-helm-data"),
        )
        .output()
        .expect("run helm");
    Outcome {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run_capstan(case: &Case, helm: capstan_helm::HelmVersion) -> Outcome {
    // Paths in args are relative to the chart directory, as for helm; this binary has a single
    // test, so changing the working directory is safe.
    std::env::set_current_dir(&case.dir).expect("enter chart dir");
    match capstan_helm::parse_template_args(&case.args) {
        Err(e) => Outcome {
            ok: false,
            stdout: String::new(),
            stderr: format!("Error: {e}\n"),
        },
        Ok(mut opts) => match capstan_helm::template(&{
            opts.helm_version = helm;
            opts
        }) {
            Ok(s) => Outcome {
                ok: true,
                stdout: s,
                stderr: String::new(),
            },
            Err(e) => Outcome {
                ok: false,
                stdout: String::new(),
                stderr: e.helm_output(),
            },
        },
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The `Error: …` part of stderr (helm logs warnings before it).
fn error_block(s: &str) -> &str {
    s.find("Error:").map_or(s, |i| &s[i..])
}

/// Compares one oracle outcome with ours; `None` when they agree, else a report.
fn compare(case: &Case, want: &Outcome, got: &Outcome) -> Option<String> {
    let expect_error = case.name.starts_with("error-");
    if expect_error || !want.ok {
        if want.ok {
            return Some(format!(
                "{}: helm succeeded but the case expects an error",
                case.name
            ));
        }
        if got.ok || !got.stdout.is_empty() {
            return Some(format!(
                "{}: helm failed ({}) but capstan printed output",
                case.name,
                first_line(&want.stderr)
            ));
        }
        if first_line(error_block(&want.stderr)) != first_line(&got.stderr) {
            return Some(format!(
                "{}: stderr differs\n  helm:    {}\n  capstan: {}",
                case.name,
                first_line(error_block(&want.stderr)),
                first_line(&got.stderr)
            ));
        }
        // Beyond the first line (the required check), report the rest of the message too.
        if error_block(&want.stderr) != got.stderr {
            let diff = TextDiff::from_lines(error_block(&want.stderr), got.stderr.as_str())
                .unified_diff()
                .header("helm", "capstan")
                .to_string();
            return Some(format!("{}: full error message differs\n{diff}", case.name));
        }
        return None;
    }
    if !got.ok {
        return Some(format!(
            "{}: capstan failed: {}",
            case.name,
            got.stderr.trim_end()
        ));
    }
    if want.stdout == got.stdout {
        return None;
    }
    let diff = TextDiff::from_lines(&want.stdout, &got.stdout)
        .unified_diff()
        .header("helm", "capstan")
        .to_string();
    Some(format!("{}: output differs\n{diff}", case.name))
}

#[test]
fn charts_render_byte_identical_to_helm() {
    use capstan_helm::HelmVersion;
    let (Some(helm3), Some(helm4)) = (helm("helm3"), helm("helm4")) else {
        panic!("helm3/helm4 missing and .ci/install-helm could not install them");
    };
    let cases = cases();
    assert!(!cases.is_empty(), "no charts under tests/charts");
    let mut failed = 0;
    for (bin, mode, label) in [
        (&helm3, HelmVersion::V3, "helm v3.17.3"),
        (&helm4, HelmVersion::V4, "helm v4.1.4 (--helm-version 4)"),
    ] {
        let mut reports = Vec::new();
        for case in &cases {
            let want = run_helm(bin, case);
            let got = run_capstan(case, mode);
            if let Some(r) = compare(case, &want, &got) {
                reports.push(r);
            }
        }
        for r in &reports {
            println!("[{label}] {r}");
        }
        println!(
            "{label}: {} identical, {} different",
            cases.len() - reports.len(),
            reports.len()
        );
        failed += reports.len();
    }
    assert!(
        failed == 0,
        "{failed} chart render(s) differ from helm (see the diffs above)"
    );
}
