//! `capstan template` end to end: `--help`, remote charts (`--repo URL CHART --version`,
//! `oci://…`) rendered byte-identical to the real `helm template` of the same repository, and a
//! post-render chain previewed with `--plugin`/`--config`.

use std::path::PathBuf;
use std::process::{Command, Output};

use capstan_source::testing::HelmRepoServer;
use capstan_source::{IndexFile, OciClient};
use capstan_tests::{capstan_bin, guest, guest_target_dir, root};

use crate::build::{example, package, registry};

fn capstan(args: &[&str], cache: &std::path::Path) -> Output {
    Command::new(capstan_bin())
        .arg("template")
        .args(args)
        .current_dir(root())
        .env("XDG_CACHE_HOME", cache)
        .env("CARGO_TARGET_DIR", guest_target_dir())
        .output()
        .expect("capstan runs")
}

/// The real helm 3 binary (installed by `.ci/install-helm` when missing).
fn helm3() -> PathBuf {
    capstan_tests::helm_bin("helm3")
}

fn helm(args: &[&str], home: &std::path::Path) -> Output {
    Command::new(helm3())
        .arg("template")
        .args(args)
        .current_dir(root())
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("helm runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed ({:?}):\n{}",
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn help_prints_usage() {
    let cache = tempfile::tempdir().expect("tempdir");
    let out = capstan(&["--help"], cache.path());
    let usage = ok(&out);
    assert!(usage.contains("Usage:\n  capstan template [NAME] [CHART] [flags]"));
    for flag in [
        "--repo",
        "--version",
        "--helm-version",
        "--plugin",
        "--config",
    ] {
        assert!(usage.contains(flag), "usage lacks {flag}:\n{usage}");
    }
}

#[test]
fn chart_from_a_repository_renders_like_helm() {
    let served = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        served.path().join("redis-0.1.2.tgz"),
        package(&example("redis/chart"), "redis"),
    )
    .expect("write archive");
    let index = IndexFile::from_directory(served.path(), None).expect("index");
    std::fs::write(served.path().join("index.yaml"), index.to_yaml()).expect("write index");
    let server = HelmRepoServer::serve(served.path()).expect("server");
    let url = server.url();
    let args = ["cache", "redis", "--repo", &url, "--version", "0.1.x"];
    let home = tempfile::tempdir().expect("tempdir");
    let want = ok(&helm(&args, home.path()));
    let got = ok(&capstan(&args, home.path()));
    assert_eq!(got, want);
    // A version the repository does not have fails with nothing on stdout.
    let out = capstan(
        &["cache", "redis", "--repo", &url, "--version", "9.x"],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("redis"), "{}", text(&out.stderr));
}

#[test]
fn chart_from_an_oci_registry_renders_like_the_local_chart() {
    let registry = registry();
    let archive = package(&example("redis/chart"), "redis");
    OciClient::new()
        .push_chart(&registry.reference("charts/redis"), &archive)
        .expect("push chart");
    let reference = registry.reference("charts/redis").to_string();
    let home = tempfile::tempdir().expect("tempdir");
    let local = example("redis/chart").display().to_string();
    let want = ok(&capstan(&["cache", &local], home.path()));
    let got = ok(&capstan(
        &["cache", &reference, "--version", "0.1.2"],
        home.path(),
    ));
    assert_eq!(got, want);
}

#[test]
fn plugin_chain_previews_the_post_rendered_release() {
    let dir = tempfile::tempdir().expect("tempdir");
    let labels = dir.path().join("labels.yaml");
    std::fs::write(&labels, "labels:\n  team: payments\n").expect("write config");
    let set_labels = guest("set-labels").display().to_string();
    let chart = example("redis/chart").display().to_string();
    let out = capstan(
        &[
            "cache",
            &chart,
            "--plugin",
            &set_labels,
            "--config",
            &labels.display().to_string(),
        ],
        dir.path(),
    );
    let docs = capstan_yaml::parse_stream(&ok(&out)).expect("YAML out");
    assert!(!docs.is_empty());
    for d in &docs {
        assert_eq!(d["metadata"]["labels"]["team"], "payments", "{d}");
    }
    // A --config before any --plugin is a usage error, with nothing on stdout.
    let out = capstan(&["--config", "x.yaml", &chart], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("comes before any --plugin"));
}

/// Sprig's `date`, `htmlDate` and `toDate` use Go's `time.Local`, which Helm reads from `TZ`
/// (else `/etc/localtime`): with the same `TZ`, `capstan template` must print what both helm
/// binaries print. (The conformance run covers named zones with the machine's own `TZ`.)
#[test]
fn local_time_follows_tz_like_helm() {
    let chart = "tests/charts/timezones";
    for tz in [
        "America/Los_Angeles",
        "Asia/Kolkata",
        "Australia/Lord_Howe",
        "",
    ] {
        let run = |bin: PathBuf, extra: &[&str]| -> String {
            let out = Command::new(bin)
                .arg("template")
                .arg(chart)
                .args(extra)
                .current_dir(root())
                .env("TZ", tz)
                .output()
                .expect("runs");
            ok(&out)
        };
        let ours3 = run(capstan_bin(), &[]);
        assert_eq!(ours3, run(helm3(), &[]), "TZ={tz:?}, helm 3");
        let ours4 = run(capstan_bin(), &["--helm-version", "4"]);
        assert_eq!(
            ours4,
            run(capstan_tests::helm_bin("helm4"), &[]),
            "TZ={tz:?}, helm 4"
        );
        if tz == "America/Los_Angeles" {
            assert!(
                ours3.contains("plain: \"2024-03-10T01:30:00-08:00 PST\""),
                "{ours3}"
            );
        }
    }
}
