//! Integration tests against real servers on loopback: the crate's HTTP Helm repository
//! server, Debian's `docker-registry` (distribution 2.8), and the real `helm` binaries as an
//! oracle for index generation, version resolution and OCI layout.

mod helm_oracle;
mod http_repo;
mod oci;

use std::path::{Path, PathBuf};

use capstan_source::{IndexFile, package_simple_chart};

/// Package `name-version.tgz` into `dir` and return its bytes.
pub(crate) fn add_chart(dir: &Path, name: &str, version: &str) -> Vec<u8> {
    let bytes = package_simple_chart(
        name,
        version,
        &format!("greeting: hello from {name} {version}\n"),
        &[(
            "configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting }}\n",
        )],
    )
    .expect("package chart");
    std::fs::write(dir.join(format!("{name}-{version}.tgz")), &bytes).expect("write chart");
    bytes
}

/// Write `index.yaml` for `dir`.
pub(crate) fn write_index(dir: &Path, base_url: Option<&str>) -> IndexFile {
    let index = IndexFile::from_directory(dir, base_url).expect("index directory");
    std::fs::write(dir.join("index.yaml"), index.to_yaml()).expect("write index");
    index
}

/// `.tools/bin/<name>` when installed (by `.ci/install-helm`).
pub(crate) fn helm_binary(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../.tools/bin")
        .join(name);
    if path.is_file() {
        return Some(path);
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    assert!(
        !ci,
        "{} missing under CI: run .ci/install-helm",
        path.display()
    );
    eprintln!(
        "\n*** SKIPPING: {} not installed (run .ci/install-helm) ***\n",
        path.display()
    );
    None
}
