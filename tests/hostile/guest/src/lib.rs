//! A hostile transform, built from source by the test harness. Its config picks the misbehaviour,
//! so one component covers every case the sandbox must contain:
//!
//! - `loop`: spins forever (must time out);
//! - `memory-bomb`: allocates until it dies (must hit the memory limit);
//! - `output-bomb`: returns far more bytes than allowed (must be cut off as too large);
//! - `panic`: panics with a message (must trap, and the message must reach the user);
//! - `probe`: tries the filesystem, environment, clock and randomness, and reports what it saw in a
//!   ConfigMap (must see nothing, and fixed values);
//! - `deny`: denies with an error diagnostic on the first object;
//! - `sleep`: sleeps 30 s in `transform` (a WASI clock subscribe + poll: time is frozen, so it
//!   must return at once); `sleep-forever`: sleeps in a loop (must time out within its limit);
//!   `sleep-in-validate`: sleeps in a loop in `validate-config` (must time out too);
//! - `exit`: calls `exit(0)` in the middle of the transform (must not pass for success);
//! - `forge-log`: writes control characters and a fake log line to stderr, then panics (the
//!   message must reach the user escaped, and bounded);
//! - `diagnostic-flood`: 10,000 warnings with control characters, then one error (must be
//!   capped, escaped, and still denied);
//! - `not-utf8`: returns an object holding [`NOT_UTF8_MARKER`]; the test harness rewrites the
//!   marker's last two bytes in the built component to `0xFF 0xFE`, so the guest hands the host
//!   a string that is not UTF-8 (safe Rust cannot make one; the component's data can);
//! - `fuel-bomb`: returns 150 MiB of objects, more than wasmtime's host-call fuel lets a call
//!   copy to the host (must be its own error);
//! - `fail-on`: fails on the first object whose name is in `names` (the error names it): with
//!   the component's `per_object` promise, the host runs large lists as parts, and the first
//!   failing part in list order must be the error;
//! - output the engine's guard must refuse, naming the plugin and the object: `escape-namespace`
//!   (moves every object to `kube-system`), `cluster-admin` (adds a ClusterRoleBinding to
//!   cluster-admin), `disown` (labels every object as another release's), `nameless` (adds an
//!   object without `metadata.name`), `duplicate` (returns every object twice).

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};

use capstan_sdk::prelude::*;

/// A string found once in the component's data: the harness overwrites its last two bytes
/// (`~~`) with `0xFF 0xFE` to make the `not-utf8` output invalid UTF-8.
pub const NOT_UTF8_MARKER: &str = "capstan-hostile-not-utf8-marker~~";

/// Which misbehaviour.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `loop`, `memory-bomb`, `output-bomb`, `panic`, `probe`, `deny`, `sleep`,
    /// `sleep-in-validate`, `exit`, `forge-log`, `fail-on`, ….
    pub mode: String,
    /// For `fail-on`: the object names to fail on.
    pub names: Vec<String>,
}

