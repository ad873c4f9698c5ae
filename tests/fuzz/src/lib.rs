//! What each fuzz target checks, in one place: the libFuzzer targets in `fuzz_targets/` are one
//! line each over these functions, and `cargo test` runs the same functions on seeded generated
//! inputs (`tests/all/fuzz.rs` includes this file), so a property is written once whether a
//! coverage-guided fuzzer or a fixed seed finds the input.
//!
//! Every function takes raw bytes and must return — a value or an error from the code under
//! test is fine; a panic, an abort, a stack overflow, a hang or unbounded memory is a finding.
//! Each returns whether the entry point accepted the input (parsed, loaded), which the seeded
//! runs use to check that their generators reach past the first error.
//! Where the code under test promises more (the manifest writer's output reads back as the same
//! values), the function asserts it. Inputs that are not UTF-8 are dropped by the text targets:
//! every entry point they call takes `&str`.

use serde_json::{Map, Value};

/// `capstan_yaml::parse_stream`, the manifest reader (post-render input, plugin configs,
/// `capstan transform -f`): whatever it accepts, the writer writes so that it reads back as the
/// same documents; and reading straight into JSON text (`parse_stream_texts`, what a chain of
/// Wasm steps reads) gives `serde_json`'s text of those documents, or the same error.
pub fn yaml_reader(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let read = capstan_yaml::parse_stream(text);
    let as_text = read
        .as_ref()
        .map(|docs| docs.iter().map(Value::to_string).collect::<Vec<_>>())
        .map_err(Clone::clone);
    assert_eq!(
        capstan_yaml::parse_stream_texts(text),
        as_text,
        "reading into text and into values disagree"
    );
    let Ok(docs) = read else {
        return false;
    };
    let written = capstan_yaml::to_stream(&docs);
    let again = capstan_yaml::parse_stream(&written)
        .unwrap_or_else(|e| panic!("written text does not read: {e}\n{written}"));
    // An empty document reads as null; the writer writes no document for it.
    let docs: Vec<&Value> = docs.iter().filter(|d| !d.is_null()).collect();
    let again: Vec<&Value> = again.iter().filter(|d| !d.is_null()).collect();
    assert_eq!(docs, again, "round trip changed the values:\n{written}");
    true
}

/// `capstan_yaml::to_stream`, the manifest writer, on arbitrary values decoded from the bytes
/// (every Unicode scalar value in strings and keys, integers, floats, nesting): the stream it
/// writes reads back as exactly the same documents. This is the property that keeps a tenant's
/// string from ending its scalar early and smuggling objects past the post-renderers.
pub fn yaml_writer(data: &[u8]) -> bool {
    let docs = Decoder(data).documents();
    let written = capstan_yaml::to_stream(&docs);
    let back = capstan_yaml::parse_stream(&written)
        .unwrap_or_else(|e| panic!("written text does not read: {e}\n{written}"));
    // A null document is no object: the reader drops it, as kubectl does.
    let docs: Vec<&Value> = docs.iter().filter(|d| !d.is_null()).collect();
    let back: Vec<&Value> = back.iter().filter(|d| !d.is_null()).collect();
    assert_eq!(back, docs, "round trip changed the values:\n{written}");
    true
}

/// Helm's go-yaml reader (`capstan_helm::yaml`): values files, `fromYaml`, rendered manifests.
/// Every parsed document converts (or fails) both ways Helm converts it, and writes with
/// go-yaml's emitter; data that converts writes (`toYaml`) as text that reads back as the same
/// data (`fromYaml`), numbers compared as the float64s Helm holds.
pub fn helm_yaml(data: &[u8]) -> bool {
    use capstan_helm::yaml;
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(nodes) = yaml::parse_documents(text) else {
        return false;
    };
    for node in &nodes {
        let _ = yaml::node_to_json_typed(node);
        let _ = yaml::to_yaml_document(node);
        let Ok(json) = yaml::node_to_json(node) else {
            continue;
        };
        let written = yaml::json_to_yaml(&json);
        // go-yaml writes NEL, U+2028 and U+2029 raw in quoted scalars and, being YAML 1.1,
        // reads them back as line breaks (the indentation after them dropped); Capstan's reader
        // (saphyr's events, YAML 1.2) takes them as ordinary characters, so such text does not
        // round-trip the way Helm's does: a known gap, listed in tests/conformance/README.md.
        // Everything else must round-trip.
        if written.contains(['\u{85}', '\u{2028}', '\u{2029}']) {
            continue;
        }
        let back = yaml::parse_json_like(&written)
            .unwrap_or_else(|e| panic!("toYaml output does not read: {e}\n{written}"));
        assert_eq!(
            as_floats(&back),
            as_floats(&json),
            "toYaml | fromYaml changed the data:\n{written}"
        );
    }
    true
}

