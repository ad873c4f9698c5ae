//! Fuzzing without cargo-fuzz: each target feeds pseudo-random inputs, built from pieces that
//! matter to its parser, to one entry point and requires an answer — a value or an error, never
//! a panic, an abort or a hang. Every `cargo test` runs a short bounded number of cases from a
//! fixed seed (so a failure reproduces from its case number); a longer run is
//! `CAPSTAN_FUZZ_CASES=200000 CAPSTAN_FUZZ_SEED=7 cargo test -p capstan-tests --release --test all -- fuzz`.
//! A panic prints the target, seed, case and the input. Crashes found become regression tests
//! next to the code they fixed.
//!
//! Targets: the YAML reader (`capstan_yaml::parse_stream`, with a write → read round trip of
//! whatever it accepts), Helm's go-yaml reader (`capstan_helm::yaml::parse_documents`), the
//! manifest splitters (`capstan_helm::split_manifests` and the post-render
//! `parse_manifests`), strvals (`--set`, `--set-string`, `--set-json`, `--set-literal`) and
//! the chart loader (`Chart::from_archive`, archives with mutated tar headers and contents). The
//! template lexer/parser/executor target lives with the template engine
//! (`host/gotmpl/src/tests/fuzz.rs`); the writer's property test with the real kubectl in
//! `host/yaml/tests/roundtrip.rs`.

use std::io::{Read as _, Write as _};
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::{Map, Value};

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or(0)
    }

    /// `1..=max` pieces of `pieces`, concatenated.
    fn text(&mut self, pieces: &[&str], max: usize) -> String {
        let n = 1 + self.below(max);
        (0..n).map(|_| pieces[self.below(pieces.len())]).collect()
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `cases` cases of `target` (overridden by `CAPSTAN_FUZZ_CASES`), each with its own
/// generator, reporting the case that panicked with its input.
fn fuzz<I: std::fmt::Debug>(
    target: &str,
    cases: u64,
    generate: impl Fn(&mut Rng) -> I,
    check: impl Fn(&I),
) {
    let cases = env_u64("CAPSTAN_FUZZ_CASES", cases);
    let seed = env_u64("CAPSTAN_FUZZ_SEED", 1);
    for case in 0..cases {
        let mut rng = Rng::new(seed.wrapping_mul(1_000_003).wrapping_add(case));
        let input = generate(&mut rng);
        if catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
            panic!("fuzz target {target}: seed {seed}, case {case} panicked on input {input:?}");
        }
    }
}

/// Pieces of YAML: indicators, indentation, anchors and aliases, tags, quotes, flow and block
/// collections, document markers, line breaks of every kind, scalars that resolve to types.
const YAML: &[&str] = &[
    "a",
    "b",
    ":",
    ": ",
    " ",
    "  ",
    "\n",
    "\n  ",
    "\n- ",
    "- ",
    "-",
    "---\n",
    "...\n",
    "#c",
    "?",
    "? ",
    "&x ",
    "*x",
    "&y ",
    "*y",
    "<<: ",
    "!!str ",
    "!!int ",
    "!!binary ",
    "!t ",
    "|",
    "|-",
    "|+",
    "|2",
    ">",
    ">-",
    "\"",
    "'",
    "\\",
    "\\u00e9",
    "\\x41",
    "\\N",
    "{",
    "}",
    "[",
    "]",
    ",",
    "1",
    "-2",
    "0x1F",
    "0o17",
    "1e3",
    ".inf",
    "-.nan",
    "~",
    "null",
    "true",
    "yes",
    "off",
    "2001-12-14",
    "1:20",
    "é",
    "\u{85}",
    "\u{2028}",
    "\t",
    "\r\n",
    "\u{feff}",
    "%YAML 1.1\n",
    "%TAG ! tag:x,2000:\n",
    "=",
    "@",
    "`",
    "key",
    "kind: ConfigMap\n",
    "apiVersion: v1\n",
    "metadata:\n  name: x\n",
];

#[test]
fn yaml_reader_answers_and_what_it_reads_round_trips() {
    fuzz(
        "capstan_yaml::parse_stream",
        3000,
        |rng| rng.text(YAML, 40),
        |text| {
            let Ok(docs) = capstan_yaml::parse_stream(text) else {
                return;
            };
            // Whatever the reader accepts, the writer writes so that it reads back the same.
            let written = capstan_yaml::to_stream(&docs);
            let again = capstan_yaml::parse_stream(&written)
                .unwrap_or_else(|e| panic!("written text does not read: {e}\n{written}"));
            let docs: Vec<&Value> = docs.iter().filter(|d| !d.is_null()).collect();
            let again: Vec<&Value> = again.iter().filter(|d| !d.is_null()).collect();
            assert_eq!(docs, again, "round trip changed the values:\n{written}");
        },
    );
}

