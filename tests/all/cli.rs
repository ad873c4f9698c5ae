//! The `capstan` binary end to end: `transform` (streams, chains, denial exit codes, nothing on
//! stdout on failure), `plugin build` and `plugin new` (a scaffold that builds and runs).

use std::io::Write;
use std::process::{Command, Output, Stdio};

use capstan_tests::{capstan_bin, guest, guest_target_dir, root};

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: apps
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.25
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
";

pub(crate) fn capstan(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(capstan_bin())
        .args(args)
        .env("CARGO_TARGET_DIR", guest_target_dir())
        .env("XDG_CACHE_HOME", guest_target_dir().join("xdg-cache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("capstan starts");
    // capstan may exit before reading stdin (argument errors): a broken pipe here is expected.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    child.wait_with_output().expect("capstan finishes")
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write_temp(dir: &tempfile::TempDir, name: &str, content: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, content).expect("temp file written");
    path.display().to_string()
}

#[test]
fn zero_plugins_reserialize_the_stream() {
    let out = capstan(&["transform"], "b: 1\na: 'yes'\n---\nc: [1]\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "---\na: \"yes\"\nb: 1\n---\nc:\n- 1\n");
}

#[test]
fn chain_of_plugins_is_applied_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let labels = write_temp(&dir, "labels.yaml", "labels:\n  team: payments\n");
    let images = write_temp(
        &dir,
        "images.yaml",
        "images:\n- name: nginx\n  newTag: \"1.27\"\n",
    );
    let set_labels = guest("set-labels").display().to_string();
    let image_rewrite = guest("image-rewrite").display().to_string();
    let args = [
        "transform",
        "--plugin",
        &set_labels,
        "--config",
        &labels,
        "--plugin",
        &image_rewrite,
        "--config",
        &images,
    ];
    let out = capstan(&args, DEPLOYMENT);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let docs = capstan_yaml::parse_stream(&text(&out.stdout)).expect("valid YAML out");
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["metadata"]["labels"]["team"], "payments");
    assert_eq!(docs[1]["metadata"]["labels"]["team"], "payments");
    assert_eq!(
        docs[0]["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    assert_eq!(
        docs[0]["spec"]["selector"]["matchLabels"],
        serde_json::json!({"app": "web"}),
        "selectors untouched"
    );
}

#[test]
fn denial_exits_3_with_object_and_field_and_no_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_temp(&dir, "deny.yaml", "mode: deny\n");
    let hostile = guest("hostile").display().to_string();
    let out = capstan(
        &["transform", "--plugin", &hostile, "--config", &cfg],
        DEPLOYMENT,
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        out.stdout.is_empty(),
        "partial output: {}",
        text(&out.stdout)
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("error: Deployment/apps/web: metadata.name: denied on purpose"),
        "{err}"
    );
    assert!(err.contains("@sha256:"), "{err}");
}

#[test]
fn failures_exit_1_and_print_nothing_on_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_temp(&dir, "loop.yaml", "mode: loop\n");
    let hostile = guest("hostile").display().to_string();
    let out = capstan(
        &[
            "transform",
            "--plugin",
            &hostile,
            "--config",
            &cfg,
            "--timeout",
            "100ms",
        ],
        DEPLOYMENT,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("timed out after 100ms"),
        "{}",
        text(&out.stderr)
    );

    let out = capstan(&["transform"], "a: [unclosed\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("cannot parse the manifest stream"),
        "{}",
        text(&out.stderr)
    );

    let out = capstan(&["transform", "--config", &cfg], DEPLOYMENT);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("comes before any --plugin"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn guest_output_never_reaches_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_temp(&dir, "probe.yaml", "mode: probe\n");
    let hostile = guest("hostile").display().to_string();
    let out = capstan(
        &["transform", "--plugin", &hostile, "--config", &cfg],
        DEPLOYMENT,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("hostile guest writes"), "{stdout}");
    assert!(
        !text(&out.stderr).contains("hostile guest writes"),
        "{}",
        text(&out.stderr)
    );
    let docs = capstan_yaml::parse_stream(&stdout).expect("only YAML on stdout");
    assert_eq!(docs[0]["metadata"]["name"], "probe");
}

#[test]
fn plugin_build_writes_named_components_with_digests() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let plugin_dir = root().join("plugins/set-labels").display().to_string();
    let out = capstan(
        &[
            "plugin",
            "build",
            &plugin_dir,
            "-o",
            &out_dir.path().display().to_string(),
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let fields: Vec<&str> = stdout.trim().split('\t').collect();
    assert_eq!(fields.len(), 3, "{stdout}");
    assert_eq!(fields[0], "set-labels");
    let bytes = std::fs::read(fields[1]).expect("component written");
    assert_eq!(fields[2], format!("sha256:{}", sha256_hex(&bytes)));
    assert_eq!(
        &bytes[..8],
        b"\0asm\x0d\0\x01\0",
        "a component, not a core module"
    );
}

#[test]
fn plugin_new_scaffolds_a_crate_that_tests_builds_and_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let parent = dir.path().display().to_string();
    let out = capstan(&["plugin", "new", "add-owner", "--dir", &parent], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let crate_dir = dir.path().join("add-owner");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&crate_dir)
        .args(["test", "--quiet"])
        .env("CARGO_TARGET_DIR", guest_target_dir().join("scaffold"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the scaffold's own tests fail");
    let out_dir = dir.path().join("out").display().to_string();
    let out = capstan(
        &[
            "plugin",
            "build",
            &crate_dir.display().to_string(),
            "-o",
            &out_dir,
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let wasm = dir.path().join("out/add-owner.wasm").display().to_string();
    let cfg = write_temp(&dir, "cfg.yaml", "value: alice\n");
    let out = capstan(
        &["transform", "--plugin", &wasm, "--config", &cfg],
        DEPLOYMENT,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("example.com/add-owner: alice"),
        "{}",
        text(&out.stdout)
    );
    let bad = write_temp(&dir, "bad.yaml", "value: \"\"\n");
    let out = capstan(
        &["transform", "--plugin", &wasm, "--config", &bad],
        DEPLOYMENT,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("config.value: must not be empty"),
        "{}",
        text(&out.stderr)
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}
