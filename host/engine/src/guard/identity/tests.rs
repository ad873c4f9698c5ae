use serde_json::{Map, Value, json};

use super::*;
use crate::guard::tests::Rng;

/// What an identity holds, read from a value the plain way: the oracle the readers are held to.
/// `apiVersion`, `kind`, the name and the namespace only when they are strings; ownership values
/// as strings, a value that is not one as its JSON text (what a census reads of each).
fn pick(level: usize, value: &Value) -> Value {
    let Some(map) = value.as_object() else {
        return Value::Null;
    };
    let mut kept = Map::new();
    for (key, value) in map {
        let below = match (level, key.as_str()) {
            (0, "apiVersion" | "kind") | (1, "name" | "namespace") => {
                if value.is_string() {
                    kept.insert(key.clone(), value.clone());
                }
                continue;
            }
            (0, "metadata") => 1,
            (1, "labels") => 2,
            (1, "annotations") => 3,
            (2 | 3, key)
                if OWNERSHIP.iter().any(|&(field, k)| {
                    k == key && (field == MetadataField::Label) == (level == 2)
                }) =>
            {
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                kept.insert(key.to_owned(), Value::String(text));
                continue;
            }
            _ => continue,
        };
        let read = pick(below, value);
        // Labels and annotations without ownership keys are left out.
        if below >= 2 && read.as_object().is_none_or(Map::is_empty) {
            continue;
        }
        kept.insert(key.clone(), read);
    }
    Value::Object(kept)
}

const SCALARS: &[&str] = &[
    r#""v1""#,
    r#""""#,
    r#""team-a""#,
    r#""kube-system""#,
    r#""te\u0061m-a""#,
    r#""a\"b\\c\n\/é""#,
    "5",
    "100",
    "100.0",
    "-1.5e3",
    "null",
    "true",
    "[]",
    r#"[{"a":1},"b"]"#,
    "{}",
];

/// A JSON object as text, at `level`, with keys repeated, escaped and of every type.
fn mk_text(rng: &mut Rng, level: usize) -> String {
    const KEYS: &[&[&str]] = &[
        &[
            "apiVersion",
            "kind",
            "metadata",
            "spec",
            "zz",
            r#"k\u0069nd"#,
        ],
        &[
            "name",
            "namespace",
            "labels",
            "annotations",
            "x",
            r#"n\u0061mespace"#,
        ],
        &[
            "capstan.dev/name",
            r#"capstan.dev\/name"#,
            "capstan.dev/namespace",
            "meta.helm.sh/release-name",
            "helm.toolkit.fluxcd.io/name",
            "team",
        ],
    ];
    let entries: Vec<String> = (0..rng.below(7))
        .map(|_| {
            let key = rng.pick(KEYS[level]);
            let value = if level < 2 && rng.below(3) > 0 {
                mk_text(rng, level + 1)
            } else {
                rng.pick(SCALARS).to_owned()
            };
            format!(r#""{key}":{value}"#)
        })
        .collect();
    // Now and then with whitespace, as text that is not serde_json's own can have.
    let separator = if rng.below(4) == 0 { " , " } else { "," };
    format!("{{{}}}", entries.join(separator))
}

#[test]
fn reading_text_keeps_what_reading_the_value_keeps() {
    for case in 0..20_000u64 {
        let mut rng = Rng(case.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let text = mk_text(&mut rng, 0);
        let value: Value = serde_json::from_str(&text).expect("generated JSON");
        let identity = identity_of_text(&text);
        assert_eq!(identity, identity_of(&value), "case {case}: {text}");
        // What the census reads is what the oracle keeps, written as serde_json writes it, so
        // an identity read from a value and from any text of it compare equal.
        let expected = pick(0, &value);
        assert_eq!(identity.to_value(), expected, "case {case}: {text}");
        assert_eq!(
            identity.as_str(),
            expected.to_string(),
            "case {case}: {text}"
        );
        assert_eq!(
            identity_of_text(&value.to_string()),
            identity,
            "case {case}"
        );
    }
}

#[test]
fn reading_a_checked_head_keeps_what_reading_the_whole_text_keeps() {
    let mut checked = 0;
    for case in 0..20_000u64 {
        let mut rng = Rng(case.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let text = mk_text(&mut rng, 0);
        match capstan_wasm::check_json_object_head(&text) {
            Ok(head) => {
                checked += 1;
                assert_eq!(
                    identity_of_head(&head),
                    identity_of_text(&text),
                    "case {case}: {text}"
                );
            }
            // Only a repeated top-level key is refused here: every generated text is JSON.
            Err(why) => assert!(why.contains("more than once"), "case {case}: {why}"),
        }
    }
    // About half the generated texts repeat a top-level key.
    assert!(
        checked > 8_000,
        "{checked} of 20,000 texts passed the check"
    );
}

#[test]
fn only_identity_and_ownership_are_kept_and_the_last_repeat_wins() {
    let text = r#"{"apiVersion":"v1","data":{"k":"v"},"kind":"ConfigMap",
        "metadata":{"name":"c","namespace":"team-a","labels":{"team":"blue","capstan.dev/name":"web"},
                    "annotations":{"meta.helm.sh/release-name":"web","note":"x"},"uid":"1"},
        "metadata":{"name":"c","namespace":"kube-system","labels":{"capstan.dev/name":"web","capstan.dev/name":"other"}}}"#;
    let expected = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "kube-system", "labels": {"capstan.dev/name": "other"}}});
    assert_eq!(identity_of_text(text).to_value(), expected);
    assert_eq!(
        identity_of_text(text).as_str(),
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"labels":{"capstan.dev/name":"other"},"name":"c","namespace":"kube-system"}}"#
    );
    let value: Value = serde_json::from_str(text).expect("JSON");
    assert_eq!(identity_of(&value).to_value(), expected);
    // Metadata that is not an object has no name: the guard refuses it as it refuses the value.
    assert_eq!(
        identity_of_text(
            r#"{"apiVersion":"v1","kind":"C","metadata":{"name":"c"},"metadata":[1]}"#
        )
        .to_value(),
        json!({"apiVersion": "v1", "kind": "C", "metadata": null})
    );
    assert_eq!(identity_of_text("not json").as_str(), "null");
    assert_eq!(identity_of_text("[1]"), Identity::default());
}

#[test]
fn an_identity_reads_back_whatever_the_object_nests() {
    // A value nested past serde_json's 128 levels (the YAML reader allows more) in an ownership
    // label and in the name: the identity keeps the label as its JSON text and leaves the name
    // out, so it reads back as a value, as a census needs.
    let mut deep = json!("x");
    for _ in 0..200 {
        deep = json!([deep]);
    }
    let object = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": deep.clone(), "namespace": "team-a",
                     "labels": {"capstan.dev/name": deep.clone(), "team": "blue"}}});
    let identity = identity_of(&object);
    assert_eq!(
        identity.to_value(),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"namespace": "team-a", "labels": {"capstan.dev/name": deep.to_string()}}})
    );
}