#[test]
fn helm_yaml_reader_answers() {
    fuzz(
        "capstan_helm::yaml::parse_documents",
        3000,
        |rng| rng.text(YAML, 40),
        |text| {
            if let Ok(nodes) = capstan_helm::yaml::parse_documents(text) {
                for node in &nodes {
                    let _ = capstan_helm::yaml::node_to_json(node);
                    let _ = capstan_helm::yaml::to_yaml_document(node);
                }
            }
        },
    );
}

#[test]
fn manifest_splitters_answer() {
    const PIECES: &[&str] = &[
        "---",
        "---\n",
        "\n---\n",
        "--- # c\n",
        "----\n",
        "...\n",
        "# Source: x/t.yaml\n",
        "\n",
        "apiVersion: v1\n",
        "kind: ConfigMap\n",
        "metadata:\n  name: a\n",
        "  namespace: b\n",
        "data:\n  k: |\n    ---\n    x\n",
        "- 1\n",
        "a: [1, {b: c}]\n",
        "\u{2028}",
        "\u{85}",
        "'",
        "\"",
        "{",
        "}",
        " ",
        "\t",
        "\r\n",
        "x",
        ": ",
        "&a ",
        "*a",
    ];
    fuzz(
        "split_manifests + parse_manifests",
        3000,
        |rng| rng.text(PIECES, 30),
        |text| {
            for doc in capstan_helm::split_manifests(text) {
                let _ = capstan_helm::yaml::manifest_to_json(&doc);
            }
            let _ = capstan_engine::postrender::parse_manifests(text);
        },
    );
}

#[test]
fn strvals_answer() {
    const PIECES: &[&str] = &[
        "a",
        "b",
        ".",
        "=",
        ",",
        "[",
        "]",
        "0",
        "1",
        "-1",
        "99999999999999999999",
        "\\",
        "\\,",
        "\\.",
        "\\=",
        "{",
        "}",
        "\"",
        ":",
        " ",
        "null",
        "true",
        "1e400",
        "é",
        "[0]",
        "[1000]",
        "a[0][0]",
        "\u{0}",
    ];
    fuzz(
        "strvals",
        3000,
        |rng| (rng.below(4), rng.text(PIECES, 30)),
        |(flavour, text)| {
            let mut dest = Map::new();
            let _ = match flavour {
                0 => capstan_helm::parse_set(text, &mut dest),
                1 => capstan_helm::parse_set_string(text, &mut dest),
                2 => capstan_helm::parse_set_json(text, &mut dest),
                _ => capstan_helm::parse_set_literal(text, &mut dest),
            };
        },
    );
}

/// A small valid chart's files, from which mutated archives are made.
fn mk_chart_files(rng: &mut Rng) -> Vec<(String, Vec<u8>)> {
    const NAMES: &[&str] = &[
        "c/templates/cm.yaml",
        "c/templates/_helpers.tpl",
        "c/templates/NOTES.txt",
        "c/crds/crd.yaml",
        "c/charts/sub/Chart.yaml",
        "c/charts/sub/values.yaml",
        "c/files/a.txt",
        "c/.helmignore",
        "c/values.schema.json",
        "c/requirements.yaml",
        "c/Chart.lock",
    ];
    let mut files = vec![
        (
            "c/Chart.yaml".to_owned(),
            b"apiVersion: v2\nname: c\nversion: 1.0.0\n".to_vec(),
        ),
        ("c/values.yaml".to_owned(), b"a: 1\n".to_vec()),
    ];
    for _ in 0..rng.below(5) {
        let name = NAMES[rng.below(NAMES.len())].to_owned();
        let body = rng.text(YAML, 10).into_bytes();
        files.push((name, body));
    }
    files
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("our own archive decompresses");
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip in memory");
    gz.finish().expect("gzip in memory")
}

#[test]
fn chart_loader_answers_for_mutated_archives() {
    const BYTES: &[u8] = b"\0/.7x9 \xff\x80";
    fuzz(
        "Chart::from_archive",
        1500,
        |rng| {
            let files = mk_chart_files(rng);
            let archive = capstan_source::package_chart(
                files.iter().map(|(n, b)| (n.as_str(), b.as_slice())),
            )
            .expect("package in memory");
            let mut tar = gunzip(&archive);
            // Mutate header fields (name, mode, size, checksum, type, link name) and contents.
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(tar.len());
                tar[at] = if rng.below(2) == 0 {
                    BYTES[rng.below(BYTES.len())]
                } else {
                    u8::try_from(rng.below(256)).unwrap_or(0)
                };
            }
            if rng.below(4) == 0 {
                let keep = rng.below(tar.len());
                tar.truncate(keep);
            }
            gzip(&tar)
        },
        |archive| {
            let _ = capstan_helm::Chart::from_archive(archive, "fuzz.tgz");
        },
    );
}
