//! The fuzz targets' checks (`tests/fuzz/src/lib.rs`, included here) on seeded generated inputs,
//! so every `cargo test` runs them without a fuzzer: each generator builds inputs from pieces
//! that matter to its parser, and every case must answer — a value or an error, never a panic,
//! an abort or a hang — and keep the target's promises (the YAML writer's round trip). A fixed
//! seed makes a failure reproduce from its case number; a longer run is
//! `CAPSTAN_FUZZ_CASES=200000 CAPSTAN_FUZZ_SEED=7 cargo test -p capstan-tests --release --test all -- fuzz`.
//! The coverage-guided runs of the same checks are `tests/fuzz/run` (cargo-fuzz, libFuzzer);
//! these stay because they cost nothing extra in CI and their generators reach structure
//! (valid tar archives with mutated headers, template token soups) that a fuzzer starting from
//! the seeds takes a while to find. A panic prints the target, seed, case and the input.
//! Crashes found become regression tests next to the code they fixed.

use std::io::Read as _;
use std::panic::{AssertUnwindSafe, catch_unwind};

#[path = "../fuzz/src/lib.rs"]
#[expect(
    unreachable_pub,
    reason = "the same file is the capstan-fuzz library, whose targets call these functions"
)]
mod checks;

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

/// Runs `cases` cases (overridden by `CAPSTAN_FUZZ_CASES`) of the check `target`, each input
/// from its own generator, reporting the case that panicked with its input; at least
/// `min_accepted` percent of the inputs must get past the entry point's first error, or the
/// generator tests nothing beyond it.
fn fuzz(
    target: &str,
    cases: u64,
    min_accepted: u64,
    generate: impl Fn(&mut Rng) -> Vec<u8>,
    check: fn(&[u8]) -> bool,
) {
    let cases = env_u64("CAPSTAN_FUZZ_CASES", cases);
    let seed = env_u64("CAPSTAN_FUZZ_SEED", 1);
    let mut accepted = 0;
    for case in 0..cases {
        let mut rng = Rng::new(seed.wrapping_mul(1_000_003).wrapping_add(case));
        let input = generate(&mut rng);
        match catch_unwind(AssertUnwindSafe(|| check(&input))) {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(_) => panic!(
                "fuzz target {target}: seed {seed}, case {case} panicked on input {:?}",
                String::from_utf8_lossy(&input)
            ),
        }
    }
    assert!(
        accepted * 100 >= cases * min_accepted,
        "fuzz target {target}: only {accepted} of {cases} inputs were accepted (want {min_accepted}%)"
    );
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
        "yaml_reader",
        3000,
        10,
        |rng| rng.text(YAML, 40).into_bytes(),
        checks::yaml_reader,
    );
}

#[test]
fn yaml_writer_output_reads_back_the_same() {
    fuzz(
        "yaml_writer",
        3000,
        100,
        |rng| {
            (0..rng.below(200))
                .map(|_| u8::try_from(rng.below(256)).unwrap_or(0))
                .collect()
        },
        checks::yaml_writer,
    );
}

#[test]
fn helm_yaml_reader_answers_and_to_yaml_reads_back() {
    fuzz(
        "helm_yaml",
        3000,
        10,
        |rng| rng.text(YAML, 40).into_bytes(),
        checks::helm_yaml,
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
    // About 9% of these inputs read: `: x` makes a null key, which kubectl and Helm refuse
    // (libyaml: "did not find expected key") and so does the one reader.
    fuzz(
        "manifests",
        3000,
        5,
        |rng| rng.text(PIECES, 30).into_bytes(),
        checks::manifests,
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
        "\n",
    ];
    fuzz(
        "strvals",
        3000,
        10,
        |rng| {
            let mut input = vec![u8::try_from(rng.below(5)).unwrap_or(0)];
            input.extend(rng.text(PIECES, 30).into_bytes());
            input
        },
        checks::strvals,
    );
}

/// Pieces of templates: delimiters with trim markers, actions, pipelines, variables, literals of
/// every kind, control structures, functions (built-in, Sprig, `include`/`tpl`) and stray text.
const TEMPLATE: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    "-}}",
    "{{/*",
    "*/}}",
    " ",
    "\n",
    ".",
    ".Values",
    ".Values.name",
    ".Values.list",
    ".Values.map",
    ".a",
    "$",
    "$x",
    "$x :=",
    ":=",
    "=",
    "|",
    "(",
    ")",
    "\"s\"",
    "`r`",
    "'c'",
    "1",
    "-2",
    "3.5",
    "0x1F",
    "1e3",
    "if",
    "else",
    "else if",
    "end",
    "range",
    "range $i, $v :=",
    "with",
    "define \"d\"",
    "template \"d\"",
    "block \"b\" .",
    "break",
    "continue",
    "nil",
    "true",
    "printf",
    "\"%v %d\"",
    "\"%*d\"",
    "len",
    "index",
    "slice",
    "eq",
    "lt",
    "and",
    "or",
    "not",
    "default",
    "list",
    "dict",
    "include \"d\"",
    "tpl",
    "upper",
    "quote",
    "toYaml",
    "toJson",
    "fromYaml",
    "fromJson",
    "regexFind",
    "\"a*\"",
    "repeat",
    "until",
    "semverCompare",
    "urlParse",
    "b64dec",
    "sha256sum",
    "nindent",
    "trim",
    "split",
    "merge",
    "set",
    "\u{0}",
    ",",
    "é",
    "{",
    "}",
    "#",
    "\\",
    "\"",
    "'",
    "`",
    "%",
    "@",
];

#[test]
fn templates_parse_and_execute_or_fail() {
    fuzz(
        "template",
        3000,
        5,
        |rng| rng.text(TEMPLATE, 24).into_bytes(),
        checks::template,
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
        let body = if name.contains("/templates/") {
            rng.text(TEMPLATE, 10)
        } else {
            rng.text(YAML, 10)
        };
        files.push((name, body.into_bytes()));
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

#[test]
fn chart_loader_answers_for_mutated_archives() {
    const BYTES: &[u8] = b"\0/.7x9 \xff\x80";
    fuzz(
        "chart",
        1500,
        5,
        |rng| {
            let files = mk_chart_files(rng);
            let archive = capstan_source::package_chart(
                files.iter().map(|(n, b)| (n.as_str(), b.as_slice())),
            )
            .expect("package in memory");
            let mut tar = gunzip(&archive);
            // Mutate header fields (name, mode, size, checksum, type, link name) and contents,
            // most of the time; the target gzips the tar (mode 0: Helm 3, 2: Helm 4).
            for _ in 0..rng.below(8) {
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
            let mut input = vec![if rng.below(2) == 0 { 0 } else { 2 }];
            input.extend(tar);
            input
        },
        checks::chart,
    );
}
