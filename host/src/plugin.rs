//! Plugin tooling for transform authors: `capstan plugin build` compiles transform crates to Wasm
//! components with cargo and reports their digests; `capstan plugin new` scaffolds a crate that
//! builds and tests out of the box.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

/// The Rust target transforms are built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Plugin tooling failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `DIR/Cargo.toml` does not exist.
    #[error("{0} is not a Rust crate (no Cargo.toml)")]
    NotACrate(PathBuf),
    /// cargo could not be started.
    #[error("cannot run cargo")]
    RunCargo(#[source] std::io::Error),
    /// cargo reported a build failure.
    #[error("building {dir} for {WASM_TARGET} failed (cargo exited with {status})")]
    BuildPlugin {
        /// The crate directory.
        dir: PathBuf,
        /// cargo's exit status.
        status: std::process::ExitStatus,
    },
    /// The build produced no `.wasm` component (not a `cdylib`?).
    #[error(
        "building {0} produced no .wasm file: is `crate-type = [\"cdylib\"]` set in its [lib] section?"
    )]
    NoArtifact(PathBuf),
    /// Copying or writing files failed.
    #[error("cannot write {path}")]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The scaffold target exists already.
    #[error("{0} already exists")]
    AlreadyExists(PathBuf),
    /// The plugin name is not usable as a crate name.
    #[error(
        "invalid plugin name {0:?}: use lowercase letters, digits and dashes, starting with a letter"
    )]
    InvalidName(String),
}

/// One built plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltPlugin {
    /// Plugin name (the crate name without a `capstan-plugin-` prefix).
    pub name: String,
    /// Where the component was written.
    pub path: PathBuf,
    /// `sha256:<hex>` of the component.
    pub sha256: String,
}

/// Builds each crate directory for [`WASM_TARGET`] (release profile) and copies the components to
/// `out_dir/<name>.wasm`.
pub fn build(dirs: &[PathBuf], out_dir: &Path) -> Result<Vec<BuiltPlugin>, Error> {
    let mut built = Vec::new();
    std::fs::create_dir_all(out_dir).map_err(|source| Error::WriteFile {
        path: out_dir.to_owned(),
        source,
    })?;
    for dir in dirs {
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            return Err(Error::NotACrate(dir.clone()));
        }
        let manifest = manifest
            .canonicalize()
            .map_err(|_| Error::NotACrate(dir.clone()))?;
        let (package, package_id) = package_of(&manifest)?;
        let mut child = Command::new(cargo())
            .args([
                "build",
                "--release",
                "--target",
                WASM_TARGET,
                "--message-format=json-render-diagnostics",
            ])
            .arg("--manifest-path")
            .arg(&manifest)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(Error::RunCargo)?;
        let mut artifact: Option<PathBuf> = None;
        if let Some(stdout) = child.stdout.take() {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(found) = wasm_artifact(&line, &package_id) {
                    artifact = Some(found);
                }
            }
        }
        let status = child.wait().map_err(Error::RunCargo)?;
        if !status.success() {
            return Err(Error::BuildPlugin {
                dir: dir.clone(),
                status,
            });
        }
        let wasm = artifact.ok_or_else(|| Error::NoArtifact(dir.clone()))?;
        let name = package
            .strip_prefix("capstan-plugin-")
            .unwrap_or(&package)
            .to_owned();
        let bytes = std::fs::read(&wasm).map_err(|source| Error::WriteFile {
            path: wasm.clone(),
            source,
        })?;
        let path = out_dir.join(format!("{name}.wasm"));
        std::fs::write(&path, &bytes).map_err(|source| Error::WriteFile {
            path: path.clone(),
            source,
        })?;
        built.push(BuiltPlugin {
            name,
            path,
            sha256: format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
        });
    }
    Ok(built)
}

/// The package name and id of the crate at `manifest`, from `cargo metadata`.
fn package_of(manifest: &Path) -> Result<(String, String), Error> {
    let out = Command::new(cargo())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(manifest)
        .stderr(Stdio::inherit())
        .output()
        .map_err(Error::RunCargo)?;
    if !out.status.success() {
        return Err(Error::BuildPlugin {
            dir: manifest.to_owned(),
            status: out.status,
        });
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::RunCargo(std::io::Error::other(e)))?;
    meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(manifest))
        .and_then(|p| Some((p["name"].as_str()?.to_owned(), p["id"].as_str()?.to_owned())))
        .ok_or_else(|| Error::NotACrate(manifest.to_owned()))
}

