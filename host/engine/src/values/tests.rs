//! Values composition in Flux's order, including the cases of Flux's own
//! `TestChartValuesFromReferences`.

use base64::Engine;
use serde_json::{Value, json};

use super::*;
use capstan_api::{HelmReleaseSpec, Inputs, ValuesKind, ValuesReference};

use crate::InputsLookup;

fn mk_release(values_from: Vec<ValuesReference>, values: Option<Value>) -> HelmRelease {
    let mut hr = HelmRelease::new(
        "web",
        HelmReleaseSpec {
            values_from,
            values,
            ..Default::default()
        },
    );
    hr.metadata.namespace = Some("apps".into());
    hr
}

fn mk_ref(kind: ValuesKind, name: &str) -> ValuesReference {
    ValuesReference {
        kind,
        name: name.into(),
        ..Default::default()
    }
}

fn mk_config_map(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "apps"}, "data": data})
}

fn mk_secret(name: &str, data: &[(&str, &str)]) -> Value {
    let encoded: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| {
            (
                (*k).to_owned(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(v)),
            )
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "apps"}, "data": encoded})
}

/// Composes with `objects` as the ConfigMaps and Secrets that exist.
fn compose_from(hr: &HelmRelease, objects: &[Value]) -> Result<ComposedValues, ValuesError> {
    let inputs = Inputs {
        values_objects: objects.to_vec(),
        ..Inputs::default()
    };
    compose_values(hr, &InputsLookup::new(&inputs, "apps"))
}

fn compose(hr: &HelmRelease, objects: &[Value]) -> Value {
    Value::Object(compose_from(hr, objects).expect("composes").values)
}

#[test]
fn merges_in_order_with_inline_values_last() {
    let objects = [
        mk_config_map(
            "values",
            json!({"values.yaml": "flat: value\nnested:\n  configuration: value\n"}),
        ),
        mk_secret(
            "values",
            &[("values.yaml", "flat:\n  nested: value\nnested: value\n")],
        ),
    ];
    let hr = mk_release(
        vec![
            mk_ref(ValuesKind::ConfigMap, "values"),
            mk_ref(ValuesKind::Secret, "values"),
        ],
        Some(json!({"other": "values"})),
    );
    assert_eq!(
        compose(&hr, &objects),
        json!({"flat": {"nested": "value"}, "nested": "value", "other": "values"})
    );
}

#[test]
fn target_path_sets_a_single_value() {
    let objects = [mk_secret("values", &[("single", "value")])];
    let hr = mk_release(
        vec![ValuesReference {
            values_key: Some("single".into()),
            target_path: Some("merge.at.specific.path".into()),
            ..mk_ref(ValuesKind::Secret, "values")
        }],
        None,
    );
    assert_eq!(
        compose(&hr, &objects),
        json!({"merge": {"at": {"specific": {"path": "value"}}}})
    );
}

#[test]
fn target_path_takes_precedence_over_everything() {
    let objects = [
        mk_config_map(
            "values",
            json!({"values.yaml": "flat: value\nnested:\n  configuration:\n  - one\n  - two\n  - three\n"}),
        ),
        mk_secret("values", &[("key", "value")]),
    ];
    let hr = mk_release(
        vec![
            ValuesReference {
                values_key: Some("key".into()),
                target_path: Some("nested.configuration[0]".into()),
                ..mk_ref(ValuesKind::Secret, "values")
            },
            mk_ref(ValuesKind::ConfigMap, "values"),
        ],
        Some(json!({"nested": {"configuration": ["list", "item", "option"]}})),
    );
    assert_eq!(
        compose(&hr, &objects),
        json!({"flat": "value", "nested": {"configuration": ["value", "item", "option"]}})
    );
}

#[test]
fn target_path_into_a_list_item() {
    let objects = [
        mk_config_map(
            "values",
            json!({"values.yaml": "flat: value\nnested:\n  configuration:\n  - list\n  - item\n  - option\n"}),
        ),
        mk_secret("values", &[("values.yaml", "foo")]),
    ];
    let hr = mk_release(
        vec![
            mk_ref(ValuesKind::ConfigMap, "values"),
            ValuesReference {
                target_path: Some("nested.configuration[1]".into()),
                ..mk_ref(ValuesKind::Secret, "values")
            },
        ],
        Some(json!({"other": "values"})),
    );
    assert_eq!(
        compose(&hr, &objects),
        json!({"flat": "value", "nested": {"configuration": ["list", "foo", "option"]}, "other": "values"})
    );
}