/// Numbers as the float64 Helm's values hold (`json.Unmarshal` into `interface{}`).
fn as_floats(v: &Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Array(items) => Value::Array(items.iter().map(as_floats).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), as_floats(v))).collect())
        }
        other => other.clone(),
    }
}

/// The template engine (`capstan_gotmpl`): lexer, parser and executor with Sprig and Helm-style
/// `include`/`tpl`, under a small render budget. The bytes are a template and, after the first
/// NUL, a helpers file parsed into the same set (`define`s, `block`s).
pub fn template(data: &[u8]) -> bool {
    use capstan_gotmpl::{TemplateSet, Value as GoValue};
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let (main, helpers) = text.split_once('\0').unwrap_or((text, ""));
    let mut set = TemplateSet::new(template_funcs());
    set.set_max_depth(64);
    set.set_render_budget(1 << 20, 100_000);
    if set.parse("_helpers.tpl", helpers).is_err() || set.parse("t.yaml", main).is_err() {
        return false;
    }
    let values = serde_json::json!({
        "Values": {
            "name": "web", "port": 8080, "ratio": 0.5, "on": true, "none": null,
            "list": [1, "two", {"three": 3}], "map": {"a": {"b": "c"}}, "text": "l1\nl2",
        },
        "Release": {"Name": "r", "Namespace": "ns"},
    });
    let _ = set.execute("t.yaml", &GoValue::from_json_go(&values));
    true
}

/// Sprig plus `include` and `tpl` as Helm defines them, minus the key and certificate
/// generators, whose multi-second RSA key generation would only slow the fuzzer down.
fn template_funcs() -> capstan_gotmpl::FuncMap {
    use capstan_gotmpl::{CallContext, FuncError, Signature, Ty, Value as GoValue, sprig};
    const SLOW: &[&str] = &[
        "genPrivateKey",
        "genCA",
        "genCAWithKey",
        "genSelfSignedCert",
        "genSelfSignedCertWithKey",
        "genSignedCert",
        "genSignedCertWithKey",
        "buildCustomCert",
    ];
    let all = sprig::sprig_funcs();
    let mut funcs = capstan_gotmpl::FuncMap::new();
    for name in all.names().filter(|n| !SLOW.contains(n)) {
        if let Some(f) = all.get(name) {
            funcs.insert(name, f.clone());
        }
    }
    funcs.register_with_context(
        "include",
        Signature::new(&[Ty::String, Ty::Any]),
        |cx: &mut CallContext<'_>, args: &[GoValue]| {
            let name = args[0].as_str().unwrap_or_default().to_owned();
            cx.execute_template(&name, &args[1])
                .map(GoValue::from)
                .map_err(|e| FuncError::wrap("", e))
        },
    );
    funcs.register_with_context(
        "tpl",
        Signature::new(&[Ty::String, Ty::Any]),
        |cx: &mut CallContext<'_>, args: &[GoValue]| {
            let src = args[0].as_str().unwrap_or_default().to_owned();
            cx.render_string("gotpl", &src, &args[1])
                .map(GoValue::from)
                .map_err(|e| FuncError::wrap("tpl", e))
        },
    );
    funcs
}

/// Helm's strvals (`--set`, `--set-string`, `--set-json`, `--set-literal`, `--set-file`): the
/// first byte picks the flag, the rest is one argument per line, all merged into one map as
/// repeated flags are.
pub fn strvals(data: &[u8]) -> bool {
    let Some((&flavour, rest)) = data.split_first() else {
        return false;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return false;
    };
    let mut accepted = false;
    let mut dest = Map::new();
    let read = |path: &str| -> Result<String, String> { Ok(path.to_owned()) };
    for arg in text.split('\n') {
        accepted |= match flavour % 5 {
            0 => capstan_helm::parse_set(arg, &mut dest),
            1 => capstan_helm::parse_set_string(arg, &mut dest),
            2 => capstan_helm::parse_set_json(arg, &mut dest),
            3 => capstan_helm::parse_set_literal(arg, &mut dest),
            _ => capstan_helm::parse_set_file(arg, &mut dest, &read),
        }
        .is_ok();
    }
    accepted
}