fn cargo() -> std::ffi::OsString {
    // `main` turns transparent huge pages off for this process and children inherit that;
    // cargo and the compilers it runs get them back.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(false);
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// From one line of cargo's JSON messages: the `.wasm` file of a cdylib artifact of `package_id`.
fn wasm_artifact(line: &str, package_id: &str) -> Option<PathBuf> {
    let msg: serde_json::Value = serde_json::from_str(line).ok()?;
    if msg["reason"] != "compiler-artifact" || msg["package_id"] != package_id {
        return None;
    }
    if !msg["target"]["crate_types"]
        .as_array()?
        .iter()
        .any(|t| t == "cdylib")
    {
        return None;
    }
    let wasm = msg["filenames"]
        .as_array()?
        .iter()
        .filter_map(|f| f.as_str())
        .find(|f| f.ends_with(".wasm"))?;
    Some(PathBuf::from(wasm))
}

/// Creates a new transform crate `dir/NAME` depending on the SDK at `sdk_path`.
pub fn scaffold(name: &str, dir: &Path, sdk_path: &Path) -> Result<PathBuf, Error> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(Error::InvalidName(name.to_owned()));
    }
    let root = dir.join(name);
    if root.exists() {
        return Err(Error::AlreadyExists(root));
    }
    let write = |rel: &str, text: String| {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::WriteFile {
                path: parent.to_owned(),
                source,
            })?;
        }
        std::fs::write(&path, text).map_err(|source| Error::WriteFile { path, source })
    };
    let sdk = sdk_path.display().to_string().replace('\\', "/");
    write(
        "Cargo.toml",
        SCAFFOLD_CARGO
            .replace("{name}", name)
            .replace("{sdk}", &sdk),
    )?;
    write("src/lib.rs", SCAFFOLD_LIB.replace("{name}", name))?;
    write("README.md", SCAFFOLD_README.replace("{name}", name))?;
    write(".gitignore", "/target\n".to_owned())?;
    Ok(root)
}

const SCAFFOLD_CARGO: &str = r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
capstan-sdk = { path = "{sdk}" }
serde = { version = "1", features = ["derive"] }

# A standalone crate, even when created inside another workspace.
[workspace]

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
"#;

const SCAFFOLD_LIB: &str = r##"//! `{name}`: a Capstan post-render transform.
//!
//! Build: `capstan plugin build .` (writes `target/plugins/{name}.wasm`).
//! Test:  `cargo test` (runs natively, no Wasm needed).

use capstan_sdk::prelude::*;

/// Per-use config, from the `config:` of the post-renderer entry.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// The annotation key to set on every object.
    pub key: Option<String>,
    /// Its value.
    pub value: String,
}

/// Annotates every object with `key: value`.
pub fn transform(_ctx: &Context, config: Config, mut objects: Vec<Object>) -> Result<Output> {
    let key = config.key.unwrap_or_else(|| "example.com/{name}".to_owned());
    for object in &mut objects {
        object.set_annotation(key.clone(), config.value.clone());
    }
    Ok(Output::new(objects))
}

/// Rejects an empty value before anything renders.
pub fn validate(config: &Config) -> Vec<Diagnostic> {
    if config.value.is_empty() {
        return vec![Diagnostic::error("must not be empty").at("value")];
    }
    Vec::new()
}

// `per_object = true`: `transform` handles each object on its own (no object added, nothing read
// across objects), so Capstan may run a large list as parts on every core. Drop it if that changes.
capstan_sdk::export_transform!(Config, transform, validate = validate, per_object = true);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotates_every_object() {
        let objects = vec![Object::from_value(json!({"kind": "ConfigMap", "metadata": {"name": "a"}})).unwrap()];
        let config = Config { key: None, value: "yes".into() };
        let out = transform(&Context::default(), config, objects).unwrap();
        assert_eq!(out.objects[0].annotation("example.com/{name}"), Some("yes"));
    }

    #[test]
    fn empty_value_is_rejected() {
        let diags = (NATIVE.validate_config)(r#"{"value": ""}"#);
        assert_eq!(diags[0].field.as_deref(), Some("value"));
    }
}
"##;

const SCAFFOLD_README: &str = r#"# {name}

A Capstan post-render transform.

    cargo test                     # unit tests, natively
    capstan plugin build .         # -> target/plugins/{name}.wasm
    capstan transform -f manifests.yaml --plugin target/plugins/{name}.wasm --config config.yaml

`config.yaml`:

    value: hello
"#;