#[test]
fn lists_are_replaced_not_merged() {
    let objects = [mk_config_map(
        "a",
        json!({"values.yaml": "l: [1, 2]\nm: {x: 1}"}),
    )];
    let hr = mk_release(
        vec![mk_ref(ValuesKind::ConfigMap, "a")],
        Some(json!({"l": [3], "m": {"y": 2}})),
    );
    assert_eq!(
        compose(&hr, &objects),
        json!({"l": [3.0], "m": {"x": 1.0, "y": 2.0}}),
        "numbers arrive as float64, as Flux decodes them"
    );
}

#[test]
fn missing_required_objects_and_keys_are_errors_naming_everything() {
    let hr = mk_release(vec![mk_ref(ValuesKind::Secret, "missing")], None);
    let err = compose_from(&hr, &[]).expect_err("missing secret");
    assert_eq!(
        err.to_string(),
        "HelmRelease apps/web: spec.valuesFrom[0]: Secret apps/missing not found"
    );
    let objects = [mk_config_map("values", json!({}))];
    let hr = mk_release(
        vec![ValuesReference {
            values_key: Some("nonexisting".into()),
            ..mk_ref(ValuesKind::ConfigMap, "values")
        }],
        None,
    );
    let err = compose_from(&hr, &objects).expect_err("missing key");
    assert_eq!(
        err.to_string(),
        "HelmRelease apps/web: spec.valuesFrom[0]: ConfigMap apps/values has no key \"nonexisting\""
    );
}

#[test]
fn optional_references_are_skipped_with_a_warning() {
    let objects = [mk_config_map("present", json!({"other.yaml": "a: 1"}))];
    let hr = mk_release(
        vec![
            ValuesReference {
                optional: true,
                ..mk_ref(ValuesKind::ConfigMap, "missing")
            },
            ValuesReference {
                optional: true,
                ..mk_ref(ValuesKind::ConfigMap, "present")
            },
        ],
        Some(json!({"b": 2})),
    );
    let composed = compose_from(&hr, &objects).expect("composes");
    assert_eq!(Value::Object(composed.values), json!({"b": 2.0}));
    assert_eq!(composed.warnings.len(), 2);
    assert_eq!(composed.warnings[0].path, "spec.valuesFrom[0]");
    assert!(composed.warnings[0].message.contains("not found"));
    assert!(
        composed.warnings[1]
            .message
            .contains("no key \"values.yaml\"")
    );
}

#[test]
fn invalid_values_documents_are_errors() {
    let objects = [mk_config_map("values", json!({"values.yaml": "\ninvalid"}))];
    let hr = mk_release(vec![mk_ref(ValuesKind::ConfigMap, "values")], None);
    let err = compose_from(&hr, &objects).expect_err("not a map");
    assert!(
        err.to_string().contains("values must be a YAML map"),
        "{err}"
    );
    let bad_secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "s", "namespace": "apps"}, "data": {"values.yaml": "%%%"}});
    let hr = mk_release(vec![mk_ref(ValuesKind::Secret, "s")], None);
    let err = compose_from(&hr, &[bad_secret]).expect_err("bad base64");
    assert!(matches!(err, ValuesError::DecodeSecret { .. }), "{err}");
}

#[test]
fn secret_string_data_objects_from_other_namespaces_and_unnamespaced_files() {
    let string_data = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "stringData": {"values.yaml": "from: stringData"}});
    let other_ns = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "elsewhere"}, "data": {"values.yaml": "x: 1"}});
    let hr = mk_release(vec![mk_ref(ValuesKind::Secret, "s")], None);
    assert_eq!(compose(&hr, &[string_data]), json!({"from": "stringData"}));
    let hr = mk_release(vec![mk_ref(ValuesKind::ConfigMap, "c")], None);
    assert!(compose_from(&hr, &[other_ns]).is_err());
}

#[test]
fn empty_release_gives_an_empty_map() {
    let hr = mk_release(vec![], None);
    assert_eq!(compose(&hr, &[]), json!({}));
}