/// Misbehaves as configured.
pub fn transform(_ctx: &Context, config: Config, objects: Vec<Object>) -> Result<Output> {
    match config.mode.as_str() {
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "memory-bomb" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![7u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "output-bomb" => {
            let big = "x".repeat(1 << 20);
            let mut out = Vec::new();
            for i in 0..40 {
                let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("bomb-{i}")}, "data": {"x": big}});
                out.push(Object::from_value(obj).ok_or_else(|| Error::failed("not an object"))?);
            }
            Ok(Output::new(out))
        }
        "panic" => panic!("hostile guest panicked on purpose"),
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(30));
            Ok(Output::new(objects))
        }
        "sleep-forever" => sleep_forever(),
        "exit" => std::process::exit(0),
        "not-utf8" => {
            let obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "bytes"}, "data": {"x": NOT_UTF8_MARKER}});
            Ok(Output::new(vec![
                Object::from_value(obj).ok_or_else(|| Error::failed("not an object"))?,
            ]))
        }
        "diagnostic-flood" => {
            let mut out = Output::new(objects);
            for i in 0..10_000 {
                out = out.with_diagnostic(Diagnostic::warning(format!(
                    "warning {i}\n\u{1b}[31mlevel=error msg=forged"
                )));
            }
            Ok(out.with_diagnostic(Diagnostic::error("the real denial")))
        }
        "fuel-bomb" => {
            let big = "x".repeat(1 << 20);
            let mut out = Vec::new();
            for i in 0..150 {
                let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("fuel-{i}")}, "data": {"x": big}});
                out.push(Object::from_value(obj).ok_or_else(|| Error::failed("not an object"))?);
            }
            Ok(Output::new(out))
        }
        "forge-log" => {
            eprintln!("\u{1b}[2J\rlevel=info msg=\"release applied\" plugin=trusted");
            eprintln!("{}", "A".repeat(8 << 10));
            panic!("forged\nlevel=info msg=\"all good\"\u{7}");
        }
        "probe" => Ok(Output::new(vec![probe()?])),
        "escape-namespace" => Ok(Output::new(
            objects
                .into_iter()
                .map(|mut o| {
                    o.metadata_mut()
                        .insert("namespace".into(), json!("kube-system"));
                    o
                })
                .collect(),
        )),
        "cluster-admin" => {
            let mut out = objects;
            out.push(object(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "pwned"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:authenticated"}],
            }))?);
            Ok(Output::new(out))
        }
        "disown" => Ok(Output::new(
            objects
                .into_iter()
                .map(|mut o| {
                    o.set_label("capstan.dev/name", "victim");
                    o
                })
                .collect(),
        )),
        "nameless" => {
            let mut out = objects;
            out.push(object(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
            )?);
            Ok(Output::new(out))
        }
        "duplicate" => {
            let mut out = objects.clone();
            out.extend(objects);
            Ok(Output::new(out))
        }
        "fail-on" => {
            for obj in &objects {
                if config.names.iter().any(|n| n == obj.name()) {
                    return Err(Error::failed(format!(
                        "failed on purpose at {}",
                        obj.name()
                    )));
                }
            }
            Ok(Output::new(objects))
        }
        "deny" => {
            let diag = match objects.first() {
                Some(o) => Diagnostic::error("denied on purpose")
                    .on(o)
                    .at("metadata.name"),
                None => Diagnostic::error("denied on purpose"),
            };
            Ok(Output::new(objects).with_diagnostic(diag))
        }
        other => Err(Error::bad_config("mode", format!("unknown mode {other:?}"))),
    }
}

fn object(value: Value) -> Result<Object> {
    Object::from_value(value).ok_or_else(|| Error::failed("not an object"))
}

fn probe() -> Result<Object> {
    // Both must go nowhere near the host's stdout (stderr is kept only for trap messages).
    println!("hostile guest writes to stdout");
    eprintln!("hostile guest writes to stderr");
    let mut data = BTreeMap::new();
    let file = match std::fs::read_to_string("/etc/passwd") {
        Ok(text) => format!("read {} bytes", text.len()),
        Err(e) => format!("error: {e}"),
    };
    data.insert("file", file);
    let dir = match std::fs::read_dir(".") {
        Ok(entries) => format!("listed {} entries", entries.count()),
        Err(e) => format!("error: {e}"),
    };
    data.insert("dir", dir);
    data.insert(
        "env",
        std::env::vars()
            .map(|(k, _)| k)
            .collect::<Vec<_>>()
            .join(","),
    );
    data.insert("args", std::env::args().collect::<Vec<_>>().join(","));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos().to_string())
        .unwrap_or_else(|e| format!("before epoch: {e}"));
    data.insert("clock", now);
    let started = std::time::Instant::now();
    data.insert("elapsed", started.elapsed().as_nanos().to_string());
    // HashMap keys come from the host's randomness source: fixed randomness, fixed hash.
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write(b"capstan");
    data.insert("random", hasher.finish().to_string());
    let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe"}, "data": data});
    Object::from_value(obj).ok_or_else(|| Error::failed("not an object"))
}

/// Accepts every config, except that `sleep-in-validate` sleeps forever.
pub fn check(config: &Config) -> Vec<Diagnostic> {
    if config.mode == "sleep-in-validate" {
        sleep_forever();
    }
    Vec::new()
}

fn sleep_forever() -> ! {
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

// A promise the host cannot check, and a hostile guest may break (`duplicate`, `probe` and
// `nameless` do, on lists large enough to be cut into parts): it only ever costs the guest its own
// output, which the engine's guard still judges as a whole after every step.
capstan_sdk::export_transform!(Config, transform, validate = check, per_object = true);
