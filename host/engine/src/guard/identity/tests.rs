use serde_json::{Value, json};

use super::*;
use crate::guard::tests::Rng;

const SCALARS: &[&str] = &[
    r#""v1""#,
    r#""""#,
    r#""team-a""#,
    r#""kube-system""#,
    "5",
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
    format!("{{{}}}", entries.join(","))
}

#[test]
fn reading_text_keeps_what_reading_the_value_keeps() {
    for case in 0..20_000u64 {
        let mut rng = Rng(case.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let text = mk_text(&mut rng, 0);
        let value: Value = serde_json::from_str(&text).expect("generated JSON");
        assert_eq!(
            identity_of_text(&text),
            identity_of(&value),
            "case {case}: {text}"
        );
    }
}

#[test]
fn only_identity_and_ownership_are_kept_and_the_last_repeat_wins() {
    let text = r#"{"apiVersion":"v1","data":{"k":"v"},"kind":"ConfigMap",
        "metadata":{"name":"c","namespace":"team-a","labels":{"team":"blue","capstan.dev/name":"web"},
                    "annotations":{"meta.helm.sh/release-name":"web","note":"x"},"uid":"1"},
        "metadata":{"name":"c","namespace":"kube-system","labels":{"capstan.dev/name":"web","capstan.dev/name":"other"}}}"#;
    let expected = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "kube-system", "labels": {"capstan.dev/name": "other"}}});
    assert_eq!(identity_of_text(text), expected);
    let value: Value = serde_json::from_str(text).expect("JSON");
    assert_eq!(identity_of(&value), expected);
    // Metadata that is not an object has no name: the guard refuses it as it refuses the value.
    assert_eq!(
        identity_of_text(
            r#"{"apiVersion":"v1","kind":"C","metadata":{"name":"c"},"metadata":[1]}"#
        ),
        json!({"apiVersion": "v1", "kind": "C", "metadata": null})
    );
    assert_eq!(identity_of_text("not json"), Value::Null);
}