/// The chart loader: `capstan_helm::Chart::from_archive` (and `capstan_source`'s `Chart.yaml`
/// reader, which indexes repositories) on a chart archive, then, when it loads, a render with
/// Helm's pipeline (dependencies, values, schema, templates, manifest sorting). The first byte's
/// low bit says whether the rest is a plain tar that the target gzips (so the fuzzer mutates tar
/// headers and files, not compressed bytes) or a `.tgz` as is; the next bit picks Helm 3 or 4.
pub fn chart(data: &[u8]) -> bool {
    use capstan_helm::{Capabilities, Chart, HelmVersion, Release, Values};
    let Some((&mode, rest)) = data.split_first() else {
        return false;
    };
    let archive = if mode & 1 == 0 {
        gzip(rest)
    } else {
        rest.to_vec()
    };
    let _ = capstan_source::read_chart_metadata(&archive);
    let Ok(chart) = Chart::from_archive(&archive, "fuzz.tgz") else {
        return false;
    };
    let helm = if mode & 2 == 0 {
        HelmVersion::V3
    } else {
        HelmVersion::V4
    };
    let _ = capstan_helm::render(
        &chart,
        &Values::new(),
        &Release::default(),
        &Capabilities::for_helm(helm),
    );
    true
}

/// Gzip in memory, the fastest level: the compression is not what is fuzzed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip into memory cannot fail");
    gz.finish().expect("gzip into memory cannot fail")
}

/// The manifest splitters: Helm's (`split_manifests`, each part read as the API server's JSON)
/// for rendered templates and stored releases, and the post-render reader that splits a stream
/// into objects (`capstan_yaml::parse_stream`, behind `capstan_engine`'s `parse_manifests`).
pub fn manifests(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    for doc in capstan_helm::split_manifests(text) {
        let _ = capstan_helm::yaml::manifest_to_json(&doc);
    }
    capstan_yaml::parse_stream(text).is_ok()
}

/// Decodes bytes into JSON documents for the writer target: a small stack machine, so that
/// every byte string is some list of values and nearby byte strings are nearby values.
struct Decoder<'a>(&'a [u8]);

/// Characters a writer must take care with, reachable with one byte (0x80..=0xBF).
const SPECIAL: &[char] = &[
    '\u{85}',
    '\u{2028}',
    '\u{2029}',
    '\u{feff}',
    '\u{7f}',
    '\u{80}',
    '\u{9f}',
    '\u{a0}',
    '\u{fffe}',
    '\u{ffff}',
    '\u{d7ff}',
    '\u{e000}',
    '\u{10ffff}',
    '\u{1f600}',
    'é',
    '\u{3000}',
];

impl Decoder<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn bytes8(&mut self) -> [u8; 8] {
        let mut out = [0; 8];
        for b in &mut out {
            *b = self.byte().unwrap_or(0);
        }
        out
    }

    /// Up to 8 documents, until the bytes run out.
    fn documents(&mut self) -> Vec<Value> {
        let mut docs = Vec::new();
        while docs.len() < 8
            && let Some(v) = self.value(0)
        {
            docs.push(v);
        }
        docs
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        let op = self.byte()?;
        let width = if depth < 6 { usize::from(op >> 4) } else { 0 };
        Some(match op & 0x0f {
            0 => Value::Null,
            1 => Value::Bool(op & 0x10 != 0),
            2 => Value::from(i64::from_le_bytes(self.bytes8())),
            3 => Value::from(u64::from_le_bytes(self.bytes8())),
            4 => Value::from(i64::from(self.byte().unwrap_or(0)) - 128),
            5 => serde_json::Number::from_f64(f64::from_le_bytes(self.bytes8()))
                .map_or(Value::Null, Value::Number),
            6 | 7 => Value::Array((0..width).map_while(|_| self.value(depth + 1)).collect()),
            8..=10 => {
                let mut map = Map::new();
                for _ in 0..width {
                    let key = self.string();
                    let Some(v) = self.value(depth + 1) else {
                        break;
                    };
                    map.insert(key, v);
                }
                Value::Object(map)
            }
            _ => Value::String(self.string()),
        })
    }

    /// A string: a length byte, then per character one byte (ASCII, or a [`SPECIAL`]
    /// character) or, for 0xC0..=0xFF, three more bytes giving any scalar value.
    fn string(&mut self) -> String {
        let len = self.byte().unwrap_or(0) % 48;
        let mut s = String::new();
        for _ in 0..len {
            let Some(b) = self.byte() else { break };
            match b {
                0..=0x7f => s.push(char::from(b)),
                0x80..=0xbf => s.push(SPECIAL[usize::from(b - 0x80) % SPECIAL.len()]),
                _ => {
                    let [x, y, z] = [(); 3].map(|()| self.byte().unwrap_or(0));
                    let code = u32::from_le_bytes([x, y, z, 0]) % 0x11_0000;
                    s.extend(char::from_u32(code));
                }
            }
        }
        s
    }
}
