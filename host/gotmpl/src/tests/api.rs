//! Tests of the public API: template sets across files, host functions with context callbacks,
//! host objects, shared map mutation, and error variants.

use std::collections::BTreeMap;

use super::{err, mk_data, mk_set, ok, render};
use crate::{CallContext, Error, FuncMap, FuncResult, Object, Signature, TemplateSet, Ty, Value};

#[test]
fn later_definition_overrides_earlier_unless_empty() {
    let set = mk_set(&[
        (
            "a.tpl",
            r#"{{ define "x" }}first{{ end }}{{ define "y" }}keep{{ end }}"#,
        ),
        (
            "b.tpl",
            r#"{{ define "x" }}second{{ end }}{{ define "y" }} {{ end }}"#,
        ),
        ("main", r#"{{ template "x" }}/{{ template "y" }}"#),
    ]);
    assert_eq!(
        set.execute("main", &Value::Nil).expect("renders"),
        "second/keep"
    );
}

#[test]
fn file_template_knows_its_name_in_errors() {
    let set = mk_set(&[("chart/templates/a.yaml", "line1\n  {{ .Values.x.y }}")]);
    let e = set
        .execute("chart/templates/a.yaml", &mk_data("{}"))
        .expect_err("nil pointer");
    assert!(matches!(e, Error::ExecuteTemplate { .. }));
    assert_eq!(
        e.to_string(),
        "template: chart/templates/a.yaml:2:12: executing \"chart/templates/a.yaml\" at <.Values.x.y>: nil pointer evaluating interface {}.y"
    );
}

#[test]
fn missing_template_error() {
    let set = mk_set(&[]);
    let e = set.execute("nope", &Value::Nil).expect_err("missing");
    assert_eq!(
        e.to_string(),
        "template: no template \"nope\" associated with template \"gotpl\""
    );
}

#[test]
fn include_and_tpl_call_back_into_the_set() {
    let set = mk_set(&[
        (
            "_h.tpl",
            r#"{{ define "name" }}{{ .Values.name | upper }}{{ end }}"#,
        ),
        (
            "main",
            r#"{{ include "name" . }}|{{ tpl "{{ define \"z\" }}Z{{ end }}{{ include \"z\" . }}-{{ .Values.name }}" . }}|{{ include "name" . | lower }}"#,
        ),
    ]);
    let out = set
        .execute("main", &mk_data(r#"{"name":"app"}"#))
        .expect("renders");
    assert_eq!(out, "APP|Z-app|app");
    // The tpl-defined template does not leak out of the tpl call.
    assert!(!set.has_template("z"));
}

#[test]
fn include_error_is_wrapped_like_go() {
    let set = mk_set(&[
        ("_h.tpl", r#"{{ define "bad" }}{{ fail "boom" }}{{ end }}"#),
        ("main", r#"{{ include "bad" . }}"#),
    ]);
    let e = set.execute("main", &Value::Nil).expect_err("fails");
    assert_eq!(
        e.to_string(),
        "template: main:1:3: executing \"main\" at <include \"bad\" .>: error calling include: template: _h.tpl:1:21: executing \"bad\" at <fail \"boom\">: error calling fail: boom"
    );
    let Error::ExecuteTemplate {
        source: Some(src), ..
    } = &e
    else {
        panic!("function error kept as source")
    };
    assert!(src.template_error().is_some());
}

#[derive(Debug)]
struct Files;

impl Object for Files {
    fn type_name(&self) -> &str {
        "chartutil.Files"
    }
    fn method(&self, name: &str) -> Option<Signature> {
        (name == "Get").then(|| Signature::new(&[Ty::String]))
    }
    fn call_method(&self, _name: &str, args: &[Value], _cx: &mut CallContext<'_>) -> FuncResult {
        Ok(Value::from(format!(
            "content of {}",
            args[0].as_str().unwrap_or_default()
        )))
    }
    fn field(&self, name: &str) -> Option<Value> {
        (name == "Count").then_some(Value::Int(2))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[test]
fn host_objects_have_methods_and_fields() {
    let mut top = BTreeMap::new();
    top.insert("Files".to_owned(), Value::object(Files));
    let data = Value::map(top);
    let mut set = TemplateSet::new(FuncMap::new());
    set.parse(
        "t",
        r#"{{ .Files.Get "a.txt" }}|{{ .Files.Count }}|{{ .Files.Get "b" | len }}"#,
    )
    .expect("parses");
    assert_eq!(
        set.execute("t", &data).expect("renders"),
        "content of a.txt|2|12"
    );
    set.parse("e", r#"{{ .Files.Get }}"#).expect("parses");
    let e = set.execute("e", &data).expect_err("arity");
    assert!(
        e.to_string()
            .ends_with("wrong number of args for Get: want 1 got 0"),
        "{e}"
    );
    set.parse("f", r#"{{ .Files.Nope }}"#).expect("parses");
    let e = set.execute("f", &data).expect_err("no field");
    assert!(
        e.to_string()
            .ends_with("can't evaluate field Nope in type interface {}"),
        "{e}"
    );
}

#[test]
fn set_and_merge_mutate_shared_maps_like_go() {
    let out = render(
        r#"{{ $d := dict "a" 1 }}{{ $_ := set $d "b" 2 }}{{ $d }}|{{ $_ := merge .Values.x (dict "n" "y" "k" "new") }}{{ .Values.x }}|{{ $c := deepCopy .Values.x }}{{ $_ := unset $c "k" }}{{ .Values.x.k }}"#,
        r#"{"x": {"k": "v", "z": ""}}"#,
    )
    .expect("renders");
    assert_eq!(out, "map[a:1 b:2]|map[k:v n:y z:]|v");
}

#[test]
fn parse_error_variant() {
    let mut set = TemplateSet::new(FuncMap::new());
    let e = set.parse("p", "{{ if }}").expect_err("bad");
    assert!(matches!(e, Error::ParseTemplate { .. }));
    assert_eq!(e.to_string(), "template: p:1: missing value for if");
    assert!(err("{{ nofunc }}").contains("function \"nofunc\" not defined"));
}

/// Found by the `template` fuzz target: a `block` that fails to parse inside a `range` left the
/// range depth at the block's 0, and the enclosing `range` then counted itself out below zero
/// (an overflow panic in debug builds, a wrapped counter in release).
#[test]
fn block_parse_error_inside_range_is_an_error() {
    for src in [
        "{{range .}}{{block \"b\" .}}{{end",
        "{{range .}}{{block \"b\" .}}{{else}}{{end}}{{end}}",
        "{{range .}}{{block \"b\" .}}{{break}}",
    ] {
        let e = err(src);
        assert!(e.starts_with("template: t:1: "), "{src:?}: {e}");
    }
    assert_eq!(
        ok("{{range list 1 2}}{{block \"b\" .}}[{{.}}]{{end}}{{break}}{{end}}"),
        "[1]"
    );
}

#[test]
fn values_json_numbers_are_floats_like_helm() {
    assert_eq!(
        render(
            "{{ .Values.n }} {{ printf \"%T\" .Values.n }}",
            r#"{"n": 1000000}"#
        )
        .as_deref(),
        Ok("1e+06 float64")
    );
    let j: serde_json::Value = serde_json::from_str(r#"{"n": 3, "f": 1.5}"#).expect("json");
    let v = Value::from(&j);
    assert_eq!(v.get("n"), Some(Value::Int(3)));
    assert_eq!(v.get("f"), Some(Value::Float(1.5)));
    assert_eq!(serde_json::Value::from(&Value::Float(3.0)).to_string(), "3");
}

#[test]
fn go_json_output() {
    let v =
        Value::from(&serde_json::json!({"b": [1, 2.5, null], "a": "<&>", "e": 1e21, "s": 1e-7}));
    let mut out = String::new();
    v.write_go_json(&mut out);
    assert_eq!(
        out,
        r#"{"a":"\u003c\u0026\u003e","b":[1,2.5,null],"e":1e+21,"s":1e-7}"#
    );
}

#[test]
fn deep_template_recursion_is_bounded() {
    let mut set = mk_set(&[(
        "r",
        r#"{{ define "loop" }}{{ template "loop" . }}{{ end }}{{ template "loop" . }}"#,
    )]);
    set.set_max_depth(50);
    let e = set.execute("r", &Value::Nil).expect_err("too deep");
    assert!(
        e.to_string()
            .ends_with("exceeded maximum template depth (50)"),
        "{e}"
    );
    assert_eq!(ok("{{ 1 }}"), "1");
}

#[test]
fn sprig_names_registered() {
    let f = crate::sprig::sprig_funcs();
    // Sprig's function names as of the version Helm 3.17 ships, minus `env`/`expandenv` (Helm
    // removes them).
    let mut missing: Vec<&str> = SPRIG_NAMES
        .split_whitespace()
        .filter(|n| !f.contains(n))
        .collect();
    missing.sort_unstable();
    assert!(missing.is_empty(), "missing: {missing:?}");
}

const SPRIG_NAMES: &str = "hello ago date date_in_zone date_modify dateInZone dateModify duration durationRound \
    htmlDate htmlDateInZone must_date_modify mustDateModify mustToDate now toDate unixEpoch \
    abbrev abbrevboth trunc trim upper lower title untitle substr repeat trimall trimAll \
    trimSuffix trimPrefix nospace initials randAlphaNum randAlpha randAscii randNumeric \
    swapcase shuffle snakecase camelcase kebabcase wrap wrapWith contains hasPrefix hasSuffix \
    quote squote cat indent nindent replace plural sha1sum sha256sum adler32sum toString atoi \
    int64 int float64 seq toDecimal split splitList splitn toStrings until untilStep add1 add \
    sub div mod mul randInt add1f addf subf divf mulf biggest max min maxf minf ceil floor \
    round join sortAlpha default empty coalesce all any compact mustCompact fromJson toJson \
    toPrettyJson toRawJson mustFromJson mustToJson mustToPrettyJson mustToRawJson ternary \
    deepCopy mustDeepCopy typeOf typeIs typeIsLike kindOf kindIs deepEqual getHostByName base \
    dir clean ext isAbs osBase osClean osDir osExt osIsAbs b64enc b64dec b32enc b32dec tuple \
    list dict get set unset hasKey pluck keys pick omit merge mergeOverwrite mustMerge \
    mustMergeOverwrite values append push mustAppend mustPush prepend mustPrepend first \
    mustFirst rest mustRest last mustLast initial mustInitial reverse mustReverse uniq \
    mustUniq without mustWithout has mustHas slice mustSlice concat dig chunk mustChunk bcrypt \
    htpasswd genPrivateKey derivePassword buildCustomCert genCA genCAWithKey genSelfSignedCert \
    genSelfSignedCertWithKey genSignedCert genSignedCertWithKey encryptAES decryptAES \
    randBytes uuidv4 semver semverCompare fail regexMatch mustRegexMatch regexFindAll \
    mustRegexFindAll regexFind mustRegexFind regexReplaceAll mustRegexReplaceAll \
    regexReplaceAllLiteral mustRegexReplaceAllLiteral regexSplit mustRegexSplit regexQuoteMeta \
    urlParse urlJoin sha512sum";

#[test]
fn include_recursion_depth_fits_default_stack() {
    // Helm stops runaway `include` recursion after 1000 nested calls; the engine must get that
    // deep on an ordinary 8 MiB thread stack (debug build) and fail cleanly past its own limit.
    let run = || {
        let set = mk_set(&[(
            "r",
            r#"{{ define "down" }}{{ if gt (int .) 0 }}{{ include "down" (sub (int .) 1) | trim }}{{ else }}bottom{{ end }}{{ end }}{{ include "down" 1100 }}|{{ include "down" 99999 }}"#,
        )]);
        set.execute("r", &Value::Nil)
    };
    let handle = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(run)
        .expect("spawn");
    let e = handle
        .join()
        .expect("no stack overflow")
        .expect_err("depth limit");
    assert!(
        e.to_string()
            .ends_with("exceeded maximum template depth (2000)"),
        "{e}"
    );
}

#[test]
fn sets_and_values_are_thread_safe() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TemplateSet>();
    assert_send_sync::<Value>();
    assert_send_sync::<FuncMap>();
    let set = mk_set(&[("t", "{{ .Values.n | add 1 }}")]);
    let data = mk_data(r#"{"n": 41}"#);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| set.execute("t", &data)))
            .collect();
        for h in handles {
            assert_eq!(h.join().expect("joined").expect("renders"), "42");
        }
    });
}

#[test]
fn self_containing_map_does_not_overflow() {
    let set = mk_set(&[(
        "t",
        r#"{{ $m := dict "a" 1 }}{{ $_ := set $m "self" $m }}{{ $c := deepCopy $m }}{{ len (printf "%v" $m) | lt 10 }} {{ len (toJson $m) | lt 10 }}"#,
    )]);
    let out = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || set.execute("t", &Value::Nil))
        .expect("spawn")
        .join()
        .expect("no overflow")
        .expect("renders");
    assert_eq!(out, "true true");
}

/// The same text in several files (a library vendored by several subcharts) is parsed once;
/// each copy still reports its own file in errors and in `template` calls.
#[test]
fn identical_texts_share_a_parse_but_keep_their_file_names() {
    let lib = "{{ define \"lib.x\" }}{{ .Values.a.b }}{{ end }}{{ .Values.a.b }}";
    let set = mk_set(&[("one/_lib.tpl", lib), ("two/_lib.tpl", lib)]);
    assert_eq!(
        set.parsed.texts().by_text_len(),
        1,
        "one parse for both copies"
    );
    for file in ["one/_lib.tpl", "two/_lib.tpl"] {
        let e = set.execute(file, &mk_data("{}")).expect_err("nil pointer");
        assert_eq!(
            e.to_string(),
            format!(
                "template: {file}:1:56: executing \"{file}\" at <.Values.a.b>: nil pointer evaluating interface {{}}.b"
            )
        );
    }
    // The later copy's `define` wins, and it reports the later file.
    let e = set
        .execute("lib.x", &mk_data("{}"))
        .expect_err("nil pointer");
    assert!(
        e.to_string().starts_with("template: two/_lib.tpl:1:30: "),
        "{e}"
    );
}

/// A text that defines a template named like its own file depends on that name (Go keeps the
/// non-empty one of the two): it is not reused for another file.
#[test]
fn a_text_defining_its_own_file_name_is_parsed_for_each_name() {
    let text = "{{ define \"a\" }}defined{{ end }}";
    let set = mk_set(&[("a", text), ("b", text)]);
    assert_eq!(set.execute("a", &Value::Nil).expect("renders"), "defined");
    assert_eq!(set.execute("b", &Value::Nil).expect("renders"), "");
    let fresh = mk_set(&[("b", text)]);
    assert_eq!(fresh.execute("b", &Value::Nil).expect("renders"), "");
}

/// `tpl` of the same text again reuses its parse and renders with each call's data.
#[test]
fn tpl_of_the_same_text_renders_each_time() {
    let set = mk_set(&[(
        "main",
        r#"{{ range list "x" "y" }}{{ tpl "<{{ . }}>" . }}{{ end }}"#,
    )]);
    assert_eq!(set.execute("main", &Value::Nil).expect("renders"), "<x><y>");
}

#[test]
fn borrowed_bytes_make_the_same_go_string_as_owned_ones() {
    let cases: [&[u8]; 5] = [
        b"",
        b"plain text\n",
        "caf\u{e9} \u{2603}".as_bytes(),
        b"\xff\xfe bin",
        b"ok \xe2\x98",
    ];
    for bytes in cases {
        let borrowed = Value::from_byte_slice(bytes);
        let owned = Value::from_bytes(bytes.to_vec());
        assert_eq!(
            borrowed.as_bytes(),
            Some(bytes),
            "exact bytes kept: {bytes:?}"
        );
        assert_eq!(borrowed.as_str(), owned.as_str(), "same text: {bytes:?}");
        assert_eq!(
            matches!(borrowed, Value::String(_)),
            std::str::from_utf8(bytes).is_ok(),
            "a plain string exactly when the bytes are UTF-8: {bytes:?}"
        );
    }
}
